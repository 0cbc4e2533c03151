import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PipelineConfig } from '../batchfile/config.js';
import type { Emit } from '../schedule/events.js';
import { schedule } from '../schedule/scheduler.js';
import type { Executor } from '../executors/types.js';
import type { CacheBackend } from '../cache/backend.js';
import type { ExecutorRegistry } from '../executors/registry.js';
import { kindOf } from '../kinds/registry.js';
import { compileQueuedNow } from '../kinds/run.js';
import type { StepCode } from '../plan/step-code.js';
import { resolveSpecs } from '../fingerprint/files.js';
import { initHash } from '../fingerprint/hash.js';
import { StatCache } from '../fingerprint/stat-cache.js';
import { buildGraph, hasProducer, selectSteps, type Graph } from '../graph/graph.js';
import { appendCsv } from '../store/csv-log.js';
import { newRunId, Recorder } from '../store/recorder.js';
import type { Store } from '../store/store.js';
import type { RunRecord, RunStatus, StepResult, TestPhaseResult } from '../store/types.js';
import { BatchError } from '../util/errors.js';
import { gitInfo } from '../util/git.js';
import { checkSnapshot, type FastVerdict } from '../plan/fast-check.js';
import { runsAnyway, snapshotsApply } from '../plan/verdict.js';
import { processStep, type RunEnv, type StepOutcome } from './step-runner.js';

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
}

/** What the pre-run check found: the code of each step that needs a full check, and the
 * steps a stat snapshot already proves up to date (with the StatCache epoch it held at). */
export interface Preflight {
  code: Map<string, StepCode>;
  fast: Map<string, FastVerdict>;
  /** Steps whose snapshot did not hold, with the StatCache epoch of that check. */
  misses: Map<string, number>;
}

/** Checks what can be checked before anything runs, so bad input stops the run with exit 2
 * and nothing recorded: run modules compile and export a default; every input that no step
 * writes exists now. A step whose snapshot holds passed these checks when it was taken and
 * nothing it depends on changed since, so it is skipped (pass `snapshots` to allow that). */
export async function preflight(
  config: PipelineConfig,
  graph: Graph,
  selected: string[],
  root: string,
  cacheDir: string,
  store: Store,
  stats: StatCache,
  snapshots?: { env: NodeJS.ProcessEnv },
  /** Called once, after the checks, when a `run` step may execute (to start the worker pool). */
  onRunStepAhead?: () => void,
  /** Steps that run whatever their files hold (`--force`, or no recorded state): their files
   * are not hashed ahead. Their hashes only give the new state's key, taken by the main
   * thread just before each runs; in a first build, helper threads hashing 10,000 inputs
   * ahead would compete with the steps' own processes for the cores. */
  runsAnyway?: (name: string) => boolean,
): Promise<Preflight> {
  const code = new Map<string, StepCode>();
  const fast = new Map<string, FastVerdict>();
  const misses = new Map<string, number>();
  const pending: [string, Promise<StepCode>][] = [];
  let runAhead = false;
  try {
    checkAll();
  } catch (e) {
    // A bad input stops the run before anything executes, and the caller then closes the
    // store: the steps already sent to compile must settle first, or their code checks would
    // read the closed store (an uncaught error, exit 1 instead of this one's exit 2).
    compileQueuedNow();
    await Promise.allSettled(pending.map(([, p]) => p));
    throw e;
  }
  stats.sendAhead();
  // The modules go to esbuild first, then the pool starts its threads while they compile
  // (or, with every module compiled already, while the first steps are planned).
  compileQueuedNow();
  if (runAhead) onRunStepAhead?.();
  const settled = await Promise.allSettled(pending.map(([, p]) => p));
  settled.forEach((r, i) => {
    if (r.status === 'rejected') throw r.reason;
    code.set(pending[i]![0], r.value);
  });
  return { code, fast, misses };

  /** The pre-run checks of every selected step; each step's code is sent to compile. */
  function checkAll(): void {
    for (const name of selected) {
      const step = config.steps.get(name)!;
      if (snapshots) {
        const epoch = stats.epoch;
        const v = checkSnapshot(root, stats, store, step, snapshots.env);
        if (v) {
          fast.set(name, v);
          continue;
        }
        misses.set(name, epoch);
      }
      const kind = kindOf(step);
      if (kind.executor === 'pool') runAhead = true;
      const ahead = runsAnyway?.(name) !== true;
      for (const spec of step.inputs) {
        if (hasProducer(graph, spec, name)) continue;
        const res = resolveSpecs(root, [spec], stats);
        if (res.missing.length > 0) throw new BatchError(`step "${name}".inputs: "${spec}" does not exist and no step writes it`, 2);
        if (res.empty.length > 0) throw new BatchError(`step "${name}".inputs: the glob "${spec}" matches no file and no step writes it`, 2);
        if (ahead) stats.hashAhead(res.files);
      }
      // The full check will hash them (its outputs too): helper threads can start on them now.
      if (ahead) stats.hashAhead(resolveSpecs(root, step.outputs, stats).files);
      // Run modules compile concurrently (esbuild builds them in parallel); the first error in
      // step order is the one reported, as if they had compiled one by one.
      pending.push([name, Promise.resolve().then(() => kind.code(step, { root, cacheDir, store, stats }))]);
    }
  }
}

/** The run's logs (step logs under runs/, execution_logs.csv) must be writable before anything
 * runs: otherwise steps would fail one by one on their log files, or the run would leave no
 * CSV row. Opening the CSV for append creates it if needed and changes nothing in it. */
