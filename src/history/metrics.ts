// Metrics across runs: each run that recorded any (a step with `metrics` ran or was restored),
// the values per step, the params that could move them, and their comparison.
import type { JsonValue, MetricBound } from '../batchfile/types.js';
import type { Store } from '../store/store.js';
import type { RunRecord } from '../store/types.js';
import { canonicalJson } from '../util/json.js';
import { BatchError } from '../util/errors.js';
import { resolveRun } from './query.js';

export interface MetricRun {
  run: RunRecord;
  /** step → metric → value. */
  metrics: Map<string, Record<string, number>>;
  /** `file:key` / `step:key` → value, over every step that recorded metrics in the run. */
  params: Record<string, JsonValue>;
}

function mayHoldMetrics(run: RunRecord): boolean {
  return run.status === 'INTERRUPTED' || run.counts.ran + run.counts.restored > 0;
}

/** The metrics a run recorded, or undefined when it recorded none. */
export function metricRunOf(store: Store, run: RunRecord): MetricRun | undefined {
  if (!mayHoldMetrics(run)) return undefined;
  const metrics = new Map<string, Record<string, number>>();
  const params: Record<string, JsonValue> = {};
  for (const { value: r } of store.results.getRange({ start: [run.id], end: [run.id, '\uffff'] })) {
    if (!r.metrics || r.status !== 'PASS') continue;
    metrics.set(r.name, r.metrics);
    Object.assign(params, r.params ?? {});
  }
  return metrics.size > 0 ? { run, metrics, params } : undefined;
}

/** Runs that recorded metrics, newest first (at most `limit`, looking at up to `maxRuns` runs). */
export function metricRuns(store: Store, opts: { limit: number; maxRuns?: number; before?: string }): MetricRun[] {
  const out: MetricRun[] = [];
  let scanned = 0;
  const range = store.runs.getRange({ reverse: true, ...(opts.before !== undefined ? { start: opts.before, exclusiveStart: true } : {}) });
  for (const { value: run } of range) {
    if (opts.maxRuns !== undefined && ++scanned > opts.maxRuns) break;
    const m = metricRunOf(store, run);
    if (m) out.push(m);
    if (out.length >= opts.limit) break;
  }
  return out;
}

/** `latest` and `previous` name the newest two runs that recorded metrics; anything else is
 * resolved as `batch compare` does (run id, id prefix, git commit). */
export function resolveMetricRun(store: Store, ref: string): MetricRun {
  if (ref === 'latest' || ref === 'previous') {
    const runs = metricRuns(store, { limit: 2 });
    const m = ref === 'latest' ? runs[0] : runs[1];
    if (!m) throw new BatchError(`There is no ${ref} run with metrics: ${runs.length} recorded metrics (a step with \`metrics\` records them when it runs).`, 2);
    return m;
  }
  const run = resolveRun(store, ref);
  const m = metricRunOf(store, run);
  if (!m) throw new BatchError(`Run ${run.id} recorded no metrics (no step with \`metrics\` ran in it).`, 2);
  return m;
}

export interface MetricDiffRow {
  step: string;
  metric: string;
  old?: number;
  new?: number;
  change?: number;
}

export interface ParamDiffRow {
  param: string;
  old?: JsonValue;
  new?: JsonValue;
}

/** Every metric of either run (old → new) and the params whose values differ. */
export function diffMetricRuns(a: MetricRun, b: MetricRun): { metrics: MetricDiffRow[]; params: ParamDiffRow[] } {
  const rows: MetricDiffRow[] = [];
  const steps = [...new Set([...a.metrics.keys(), ...b.metrics.keys()])].sort();
  for (const step of steps) {
    const ma = a.metrics.get(step) ?? {};
    const mb = b.metrics.get(step) ?? {};
    for (const metric of [...new Set([...Object.keys(ma), ...Object.keys(mb)])].sort()) {
      const row: MetricDiffRow = { step, metric };
      if (ma[metric] !== undefined) row.old = ma[metric];
      if (mb[metric] !== undefined) row.new = mb[metric];
      if (row.old !== undefined && row.new !== undefined) row.change = row.new - row.old;
      rows.push(row);
    }
  }
  const params: ParamDiffRow[] = [];
  for (const k of [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])].sort()) {
    const va = a.params[k];
    const vb = b.params[k];
    if (va !== undefined && vb !== undefined && canonicalJson(va) === canonicalJson(vb)) continue;
    const row: ParamDiffRow = { param: k };
    if (va !== undefined) row.old = va;
    if (vb !== undefined) row.new = vb;
    params.push(row);
  }
  return { metrics: rows, params };
}

/** Why a metric's value is out of its bounds (undefined: within them). `previous`: the value
 * the run before recorded, for maxDrop and maxRise. */
export function boundBreach(value: number, previous: number | undefined, b: MetricBound): string | undefined {
  if (b.min !== undefined && value < b.min) return `below min ${b.min}`;
  if (b.max !== undefined && value > b.max) return `above max ${b.max}`;
  if (previous !== undefined) {
    const d = value - previous;
    if (b.maxDrop !== undefined && -d > b.maxDrop) return `dropped ${fmtNum(-d)} (more than maxDrop ${b.maxDrop})`;
    if (b.maxRise !== undefined && d > b.maxRise) return `rose ${fmtNum(d)} (more than maxRise ${b.maxRise})`;
  }
  return undefined;
}

/** Numbers as people read them: up to 6 significant digits, no float noise (0.1 + 0.2). */
export function fmtNum(v: number): string {
  return Number(v.toPrecision(6)).toString();
}

export interface MetricTrendRow {
  step: string;
  metric: string;
  latest: number;
  latestRun: string;
  previous?: number;
  change?: number;
  bound?: MetricBound;
  breach?: string;
  /** Values oldest → newest, for sparklines and charts. */
  series: number[];
}

/** Each recorded metric's latest value against the one before it, judged by its bound.
 * `bounds`: declared step name → metric → bound; `declaredOf` maps a recorded step name
 * (an instance's too) to the step that declares it. */
export function metricTrends(runs: readonly MetricRun[], bounds: ReadonlyMap<string, Record<string, MetricBound>>, declaredOf: (step: string) => string): MetricTrendRow[] {
  const series = new Map<string, { step: string; metric: string; values: { v: number; run: string }[] }>();
  for (const m of [...runs].reverse()) {
    for (const [step, vals] of m.metrics) {
      for (const [metric, v] of Object.entries(vals)) {
        const key = `${step}\0${metric}`;
        let s = series.get(key);
        if (!s) series.set(key, (s = { step, metric, values: [] }));
        s.values.push({ v, run: m.run.id });
      }
    }
  }
  const rows: MetricTrendRow[] = [];
  for (const s of series.values()) {
    const last = s.values[s.values.length - 1]!;
    const prev = s.values[s.values.length - 2];
    const row: MetricTrendRow = { step: s.step, metric: s.metric, latest: last.v, latestRun: last.run, series: s.values.map((x) => x.v) };
    if (prev) {
      row.previous = prev.v;
      row.change = last.v - prev.v;
    }
    const bound = bounds.get(declaredOf(s.step))?.[s.metric];
    if (bound) {
      row.bound = bound;
      const why = boundBreach(last.v, prev?.v, bound);
      if (why) row.breach = why;
    }
    rows.push(row);
  }
  return rows.sort((a, b) => (a.step === b.step ? (a.metric < b.metric ? -1 : 1) : a.step < b.step ? -1 : 1));
}
