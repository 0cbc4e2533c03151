import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PipelineConfig } from '../batchfile/config.js';
import type { Emit } from '../schedule/events.js';
import { schedule, settleAll } from '../schedule/scheduler.js';
import type { CacheBackend } from '../cache/backend.js';
import type { ExecutorRegistry } from '../executors/registry.js';
import { kindOf } from '../kinds/registry.js';
import { hashString, initHash } from '../fingerprint/hash.js';
import { StatCache } from '../fingerprint/stat-cache.js';
import { buildGraph, selectSteps, type Graph } from '../graph/graph.js';
import { appendCsv } from '../store/csv-log.js';
import { newRunId, Recorder } from '../store/recorder.js';
import type { Store } from '../store/store.js';
import type { OrphanOutcome, RemoteRunReport, RunRecord, RunStatus, StepResult, TestPhaseResult } from '../store/types.js';
import { BatchError } from '../util/errors.js';
import { shownPath, shownPathsIn } from '../util/paths.js';
import { RunGit } from '../util/git.js';
import { runsAnyway, snapshotsApply } from '../plan/verdict.js';
import { preflight, type PlannedSteps, type Preflight } from './preflight.js';
import { applyOrphans, findOrphans } from '../plan/orphans.js';
import { appendMetricsCsv } from '../history/metric-csv.js';
import { paramsUpstream, readStepMetrics } from '../history/metric-record.js';
import { expandTargets, materialize } from './materialize.js';
import { allProvenStanding, processStep, provenOutcome, type RunEnv, type StepOutcome } from './step-runner.js';
import { cachedGraph } from './graph-cache.js';
import { mark } from '../util/timing.js';
import { makeRecord, provenByRecord, recordKey, writeRecord } from '../plan/noop-record.js';
import type { FastVerdict } from '../plan/fast-check.js';
import { takeStatPrefetch } from '../fingerprint/stat-prefetch.js';
import { CheckGate } from '../schedule/check-gate.js';

/** What one run is asked to do. More than ~10 fields because it is the engine's whole input
 * for a run, built in one place (app/session.ts) from the session and its RunSettings; the
 * steps see only the narrower RunEnv. */
export interface RunOptions {
  root: string;
  cacheDir: string;
  logsDir: string;
  targets: string[];
  force: boolean;
  jobs: number;
  keepGoing: boolean;
  /** Flags recorded with the run (e.g. --force, --watch). */
  flags: string[];
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  emit: Emit;
  /** Output cache; absent when the Batchfile or a flag turned it off. */
  outputCache?: CacheBackend;
  /** Runs the integrity tests after the steps; absent: no test phase. */
  tests?: (ctx: { store: Store; stats: StatCache; results: StepResult[]; runId: string }) => Promise<TestPhaseResult | undefined>;
  /** What is known of the files from earlier runs in this process (watch mode keeps one and
   * forgets each path a file event names); absent: a fresh one, every file stat'ed again. */
  stats?: StatCache;
  /** The declared config's id when it came from (or went to) the config cache
   * (batchfile/config-cache.ts): its graph is cached too (graph-cache.ts). */
  configId?: string;
  /** The project lock's generation before this run's session took it (store/lock.ts): the
   * stat helper's stats count only if it is the one they were taken under. */
  lockGenerationBefore?: string;
}

/** The run's logs (step logs under runs/, execution_logs.csv) must be writable before anything
 * runs: otherwise steps would fail one by one on their log files, or the run would leave no
 * CSV row. Opening the CSV for append creates it if needed and changes nothing in it. */
function checkLogsWritable(root: string, logsDir: string): void {
  try {
    fs.mkdirSync(path.join(logsDir, 'runs'), { recursive: true });
    fs.closeSync(fs.openSync(path.join(logsDir, 'execution_logs.csv'), 'a'));
  } catch (e) {
    throw new BatchError(`Cannot write the run logs under ${shownPath(root, logsDir)}: ${shownPathsIn(root, (e as Error).message)}. It must be a writable folder.`, 3);
  }
}

export interface RunOutput {
  record: RunRecord;
  results: StepResult[];
  /** Each selected step's code files (watch mode watches them). */
  codeFiles: () => Map<string, string[]>;
  /** The whole step graph (the run report draws it). */
  graph: Graph;
  /** The config the run executed: forEach steps expanded, paramsFrom values in params. */
  config: PipelineConfig;
}

