// `batch metrics [--diff [A B]] [--json|--csv]`: the metrics steps recorded, their change, and
// (with --diff) the params that changed between two runs — dvc metrics diff and params diff.
import type { JsonValue } from '../../batchfile/types.js';
import { csv, table } from '../format.js';
import { diffMetricRuns, fmtNum, metricRuns, metricTrends, resolveMetricRun } from '../../history/metrics.js';
import { outputMode, withReadStore } from '../read-store.js';
import { sparkline } from '../../history/stats.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { declaredBounds } from './metric-bounds.js';

const show = (v: JsonValue | number | undefined): string => (v === undefined ? '—' : typeof v === 'number' ? fmtNum(v) : JSON.stringify(v));
const signed = (v: number | undefined): string => (v === undefined ? '' : v === 0 ? '0' : `${v > 0 ? '+' : ''}${fmtNum(v)}`);

export default async function metricsCommand(args: Args, io: Io): Promise<number> {
  const mode = outputMode(args);
  if (args.diff) return diffCommand(args, io, mode);
  if (args.positionals.length > 0) throw new BatchError('`batch metrics` takes no arguments; `batch metrics --diff [A B]` compares two runs', 2);
  const declared = await declaredBounds(args);
  return withReadStore(args, (store) => {
    const runs = metricRuns(store, { limit: args.limit ?? 30 });
    const rows = metricTrends(runs, declared.bounds, declared.declaredOf);
    if (mode === 'json') {
      io.out.write(`${JSON.stringify({ runs: runs.length, metrics: rows, ...(declared.note ? { note: declared.note } : {}) }, null, 2)}\n`);
      return 0;
    }
    if (mode === 'csv') {
      io.out.write(csv(['step', 'metric', 'value', 'previous', 'change', 'run', 'out_of_bounds'], rows.map((r) => [r.step, r.metric, r.latest, r.previous, r.change, r.latestRun, r.breach])));
      return 0;
    }
    if (rows.length === 0) {
      io.say('No metrics recorded yet (a step with `metrics: [...]` records them each time it runs).');
      return 0;
    }
    const s = io.style;
    io.say(table(
      [{ head: 'STEP' }, { head: 'METRIC' }, { head: 'VALUE', right: true }, { head: 'CHANGE', right: true }, { head: 'RUN' }, { head: 'TREND' }, { head: 'FLAG', paint: (c) => (c.trim() ? s.red(c) : c) }],
      rows.map((r) => [r.step, r.metric, fmtNum(r.latest), signed(r.change), r.latestRun, sparkline(r.series), r.breach ? `OUT OF BOUNDS: ${r.breach}` : '']),
      s,
    ));
    io.say(s.dim(`CHANGE = against the run before that recorded it; ${runs.length} run(s) with metrics looked at. \`batch metrics --diff\` lists the params that changed too.`));
    if (declared.note) io.say(s.yellow(declared.note));
    return 0;
  });
}

async function diffCommand(args: Args, io: Io, mode: 'text' | 'json' | 'csv'): Promise<number> {
  if (args.positionals.length > 2) throw new BatchError('`batch metrics --diff` takes at most two runs: A B (default: previous latest)', 2);
  const [refA, refB] = args.positionals.length === 2 ? args.positionals : args.positionals.length === 1 ? [args.positionals[0]!, 'latest'] : ['previous', 'latest'];
  return withReadStore(args, (store) => {
    const a = resolveMetricRun(store, refA!);
    const b = resolveMetricRun(store, refB!);
    const d = diffMetricRuns(a, b);
    if (mode === 'json') {
      io.out.write(`${JSON.stringify({ a: a.run.id, b: b.run.id, metrics: d.metrics, params: d.params }, null, 2)}\n`);
      return 0;
    }
    if (mode === 'csv') {
      io.out.write(csv(['kind', 'step', 'name', 'old', 'new', 'change'], [
        ...d.metrics.map((r) => ['metric', r.step, r.metric, r.old, r.new, r.change]),
        ...d.params.map((r) => ['param', '', r.param, r.old === undefined ? undefined : JSON.stringify(r.old), r.new === undefined ? undefined : JSON.stringify(r.new), undefined]),
      ]));
      return 0;
    }
    const s = io.style;
    io.say(s.dim(`A = run ${a.run.id}, B = run ${b.run.id}`));
    io.say(table(
      [{ head: 'STEP' }, { head: 'METRIC' }, { head: 'A', right: true }, { head: 'B', right: true }, { head: 'CHANGE', right: true }],
      d.metrics.map((r) => [r.step, r.metric, show(r.old), show(r.new), signed(r.change)]),
      s,
    ));
    io.say('');
    if (d.params.length === 0) io.say('No param changed between the two runs.');
    else io.say(table([{ head: 'PARAM' }, { head: 'A', right: true }, { head: 'B' }], d.params.map((r) => [r.param, show(r.old), show(r.new)]), s));
    return 0;
  });
}
