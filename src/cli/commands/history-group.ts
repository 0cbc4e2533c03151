// `batch history STEP` for a forEach step: its instances (STEP:KEY) grouped, one line each.
import { isTiming, listRuns, resultsOf, stepSeries } from '../../history/query.js';
import { median } from '../../history/stats.js';
import type { Store } from '../../store/store.js';
import type { Io } from '../../report/io.js';
import { ms, table, when } from '../format.js';

/** The instances of `step` in the newest run that has any (none: an empty list). */
export function instancesOf(store: Store, step: string): string[] {
  const prefix = `${step}:`;
  for (const run of listRuns(store, { limit: 50 })) {
    const names = resultsOf(store, run.id).map((r) => r.name).filter((n) => n.startsWith(prefix));
    if (names.length > 0) return names;
  }
  return [];
}

export function groupHistory(store: Store, io: Io, mode: string, step: string, instances: string[], limit: number): number {
  const rows = instances.map((name) => {
    const { samples } = stepSeries(store, name, { limit });
    const passed = samples.filter(isTiming).map((s) => s.durationMs);
    return { name, executions: samples.length, medianMs: median(passed), latest: samples[0] };
  });
  if (mode === 'json') {
    io.out.write(`${JSON.stringify({ step, instances: rows.map((r) => ({ name: r.name, executions: r.executions, medianMs: r.medianMs ?? null, latestRun: r.latest?.runId ?? null, latestStatus: r.latest?.status ?? null })) }, null, 2)}\n`);
    return 0;
  }
  io.say(`${io.style.bold(step)} (forEach): ${instances.length} instance${instances.length === 1 ? '' : 's'} in the newest run that had them; \`batch history ${step}:KEY\` for one`);
  io.say(table(
    [{ head: 'INSTANCE' }, { head: 'EXECUTIONS', right: true }, { head: 'MEDIAN', right: true }, { head: 'LATEST' }, { head: 'STATUS' }],
    rows.map((r) => [r.name, String(r.executions), ms(r.medianMs), r.latest ? when(r.latest.startedAt) : '-', r.latest?.status ?? '-']),
    io.style,
  ));
  return 0;
}