/** Outputs of steps no longer declared, removed before any step is checked, so the steps that
 * read them see them gone; the stat cache forgets each (its epoch sends snapshot verdicts of
 * the pre-run check to be checked again). */
async function removeOrphans(config: PipelineConfig, graph: Graph, store: Store, stats: StatCache, opts: RunOptions): Promise<OrphanOutcome[]> {
  const plan = findOrphans(config, graph, store, stats);
  if (!plan) return [];
  const done = await applyOrphans(opts.root, config, store, stats, plan);
  for (const o of done) {
    for (const f of o.kept) opts.emit({ type: 'warning', message: `kept ${f}: "${o.step}" wrote it but is no longer in the Batchfile, and it changed since (remove it by hand if it is stale)` });
  }
  return done;
}

/** The selected steps, all proven up to date by the no-op record (its stats taken by the
 * helper process while batch loaded, if it was started), or undefined. */
function recordProof(selected: string[], c: { store: Store; stats: StatCache; key: string }, opts: RunOptions): ReturnType<typeof provenByRecord> {
  const taken = takeStatPrefetch(opts.root, opts.cacheDir);
  // Its stats were taken before this run held the lock: not if anyone held it in between (a
  // run, `clean`, `cache prune` may have changed files after them; util/lock-generation.ts).
  const prefetched = taken && taken.generation === opts.lockGenerationBefore ? taken.answer : undefined;
  return provenByRecord({ cacheDir: opts.cacheDir, ...c, selected, ...(prefetched ? { prefetched } : {}) });
}

/** A one-shot run of a cached config may prove every step at once (plan/noop-record.ts): the
 * record's key (undefined when this run may not use or write one) and the verdicts it proved. */
async function noopRecord(declared: PipelineConfig, plan: { config: PipelineConfig; selected: string[] }, c: { store: Store; stats: StatCache }, opts: RunOptions): Promise<{ key: string | undefined; proven: Map<string, FastVerdict> | undefined }> {
  const { configId } = opts;
  const key = configId !== undefined && plan.config === declared && opts.stats === undefined && snapshotsApply(opts) ? recordKey(configId, plan.config, plan.selected, opts.env) : undefined;
  const byRecord = key === undefined ? undefined : await recordProof(plan.selected, { ...c, key }, opts);
  mark(`no-op record (${key === undefined ? 'off' : (byRecord?.by ?? 'miss')})`);
  return { key, proven: byRecord?.verdicts };
}

