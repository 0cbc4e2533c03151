// Each step's recent executions, for its duration chart: the step's last CHART_EXECUTIONS
// executions, however many runs lie between them; and its last CHART_EXECUTIONS recorded
// metric values (an execution's, or a restore's), for its metric charts. Runs where nothing
// executed or was restored (no-op runs) are skipped on their run record alone, so they never
// push anything out of a chart; the others are read through the report's per-run cache.
import { executedAny } from '../../history/query.js';
import { judge, RULE } from '../../history/stats.js';
import type { Store } from '../../store/store.js';
import type { RunRecord, StepStatus } from '../../store/types.js';
import type { PastResult, PastRunFiles, RunHead } from './past-runs.js';

/** Executions shown in each step's chart. */
export const CHART_EXECUTIONS = 30;
/** How far back the charts look: at most this many runs in which something executed, and this
 * many runs in all (no-op runs cost one small record each). A step that has not executed within
 * them has no chart. */
export const SCAN_EXECUTING_RUNS = 200;
export const SCAN_RUNS = 2000;

/** One execution of a step (action `ran`). */
export interface Execution {
  runId: string;
  /** When its run started (ms since the epoch). */
  at: number;
  status: StepStatus;
  durationMs: number;
  /** Judged slower than usual against the passed executions before it. */
  slower: boolean;
}

/** Metric values a step recorded in one run (it ran or was restored, and passed). */
export interface MetricPoint {
  runId: string;
  at: number;
  metrics: Record<string, number>;
}

interface Collecting {
  /** Newest first, at most CHART_EXECUTIONS. */
  shown: Execution[];
  /** Passed durations before the shown ones, newest first (for the rule's judgement). */
  before: number[];
  /** Newest first, at most CHART_EXECUTIONS. */
  metrics: MetricPoint[];
  done: boolean;
}

/** A run whose results hold an execution or restored metric values. */
function readable(run: RunRecord): boolean {
  return executedAny(run) || run.counts.restored > 0;
}

function headOf(run: RunRecord): RunHead {
  return { id: run.id, startedAt: run.startedAt, readable: readable(run) };
}

/** The runs to read, newest first: the report's own run, then earlier runs that executed or
 * restored something, within the scan's bounds. */
function* executingRuns(store: Store | undefined, record: RunRecord, heads: Map<string, RunHead> | undefined): Generator<RunHead> {
  yield headOf(record);
  if (!store) return;
  let runs = 0;
  let executing = 0;
  for (const run of heads ? heldHeads(store, record, heads) : earlierHeads(store, record)) {
    if (++runs > SCAN_RUNS || executing >= SCAN_EXECUTING_RUNS) return;
    if (!run.readable) continue;
    executing++;
    yield run;
  }
}

function* earlierHeads(store: Store, record: RunRecord): Generator<RunHead> {
  for (const { value: run } of store.runs.getRange({ reverse: true, start: record.id, exclusiveStart: true })) yield headOf(run);
}

/** earlierHeads for a long-lived process: the keys from the store (a pruned run is gone from
 * them), each record decoded only the first time (earlier runs' records no longer change: the
 * lock is held by one run at a time, and each writes only its own). Keeps the heads this scan
 * went through, for the next. */
function* heldHeads(store: Store, record: RunRecord, heads: Map<string, RunHead>): Generator<RunHead> {
  const seen = new Map<string, RunHead>();
  try {
    for (const id of store.runs.getKeys({ reverse: true, start: record.id, exclusiveStart: true })) {
      let head = heads.get(id);
      if (!head) {
        const run = store.runs.get(id);
        if (!run) continue;
        head = headOf(run);
      }
      seen.set(id, head);
      yield head;
    }
  } finally {
    heads.clear();
    for (const [id, head] of seen) heads.set(id, head);
  }
}

/** Adds one run's result of a step; says whether the step needs nothing further back. */
function add(c: Collecting, run: RunHead, r: PastResult): boolean {
  if (r.metrics && c.metrics.length < CHART_EXECUTIONS) c.metrics.push({ runId: run.id, at: run.startedAt, metrics: r.metrics });
  if (r.action !== 'ran') return false;
  if (c.shown.length < CHART_EXECUTIONS) c.shown.push({ runId: run.id, at: run.startedAt, status: r.status, durationMs: r.durationMs, slower: false });
  else if (r.status === 'PASS') c.before.push(r.durationMs);
  return c.shown.length >= CHART_EXECUTIONS && c.before.length >= RULE.window;
}

/** Judges each passed execution against the passed ones before it (up to RULE.window), the
 * way `batch history STEP` does, and returns the shown ones oldest → newest. */
function judged(c: Collecting): Execution[] {
  const oldestFirst = c.shown.reverse();
  const earlier = c.before.slice(0, RULE.window);
  for (const e of oldestFirst) {
    if (e.status !== 'PASS') continue;
    e.slower = judge(e.durationMs, earlier).slower;
    earlier.unshift(e.durationMs);
    if (earlier.length > RULE.window) earlier.pop();
  }
  return oldestFirst;
}

export interface RecentExecutions {
  /** step → its last executions, oldest → newest (steps with none are absent). */
  byStep: Map<string, Execution[]>;
  /** step → its last recorded metric values, oldest → newest (steps with none are absent). */
  metrics: Map<string, MetricPoint[]>;
  /** The earlier runs that were read (their cache files are kept). */
  runsRead: string[];
}

/** The last CHART_EXECUTIONS executions of each of `steps`; `mine` are the report's own
 * run's results, earlier runs come from `cache`. */
export function recentExecutions(opts: { store?: Store; record: RunRecord; mine: PastResult[]; cache: PastRunFiles; steps: readonly string[] }): RecentExecutions {
  const wanted = new Map<string, Collecting>(opts.steps.map((s) => [s, { shown: [], before: [], metrics: [], done: false }]));
  let open = wanted.size;
  const runsRead: string[] = [];
  let first = true;
  for (const run of executingRuns(opts.store, opts.record, opts.cache.heads)) {
    if (open === 0) break;
    let results = opts.mine;
    if (!first) {
      results = opts.cache.get(run.id);
      runsRead.push(run.id);
    }
    first = false;
    for (const r of results) {
      const c = wanted.get(r.name);
      if (!c || c.done) continue;
      if (add(c, run, r)) {
        c.done = true;
        open--;
      }
    }
  }
  const byStep = new Map<string, Execution[]>();
  const metrics = new Map<string, MetricPoint[]>();
  for (const [step, c] of wanted) {
    if (c.shown.length > 0) byStep.set(step, judged(c));
    if (c.metrics.length > 0) metrics.set(step, c.metrics.reverse());
  }
  return { byStep, metrics, runsRead };
}
