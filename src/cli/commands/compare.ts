// `batch compare [A [B]]`: two runs side by side, step by step. A and B are run ids (or
// unique prefixes), `latest`, `previous`, or a git commit; default: previous against latest.
import { commitCell, csv, iso, ms, ratio, signedMs, table, when } from '../format.js';
import { compareRuns, type CompareSide } from '../../history/compare.js';
import { outputMode, withReadStore } from '../read-store.js';
import type { RunRecord } from '../../store/types.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

function sideText(x: CompareSide | undefined): string {
  if (!x) return 'absent';
  const t = x.action === 'ran' || x.action === 'restored' ? ` ${ms(x.durationMs)}` : '';
  return `${x.status} ${x.action}${t}`;
}

function runLine(label: string, r: RunRecord): string {
  return `${label}  ${r.id}  ${when(r.startedAt)}  commit ${commitCell(r.git)}  ${r.status}  ${ms(r.durationMs)}  ${r.counts.ran} ran, ${r.counts.upToDate + r.counts.restored} skipped, ${r.counts.failed + r.counts.blocked} failed${r.flags.length ? `  ${r.flags.join(' ')}` : ''}`;
}

export default async function compareCommand(args: Args, io: Io): Promise<number> {
  const mode = outputMode(args);
  if (args.positionals.length > 2) throw new BatchError('`batch compare` takes two runs: `batch compare A B` (ids, latest, previous, or a git commit)', 2);
  const [refA, refB] = args.positionals.length === 0 ? ['previous', 'latest'] : args.positionals.length === 1 ? [args.positionals[0]!, 'latest'] : [args.positionals[0]!, args.positionals[1]!];
  return withReadStore(args, (store) => {
    const c = compareRuns(store, refA, refB);
    if (mode === 'json') {
      const runJson = (r: RunRecord): object => ({ id: r.id, startedAt: iso(r.startedAt), status: r.status, durationMs: r.durationMs, ...(r.git ? { git: r.git } : {}), flags: r.flags, counts: r.counts });
      io.out.write(`${JSON.stringify({ a: runJson(c.a), b: runJson(c.b), steps: c.rows.map((r) => ({ step: r.step, a: r.a ?? null, b: r.b ?? null, deltaMs: r.deltaMs ?? null, ratio: r.ratio ?? null })) }, null, 2)}\n`);
      return 0;
    }
    if (mode === 'csv') {
      io.out.write(csv(
        ['step', 'a_run', 'a_status', 'a_action', 'a_ms', 'b_run', 'b_status', 'b_action', 'b_ms', 'delta_ms', 'ratio'],
        c.rows.map((r) => [r.step, c.a.id, r.a?.status, r.a?.action, r.a?.durationMs, c.b.id, r.b?.status, r.b?.action, r.b?.durationMs, r.deltaMs, r.ratio === undefined ? undefined : Number(r.ratio.toFixed(4))]),
      ));
      return 0;
    }
    const s = io.style;
    io.say(runLine('A', c.a));
    io.say(runLine('B', c.b));
    io.say('');
    const changed = (i: number): boolean => {
      const r = c.rows[i]!;
      return r.a?.status !== r.b?.status || r.a?.action !== r.b?.action;
    };
    io.say(table(
      [{ head: 'STEP' }, { head: 'A', paint: (x, i) => (changed(i) ? s.yellow(x) : x) }, { head: 'B', paint: (x, i) => (changed(i) ? s.yellow(x) : x) }, { head: 'B − A', right: true }, { head: 'B / A', right: true }],
      c.rows.map((r) => [r.step, sideText(r.a), sideText(r.b), signedMs(r.deltaMs), ratio(r.ratio)]),
      s,
    ));
    const both = c.rows.filter((r) => r.deltaMs !== undefined);
    const sum = both.reduce((t, r) => t + r.deltaMs!, 0);
    io.say(s.dim(`B − A over the ${both.length} step${both.length === 1 ? '' : 's'} that ran and passed in both: ${signedMs(sum)}; whole run: ${signedMs(c.b.durationMs - c.a.durationMs)}.`));
    return 0;
  });
}