/** One run: plan each step as it becomes ready, execute what must run, record as it goes. */
export async function runPipeline(declared: PipelineConfig, store: Store, executors: ExecutorRegistry, opts: RunOptions): Promise<RunOutput> {
  await initHash();
  const stats = opts.stats ?? new StatCache(opts.root, store);
  // forEach steps become their instances (data helper's materialize.ts).
  // A cached config's graph is cached beside it (graph-cache.ts). forEach and paramsFrom make a
  // config of their own each run: a function of the declared one and of the matches and values
  // (materialize's key), so its graph is cached under both.
  const { configId } = opts;
  const config = await materialize(declared, stats, configId === undefined ? {} : { adoptGraph: (c, key) => void cachedGraph(c, opts.cacheDir, `${configId}|${hashString(key)}`) });
  const graph = config === declared && configId !== undefined ? cachedGraph(config, opts.cacheDir, configId) : buildGraph(config);
  const plan = { config, graph, selected: selectSteps(graph, expandTargets(config, opts.targets)) };
  mark('config + graph');
  const { key, proven } = await noopRecord(declared, plan, { store, stats }, opts);
  const found = await preflight(plan, { root: opts.root, cacheDir: opts.cacheDir, store, stats }, {
    ...(snapshotsApply(opts) ? { snapshots: { env: opts.env } } : {}),
    ...(proven ? { proven } : {}),
    onRunStepAhead: () => executors.get('pool').warm?.(),
    onStepAhead: () => executors.get('process').warm?.(),
    runsAnyway: (name) => runsAnyway({ force: opts.force, store }, name),
  });
  mark('pre-run checks');
  // Every step proven one by one: the next run may prove them all at once.
  if (key !== undefined && !proven && plan.selected.every((n) => found.fast.has(n))) {
    const rec = makeRecord(config, plan.selected, found.fast, stats, store, key);
    if (rec) writeRecord(opts.cacheDir, rec);
  }
  // An executor that connects elsewhere (Redis) is awaited only when a step may execute: its
  // failure stops the run before it is recorded, and a no-op never connects.
  if (plan.selected.some((n) => !found.fast.has(n))) await executors.ready();
  const run = beginRun(plan, store, opts);
  // `git status` (it stats every tracked file) only for a run that executes a step.
  const emit: typeof opts.emit = (ev) => {
    if (ev.type === 'step-start') run.git.startDirty();
    opts.emit(ev);
  };
  const orphans = await removeOrphans(config, graph, store, stats, opts);
  const env: RunEnv = {
    config,
    runId: run.id,
    cacheDir: opts.cacheDir,
    logDir: path.join(opts.logsDir, 'runs', run.id),
    verdict: { root: opts.root, stats, env: opts.env, store, force: opts.force, ...(opts.outputCache ? { cache: opts.outputCache } : {}) },
    checks: { ...found, tally: { bySnapshot: 0 }, gate: new CheckGate(Math.max(1, opts.jobs)) },
    ...(opts.outputCache ? { outputCache: opts.outputCache } : {}),
    executorFor: (step) => executors.get(kindOf(step).executor),
    jobs: opts.jobs,
    signal: opts.signal,
    emit,
  };
  const t0 = performance.now();
  const byName = await runSteps(env, { graph, selected: plan.selected, run }, opts);
  mark('steps');
  const results = plan.selected.map((n) => {
    const { state: _s, snapshot: _p, ...r } = byName.get(n) as StepOutcome;
    return r;
  });
  stats.flush();
  // Uploads still running are awaited here (bounded), before the tests and the record that
  // reports them; at once when interrupted.
  const remoteCache = await opts.outputCache?.finish?.(opts.emit, opts.signal.aborted ? 0 : undefined);
  const tests = await testPhase(run, results, { store, stats }, opts);
  const record = await endRun(run, { results, tests, remoteCache, orphans }, { bySnapshot: env.checks.tally.bySnapshot, stats, t0 }, opts);
  return { record, results, codeFiles: () => codeFilesOf(plan, found, stats), graph, config };
}

/** The steps through the scheduler; when every one is proven up to date already (a no-op),
 * settled in the scheduler's order without it (schedule/scheduler.ts, settleAll). */
async function runSteps(env: RunEnv, plan: { graph: Graph; selected: string[]; run: StartedRun }, opts: RunOptions): Promise<Map<string, StepResult>> {
  const { graph, selected, run } = plan;
  const { config } = env;
  const onResult = (r: StepOutcome | StepResult): void => recordOutcome(r as StepOutcome, { config, graph, run }, opts);
  if (!opts.signal.aborted && allProvenStanding(env, selected)) return settleAll(graph, selected, (n) => provenOutcome(env, n), onResult);
  return schedule<StepOutcome>({ graph, selected, jobs: opts.jobs, keepGoing: opts.keepGoing, signal: opts.signal, work: (name, slots) => processStep(env, name, slots), onResult });
}

/** A finished step: its metrics read (a step that declares them), then recorded and told. */
function recordOutcome(r: StepOutcome, c: { config: PipelineConfig; graph: Graph; run: StartedRun }, opts: RunOptions): void {
  const { state, snapshot, ...result } = r;
  const step = c.config.steps.get(result.name);
  if (state && step?.metrics) {
    const m = readStepMetrics(opts.root, step, state.outputs);
    for (const message of m.warnings) opts.emit({ type: 'warning', message });
    result.metrics = m.metrics;
    result.params = paramsUpstream(c.config, c.graph, step.name);
    r.metrics = result.metrics;
    r.params = result.params;
  }
  // The snapshot goes after the state it vouches for, in the same transaction.
  c.run.recorder.step(result, state, snapshot);
  opts.emit({ type: 'step-end', result });
}

/** A run under way: its id, its record so far, its recorder. */
interface StartedRun {
  id: string;
  base: Omit<RunRecord, 'endedAt' | 'durationMs' | 'status' | 'counts'>;
  recorder: Recorder;
  git: RunGit;
}

const NO_COUNTS: RunRecord['counts'] = { ran: 0, upToDate: 0, restored: 0, failed: 0, blocked: 0, notRun: 0 };

