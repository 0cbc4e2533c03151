// Read-only queries over the run store: the runs, each run's step results, and the samples
// the statistics use. Run ids sort by time, so "newest first" is a reverse key scan.
import type { Store } from '../store/store.js';
import { upToDateResult, type RunRecord, type StepResult, type StepStatus } from '../store/types.js';
import { BatchError } from '../util/errors.js';

/** Runs newest first; `before` excludes that run id and everything after it. */
export function listRuns(store: Store, opts: { limit?: number; before?: string } = {}): RunRecord[] {
  const out: RunRecord[] = [];
  const range = store.runs.getRange({ reverse: true, ...(opts.before !== undefined ? { start: opts.before, exclusiveStart: true } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : {}) });
  for (const { value } of range) out.push(value);
  return out;
}

export function countRuns(store: Store): number {
  return store.runs.getKeysCount();
}

/** The step results of one run, in key (name) order: its records in `results` and the
 * steps it found up to date, which the store keeps as lists of names (store.ts). */
export function resultsOf(store: Store, runId: string): StepResult[] {
  const out: StepResult[] = [];
  for (const { value } of store.results.getRange({ start: [runId], end: [runId, '\uffff'] })) out.push(value);
  const names = store.upToDate.names(runId);
  if (names.length === 0) return out;
  const recorded = new Set(out.map((r) => r.name));
  for (const n of names) if (!recorded.has(n)) out.push(upToDateResult(n));
  // The order LMDB keeps keys in (step names are ASCII, where it equals JS string order).
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One step's result in one run, if the run has one. */
export function resultOf(store: Store, runId: string, step: string): StepResult | undefined {
  return store.results.get([runId, step]) ?? (store.upToDate.has(runId, step) ? upToDateResult(step) : undefined);
}

/** One execution of a step that counts for timing statistics. */
export interface Sample {
  runId: string;
  startedAt: number;
  commit?: string;
  dirty?: boolean;
  status: StepStatus;
  durationMs: number;
  cpuMs?: number;
  peakRssBytes?: number;
  bytesRead?: number;
  bytesWritten?: number;
  reason: string;
  logFile?: string;
  /** Run by a worker of the Redis executor (`host:pid`), after this long in the queue. */
  worker?: string;
  queueWaitMs?: number;
}

function sampleOf(run: RunRecord, r: StepResult): Sample {
  const s: Sample = { runId: run.id, startedAt: r.startedAt ?? run.startedAt, status: r.status, durationMs: r.durationMs, reason: r.reason };
  if (run.git) {
    s.commit = run.git.commit;
    s.dirty = run.git.dirty;
  }
  if (r.cpuMs !== undefined) s.cpuMs = r.cpuMs;
  if (r.peakRssBytes !== undefined) s.peakRssBytes = r.peakRssBytes;
  if (r.bytesRead !== undefined) s.bytesRead = r.bytesRead;
  if (r.bytesWritten !== undefined) s.bytesWritten = r.bytesWritten;
  if (r.logFile !== undefined) s.logFile = r.logFile;
  if (r.worker !== undefined) s.worker = r.worker;
  if (r.queueWaitMs !== undefined) s.queueWaitMs = r.queueWaitMs;
  return s;
}

/** Only executions count: up-to-date, restored and not-run results are never samples. */
export function isSample(r: StepResult): boolean {
  return r.action === 'ran';
}

/** Did anything execute in this run? Runs where every step was up to date (or restored)
 * hold no samples, so their results need not be read. A run killed before its record was
 * completed still says INTERRUPTED with zero counts: read those. */
export function executedAny(run: RunRecord): boolean {
  return run.status === 'INTERRUPTED' || run.counts.ran + run.counts.failed > 0;
}

/** Only passed executions feed medians and flags: a failure stops early or times out, and
 * its time says nothing about how long the work takes. */
export function isTiming(s: { status: StepStatus }): boolean {
  return s.status === 'PASS';
}

/** One step's executions, newest first: the last `limit` runs where it ran (pass or fail),
 * and how many runs were looked at. */
export function stepSeries(store: Store, step: string, opts: { limit: number }): { samples: Sample[]; runsScanned: number; seen: boolean } {
  const samples: Sample[] = [];
  let runsScanned = 0;
  let seen = false;
  for (const { value: run } of store.runs.getRange({ reverse: true })) {
    runsScanned++;
    const r = resultOf(store, run.id, step);
    if (!r) continue;
    seen = true;
    if (!isSample(r)) continue;
    samples.push(sampleOf(run, r));
    if (samples.length >= opts.limit) break;
  }
  return { samples, runsScanned, seen };
}

export interface ScanOptions {
  /** Only these steps (default: every step seen). */
  steps?: ReadonlySet<string>;
  /** Start before this run id (exclusive). */
  before?: string;
  /** Stop once every step has this many passed samples (and a whole-pipeline run was seen,
   * so every current step is known). */
  want: number;
  /** Look at no more than this many runs. */
  maxRuns?: number;
}

export interface Scan {
  /** step → executions newest first (failed ones included, marked by status). */
  samples: Map<string, Sample[]>;
  /** Step names in the order of the newest whole-pipeline run, then any others seen. */
  order: string[];
  runsScanned: number;
}

/** Walks runs newest first collecting each step's samples, stopping as early as it can. */
export function scanSamples(store: Store, opts: ScanOptions): Scan {
  const samples = new Map<string, Sample[]>();
  const passed = new Map<string, number>();
  const known = new Set<string>();
  const order: string[] = [];
  let sawFull = false;
  let runsScanned = 0;
  const range = store.runs.getRange({ reverse: true, ...(opts.before !== undefined ? { start: opts.before, exclusiveStart: true } : {}) });
  for (const { value: run } of range) {
    if (opts.maxRuns !== undefined && runsScanned >= opts.maxRuns) break;
    runsScanned++;
    // A run where nothing executed adds no sample (and, unless it is the only kind of run
    // there is, no step the executing runs do not list too).
    if (!executedAny(run) && (sawFull || opts.steps)) continue;
    const results = opts.steps && opts.steps.size < 16
      ? [...opts.steps].map((n) => resultOf(store, run.id, n)).filter((r): r is StepResult => r !== undefined)
      : resultsOf(store, run.id);
    for (const r of results) {
      if (opts.steps && !opts.steps.has(r.name)) continue;
      if (!known.has(r.name)) {
        // Steps first seen after a whole-pipeline run are no longer in the pipeline.
        if (sawFull && !opts.steps) continue;
        known.add(r.name);
        order.push(r.name);
      }
      if (!isSample(r)) continue;
      const n = passed.get(r.name) ?? 0;
      if (n >= opts.want) continue;
      let list = samples.get(r.name);
      if (!list) samples.set(r.name, (list = []));
      list.push(sampleOf(run, r));
      if (isTiming(r)) passed.set(r.name, n + 1);
    }
    if (run.targets.length === 0 && run.status !== 'INTERRUPTED') sawFull = true;
    const names = opts.steps ? [...opts.steps] : order;
    if ((sawFull || opts.steps) && names.every((n) => (passed.get(n) ?? 0) >= opts.want)) break;
  }
  return { samples, order, runsScanned };
}

/** Resolves what a user typed for a run: `latest`, `previous`, a run id or unique id
 * prefix, or a git commit (prefix of at least 4 hex digits; the newest run at it). */
export function resolveRun(store: Store, ref: string): RunRecord {
  if (ref === 'latest' || ref === 'previous') {
    const runs = listRuns(store, { limit: 2 });
    const r = ref === 'latest' ? runs[0] : runs[1];
    if (!r) throw new BatchError(`There is no ${ref} run: ${runs.length} run${runs.length === 1 ? '' : 's'} recorded.`, 2);
    return r;
  }
  const exact = store.runs.get(ref);
  if (exact) return exact;
  const byId: RunRecord[] = [];
  for (const { value } of store.runs.getRange({ start: ref, end: `${ref}\uffff` })) {
    byId.push(value);
    if (byId.length > 1) break;
  }
  if (byId.length === 1) return byId[0]!;
  if (byId.length > 1) throw new BatchError(`"${ref}" matches more than one run id; give more of it.`, 2);
  if (/^[0-9a-f]{4,40}$/i.test(ref)) {
    const want = ref.toLowerCase();
    for (const { value } of store.runs.getRange({ reverse: true })) {
      if (value.git?.commit.startsWith(want)) return value;
    }
  }
  throw new BatchError(`No run matches "${ref}": use a run id (see \`batch history\`), latest, previous, or a git commit.`, 2);
}