function checkLogsWritable(logsDir: string): void {
  try {
    fs.mkdirSync(path.join(logsDir, 'runs'), { recursive: true });
    fs.closeSync(fs.openSync(path.join(logsDir, 'execution_logs.csv'), 'a'));
  } catch (e) {
    throw new BatchError(`Cannot write the run logs under ${logsDir}: ${(e as Error).message}. It must be a writable folder.`, 3);
  }
}

export interface RunOutput {
  record: RunRecord;
  results: StepResult[];
  /** Each selected step's code files (watch mode watches them). */
  codeFiles: () => Map<string, string[]>;
  /** The whole step graph (the run report draws it). */
  graph: Graph;
}

/** One run: plan each step as it becomes ready, execute what must run, record as it goes. */
export async function runPipeline(config: PipelineConfig, store: Store, executors: ExecutorRegistry, opts: RunOptions): Promise<RunOutput> {
  await initHash();
  const graph = buildGraph(config);
  const selected = selectSteps(graph, opts.targets);
  const stats = opts.stats ?? new StatCache(opts.root, store);
  const { code, fast, misses } = await preflight(
    config,
    graph,
    selected,
    opts.root,
    opts.cacheDir,
    store,
    stats,
    snapshotsApply(opts) ? { env: opts.env } : undefined,
    () => executors.get('pool').warm?.(),
    (name) => runsAnyway({ force: opts.force, store }, name),
  );

  const startedAt = Date.now();
  const runId = newRunId(new Date(startedAt));
  const git = gitInfo(opts.root);
  const recorder = new Recorder(store, runId);
  const base: Omit<RunRecord, 'endedAt' | 'durationMs' | 'status' | 'counts'> = {
    id: runId,
    startedAt,
    flags: opts.flags,
    targets: opts.targets,
    host: os.hostname(),
    cpus: os.availableParallelism(),
    node: process.version,
  };
  const zero = { ran: 0, upToDate: 0, restored: 0, failed: 0, blocked: 0, notRun: 0 };
  checkLogsWritable(opts.logsDir);
  // Written first so a killed run still shows up in history, as interrupted; not awaited
  // (Recorder.begin).
  recorder.begin({ ...base, endedAt: startedAt, durationMs: 0, status: 'INTERRUPTED', counts: zero });
  opts.emit({ type: 'run-start', runId, steps: selected, jobs: opts.jobs, startedAt });

  const env: RunEnv = {
    config,
    runId,
    cacheDir: opts.cacheDir,
    logDir: path.join(opts.logsDir, 'runs', runId),
    verdict: { root: opts.root, stats, env: opts.env, store, force: opts.force, ...(opts.outputCache ? { cache: opts.outputCache } : {}) },
    checks: { code, fast, misses, tally: { bySnapshot: 0, fullChecks: 0 } },
    ...(opts.outputCache ? { outputCache: opts.outputCache } : {}),
    executorFor: (step) => executors.get(kindOf(step).executor),
    jobs: opts.jobs,
    signal: opts.signal,
    emit: opts.emit,
  };
  const t0 = performance.now();
  const byName = await schedule<StepOutcome>({
    graph,
    selected,
    jobs: opts.jobs,
    keepGoing: opts.keepGoing,
    signal: opts.signal,
    work: (name, slots) => processStep(env, name, slots),
    onResult: (r) => {
      const { state, snapshot, ...result } = r as StepOutcome;
      recorder.step(result, state);
      // After the state it vouches for; not awaited (a lost snapshot costs one full check).
      if (snapshot) store.snap.put(result.name, snapshot).catch(() => {});
      opts.emit({ type: 'step-end', result });
    },
  });
  const results = selected.map((n) => {
    const { state: _s, snapshot: _p, ...r } = byName.get(n) as StepOutcome;
    return r;
  });

  stats.flush();
  let tests: TestPhaseResult | undefined;
  const stepsPassed = results.every((r) => r.status === 'PASS');
  if (opts.tests && stepsPassed && !opts.signal.aborted) {
    await recorder.flush();
    tests = await opts.tests({ store, stats, results, runId });
  }

  const counts = { ...zero };
  for (const r of results) {
    if (r.status === 'FAIL') counts.failed++;
    else if (r.status === 'BLOCKED') counts.blocked++;
    if (r.action === 'ran' && r.status === 'PASS') counts.ran++;
    else if (r.action === 'up-to-date') counts.upToDate++;
    else if (r.action === 'restored') counts.restored++;
    else if (r.action === 'not-run') counts.notRun++;
  }
  const status: RunStatus = opts.signal.aborted ? 'INTERRUPTED' : counts.failed + counts.blocked > 0 || tests?.status === 'FAIL' ? 'FAIL' : 'PASS';
  const endedAt = Date.now();
  const g = await git;
  const record: RunRecord = {
    ...base,
    endedAt,
    durationMs: Math.round(performance.now() - t0),
    status,
    counts,
    checks: { bySnapshot: env.checks.tally.bySnapshot, filesHashed: stats.filesHashed, bytesHashed: stats.bytesHashed, filesStatted: stats.filesStatted },
    ...(g ? { git: g } : {}),
    ...(tests ? { tests } : {}),
  };
  stats.flush();
  await recorder.run(record);
  try {
    appendCsv(opts.logsDir, record, results);
  } catch (e) {
    opts.emit({ type: 'warning', message: `could not append to ${path.join(opts.logsDir, 'execution_logs.csv')}: ${(e as Error).message}` });
  }
  opts.emit({ type: 'run-end', record, results });
  // Worked out on demand (watch mode asks): the fast path never lists a command's scripts.
  const codeFiles = (): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    for (const n of selected) {
      const c = code.get(n);
      const step = config.steps.get(n)!;
      out.set(n, c ? Object.keys(c.files) : kindOf(step).codeFromSnapshot(step, fast.get(n)?.code ?? [], stats));
    }
    return out;
  };
  return { record, results, codeFiles, graph };
}