/** Records the run as started (INTERRUPTED until it ends) and says so. */
function beginRun(plan: PlannedSteps, store: Store, opts: RunOptions): StartedRun {
  const startedAt = Date.now();
  const id = newRunId(new Date(startedAt));
  const git = new RunGit(opts.root);
  const recorder = new Recorder(store, id);
  const base = { id, startedAt, flags: opts.flags, targets: opts.targets, host: os.hostname(), cpus: os.availableParallelism(), node: process.version };
  checkLogsWritable(opts.root, opts.logsDir);
  // Written first so a killed run still shows up in history, as interrupted; not awaited
  // (Recorder.begin).
  recorder.begin({ ...base, endedAt: startedAt, durationMs: 0, status: 'INTERRUPTED', counts: NO_COUNTS });
  opts.emit({ type: 'run-start', runId: id, steps: plan.selected, jobs: opts.jobs, startedAt });
  return { id, base, recorder, git };
}

/** The Batchfile's tests, once every step passed and the run was not interrupted. */
async function testPhase(run: StartedRun, results: StepResult[], ctx: { store: Store; stats: StatCache }, opts: RunOptions): Promise<TestPhaseResult | undefined> {
  if (!opts.tests || opts.signal.aborted || !results.every((r) => r.status === 'PASS')) return undefined;
  await run.recorder.flush();
  return opts.tests({ ...ctx, results, runId: run.id });
}

function countResults(results: StepResult[]): RunRecord['counts'] {
  const counts = { ...NO_COUNTS };
  for (const r of results) {
    if (r.status === 'FAIL') counts.failed++;
    else if (r.status === 'BLOCKED') counts.blocked++;
    if (r.action === 'ran' && r.status === 'PASS') counts.ran++;
    else if (r.action === 'up-to-date') counts.upToDate++;
    else if (r.action === 'restored') counts.restored++;
    else if (r.action === 'not-run') counts.notRun++;
  }
  return counts;
}

/** What the run's end reports: the steps, the tests, what the remote cache did. */
interface RunOutcome {
  results: StepResult[];
  tests: TestPhaseResult | undefined;
  remoteCache: RemoteRunReport | undefined;
  /** Outputs of steps no longer declared, removed before the steps were checked. */
  orphans: OrphanOutcome[];
}

/** Records the run's end (store, CSV log) and says so. */
async function endRun(run: StartedRun, outcome: RunOutcome, checks: { bySnapshot: number; stats: StatCache; t0: number }, opts: RunOptions): Promise<RunRecord> {
  const { results, tests, remoteCache, orphans } = outcome;
  const { stats } = checks;
  const counts = countResults(results);
  const status: RunStatus = opts.signal.aborted ? 'INTERRUPTED' : counts.failed + counts.blocked > 0 || tests?.status === 'FAIL' ? 'FAIL' : 'PASS';
  const endedAt = Date.now();
  const g = await run.git.result();
  const record: RunRecord = {
    ...run.base,
    endedAt,
    durationMs: Math.round(performance.now() - checks.t0),
    status,
    counts,
    checks: { bySnapshot: checks.bySnapshot, filesHashed: stats.filesHashed, bytesHashed: stats.bytesHashed, filesStatted: stats.filesStatted },
    ...(g ? { git: g } : {}),
    ...(tests ? { tests } : {}),
    ...(orphans.length > 0 ? { orphans } : {}),
    ...(remoteCache ? { remoteCache } : {}),
  };
  stats.flush();
  await run.recorder.run(record);
  try {
    appendCsv(opts.logsDir, record, results);
    appendMetricsCsv(opts.logsDir, record, results);
  } catch (e) {
    opts.emit({ type: 'warning', message: `could not append to ${path.join(opts.logsDir, 'execution_logs.csv')}: ${(e as Error).message}` });
  }
  opts.emit({ type: 'run-end', record, results });
  return record;
}

/** Each selected step's code files, worked out on demand (watch mode asks): for a step only
 * its snapshot checked, its kind says which of the snapshot's paths are code now. */
function codeFilesOf(plan: PlannedSteps, found: Preflight, stats: StatCache): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of plan.selected) {
    const c = found.code.get(n);
    const step = plan.config.steps.get(n)!;
    out.set(n, c ? Object.keys(c.files) : kindOf(step).codeFromSnapshot(step, found.fast.get(n)?.code ?? [], stats));
  }
  return out;
}
