import fs from 'node:fs';
import path from 'node:path';
import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import type { Emit } from '../schedule/events.js';
import type { Slots } from '../schedule/scheduler.js';
import type { Executor } from '../executors/types.js';
import type { OutputCache } from '../cache/backend.js';
import { globBase, isGlob, resolveSpecs } from '../fingerprint/files.js';
import { commandCandidates, stepCode, type StepCode } from '../plan/code.js';
import { RACY_WINDOW_MS, type StatCache } from '../fingerprint/stat-cache.js';
import type { Graph } from '../graph/graph.js';
import { summariseReasons } from '../plan/decide.js';
import { checkSnapshot, type FastVerdict } from '../plan/fast-check.js';
import { currentOutputs, planStep, type Fingerprint } from '../plan/plan-step.js';
import { definitionSignature, takeSnapshot } from '../plan/snapshot.js';
import type { SnapshotEntry, Store } from '../store/store.js';
import { BatchError } from '../util/errors.js';
import type { FileHashes, StepResult, StepState } from '../store/types.js';
import { moveFailedOutputs } from './failed-outputs.js';
import { isInside, toRel } from '../util/paths.js';

/** Everything a run shares between its steps. */
export interface RunEnv {
  config: PipelineConfig;
  graph: Graph;
  root: string;
  cacheDir: string;
  runId: string;
  /** Absolute folder of this run's step logs. */
  logDir: string;
  store: Store;
  stats: StatCache;
  env: NodeJS.ProcessEnv;
  force: boolean;
  /** Code of the steps that needed a full check; filled in when a step first needs one. */
  code: Map<string, StepCode>;
  /** Steps whose stat snapshot held at the pre-run check. */
  fast: Map<string, FastVerdict>;
  /** Steps whose snapshot did not hold, with the StatCache epoch of that check. */
  misses: Map<string, number>;
  /** Steps found up to date by snapshot so far (reported with the run); steps that began a
   * full check so far (see processStep). */
  tally: { bySnapshot: number; fullChecks: number };
  /** The run's -j. */
  jobs: number;
  pool: Executor;
  proc: Executor;
  signal: AbortSignal;
  emit: Emit;
  /** Output cache; absent when disabled. Not read under --force, always written. */
  outputCache?: OutputCache;
}

export interface StepOutcome extends StepResult {
  /** The state to record: present only when the step ran, passed and its outputs were hashed. */
  state?: StepState;
  /** The stat snapshot to record with it (see src/plan/snapshot.ts). */
  snapshot?: SnapshotEntry;
}

/** Removes a step's declared outputs before it runs, so nothing a previous run wrote
 * survives unless the step writes it again (the same result as a clean build). */
function removeOutputs(env: RunEnv, step: StepConfig): void {
  const res = resolveSpecs(env.root, step.outputs, env.stats);
  for (const f of res.files) {
    fs.rmSync(path.resolve(env.root, f), { force: true });
    env.stats.forget(f);
  }
  for (const spec of step.outputs) {
    env.stats.forget(spec);
    if (isGlob(spec)) continue;
    const abs = path.resolve(env.root, spec);
    // rm of a missing path throws (and catches) an error inside Node: an lstat first is ~10x
    // cheaper, and before a first run every output is missing.
    if (lexists(abs)) fs.rmSync(abs, { recursive: true, force: true });
  }
}

/** Whether something (a link itself included) is at `abs`; an lstat error counts as yes, so
 * the rm that follows reports it. */
function lexists(abs: string): boolean {
  try {
    return fs.lstatSync(abs, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

/** The project root's real path, once per root: it cannot change under a running batch
 * (every step's cwd), and resolving it twice per step showed in first-build profiles. */
const realRoots = new Map<string, string>();
function realRootOf(root: string): string {
  let r = realRoots.get(root);
  if (r === undefined) {
    r = realPathOf(root);
    realRoots.set(root, r);
  }
  return r;
}

/** The real path of `abs` (following symlinks) even when it does not exist yet: the nearest
 * existing ancestor resolved, the rest appended. Each path is stat'ed before it is resolved:
 * before a first run every output is missing, and the error realpath throws for a missing
 * path cost ~5x what the stat does (per output, per step). */
function realPathOf(abs: string): string {
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    if (exists(cur)) {
      try {
        return path.join(fs.realpathSync(cur), ...rest.reverse());
      } catch {
        // removed meanwhile, or a symlink loop: resolve the parent as for a missing path
      }
    }
    const parent = path.dirname(cur);
    if (parent === cur) return abs;
    rest.push(path.basename(cur));
    cur = parent;
  }
}

/** Whether `abs` names something (links followed), without building an error when not. */
function exists(abs: string): boolean {
  try {
    return fs.statSync(abs, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** Why a declared output reaches outside the project through a symlink (a linked folder on
 * its path, or a link itself), checked before the step's outputs are removed or restored:
 * removing them would otherwise delete files outside the project. */
function outputOutside(env: RunEnv, step: StepConfig): string | undefined {
  const realRoot = realRootOf(env.root);
  const specs = step.outputs.map((s) => (isGlob(s) ? globBase(s) : s));
  for (const rel of [...specs, ...resolveSpecs(env.root, step.outputs, env.stats).files]) {
    const real = realPathOf(path.resolve(env.root, rel));
    if (!isInside(toRel(realRoot, real))) return `output ${rel} resolves outside the project (${real}); refused`;
  }
  return undefined;
}

/** Checks the outputs exist and stay inside the project; returns their hashes or a reason to fail. */
function verifyOutputs(env: RunEnv, step: StepConfig): { ok: true; hashes: FileHashes; bytes: number } | { ok: false; error: string } {
  for (const spec of step.outputs) env.stats.forget(spec);
  const outs = currentOutputs(env, step);
  if (outs.missing.length > 0) {
    return { ok: false, error: `the step finished but did not write its declared output${outs.missing.length > 1 ? 's' : ''}: ${outs.missing.join(', ')}` };
  }
  const realRoot = realRootOf(env.root);
  for (const f of Object.keys(outs.hashes)) {
    const real = fs.realpathSync.native(path.resolve(env.root, f));
    if (!isInside(toRel(realRoot, real))) return { ok: false, error: `output ${f} resolves outside the project (${real}); refused` };
  }
  return { ok: true, hashes: outs.hashes, bytes: outs.bytes };
}

/** Appends to a step's log, creating the run's log folder when it is missing: the first
 * write of a run creates it, instead of a mkdir per step (the process executor's first open
 * may have done it already). */
function appendLog(file: string, text: string): void {
  try {
    fs.appendFileSync(file, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, text);
  }
}

export function logFileName(step: string): string {
  return `${step.replace(/[^A-Za-z0-9_.@+-]/g, '_')}.log`;
}

/** Decides one step against the files as they are now (so early cutoff falls out: a rerun
 * upstream that wrote identical bytes leaves this key unchanged), and runs it if needed. */
export async function processStep(env: RunEnv, name: string, slots: Slots): Promise<StepOutcome> {
  const step = env.config.steps.get(name)!;
  if (upToDateBySnapshot(env, step)) {
    env.tally.bySnapshot++;
    return { name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 };
  }
  let code = env.code.get(name);
  if (!code) {
    // The pre-run check trusted this step's snapshot, but a step upstream has since rewritten
    // files it reads: its code is worked out now (a module that no longer compiles fails it).
    try {
      code = await stepCode(step, env.root, env.cacheDir, env.store, env.stats);
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      return { name, status: 'FAIL', action: 'not-run', reason: e.message, error: e.message, durationMs: 0 };
    }
    env.code.set(name, code);
  }
  // The scheduler starts every ready step in one loop, and each runs its full check (hashing
  // its inputs) up to its first await: a first build hashed the inputs of all of them before
  // the first one was sent to execute. The first `jobs` checks go ahead; the others wait one
  // event-loop turn, by which time those ahead that must run hold their slots and were sent.
  if (++env.tally.fullChecks > env.jobs) await new Promise<void>((resolve) => setImmediate(resolve));
  const { fp, decision } = planStep(env, step);
  if (!decision.run) {
    const snapshot = snapshotOf(env, step, code);
    return { name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0, ...(snapshot ? { snapshot } : {}) };
  }
  const reason = summariseReasons(decision.reasons);
  if (fp.missing.length > 0) {
    return { name, status: 'FAIL', action: 'not-run', reason: `input missing: ${fp.missing.join(', ')}`, durationMs: 0 };
  }
  const outside = outputOutside(env, step);
  if (outside) return { name, status: 'FAIL', action: 'not-run', reason: outside, durationMs: 0 };
  if (env.outputCache && step.cache && !env.force) {
    const t = performance.now();
    const restored = await env.outputCache.restore(step, fp.key, env.emit, env.stats);
    if (restored) {
      return {
        name,
        status: 'PASS',
        action: 'restored',
        reason: `restored from ${restored.source === 'remote' ? 'remote ' : ''}cache (outputs of run ${restored.fromRun}); ${reason}`,
        source: restored.source ?? 'local',
        durationMs: Math.round(performance.now() - t),
        startedAt: Date.now(),
        bytesRead: fp.bytesIn,
        bytesWritten: restored.bytes,
        state: { key: fp.key, parts: fp.parts, outputs: restored.outputs, runId: env.runId, at: Date.now() },
      };
    }
  }
  if (!(await slots.acquire())) {
    const why = env.signal.aborted ? 'not started: run interrupted' : 'not started: the run stopped after a failure (use --keep-going to continue)';
    return { name, status: 'BLOCKED', action: 'not-run', reason: why, durationMs: 0 };
  }
  const startedAt = Date.now();
  const t0 = performance.now();
  // A slot not handed on below (the step failed, or was interrupted) is given back by the
  // scheduler once the result is settled, so a failure stops the run before another step
  // can take it.
  const logFile = path.join(env.logDir, logFileName(name));
  const logRel = toRel(env.root, logFile);
  const executor = step.kind === 'run' ? env.pool : env.proc;
  // The process executor writes the header itself, on the log's only open; for the others
  // it is written here.
  const attempts = step.retries + 1;
  let lastError = '';
  let lastMetrics: Pick<StepResult, 'cpuMs' | 'peakRssBytes' | 'worker' | 'queueWaitMs'> = {};
  for (let attempt = 1; attempt <= attempts; attempt++) {
    env.emit({ type: 'step-start', step: name, attempt, reasons: decision.reasons });
    removeOutputs(env, step);
    const header = `# batch: step ${name}, attempt ${attempt}/${attempts}, run ${env.runId}\n# reason: ${reason}\n`;
    if (!executor.acceptsHeader) appendLog(logFile, header);
    const ac = new AbortController();
    const onOuter = (): void => ac.abort(new Error('interrupted'));
    if (env.signal.aborted) onOuter();
    else env.signal.addEventListener('abort', onOuter, { once: true });
    const timer = step.timeoutMs !== undefined ? setTimeout(() => ac.abort(new Error(`timed out after ${step.timeoutMs} ms`)), step.timeoutMs) : undefined;
    const req = {
      step,
      runId: env.runId,
      root: env.root,
      inputs: fp.inputFiles.map((f) => path.resolve(env.root, f)),
      outputs: step.outputs.map((o) => path.resolve(env.root, o)),
      logFile,
      signal: ac.signal,
      runEnv: env.env,
      ...(executor.acceptsHeader ? { logHeader: header } : {}),
      ...(code.compiled ? { compiled: code.compiled } : {}),
    };
    const outcome = await executor.execute(req);
    if (timer) clearTimeout(timer);
    env.signal.removeEventListener('abort', onOuter);
    const base = {
      name,
      startedAt,
      attempts: attempt,
      logFile: logRel,
      bytesRead: fp.bytesIn,
      ...(outcome.cpuMs !== undefined ? { cpuMs: Math.round(outcome.cpuMs) } : {}),
      ...(outcome.peakRssBytes !== undefined ? { peakRssBytes: outcome.peakRssBytes } : {}),
      ...(outcome.remote ? { worker: outcome.remote.worker, queueWaitMs: outcome.remote.queueWaitMs } : {}),
    };
    lastMetrics = {
      ...(base.cpuMs !== undefined ? { cpuMs: base.cpuMs } : {}),
      ...(base.peakRssBytes !== undefined ? { peakRssBytes: base.peakRssBytes } : {}),
      ...(outcome.remote ? { worker: outcome.remote.worker, queueWaitMs: outcome.remote.queueWaitMs } : {}),
    };
    if (outcome.ok) {
      const verified = verifyOutputs(env, step);
      if (!verified.ok) {
        lastError = verified.error;
        appendLog(logFile, `# batch: FAIL: ${verified.error}\n`);
      } else {
        const result: StepOutcome = {
          ...base,
          status: 'PASS',
          action: 'ran',
          reason,
          durationMs: Math.round(performance.now() - t0),
          bytesWritten: verified.bytes,
        };
        // The step passed and nothing below can fail it: its slot goes to the next step now,
        // which executes while this one checks its inputs, takes its snapshot and stores its
        // outputs (as Ninja starts the next command as soon as one exits). Releasing only
        // resolves the waiter's promise: the turn yielded here lets that step reach its
        // executor first (a few microtasks), instead of after this bookkeeping.
        slots.release();
        await new Promise<void>((resolve) => setImmediate(resolve));
        const changed = inputsChangedDuringRun(env, fp);
        if (changed.length > 0) {
          // The outputs were computed from the old bytes: do not record them as current.
          env.emit({ type: 'warning', message: `step "${name}": ${changed.join(', ')} changed while it ran; it will run again next time` });
          result.reason = `${reason}; inputs changed while running (not recorded)`;
        } else {
          result.state = { key: fp.key, parts: fp.parts, outputs: verified.hashes, runId: env.runId, at: Date.now() };
        }
        if (result.state) {
          try {
            const snapshot = snapshotOf(env, step, code, verified.hashes);
            if (snapshot) result.snapshot = snapshot;
          } catch {
            // No snapshot: the next run does the full check instead.
          }
          // Never rejects: a failed store is a warning.
          if (env.outputCache && step.cache) await env.outputCache.save(step, fp.key, verified.hashes, env.runId, env.emit, env.stats);
        }
        return result;
      }
    } else {
      lastError = outcome.error ?? 'failed';
      appendLog(logFile, `# batch: FAIL: ${lastError}\n`);
    }
    if (env.signal.aborted) break;
    if (attempt < attempts) env.emit({ type: 'warning', message: `step "${name}" failed (${lastError}); retry ${attempt}/${step.retries}` });
  }
  const movedTo = moveFailedOutputs(env.root, env.cacheDir, step, env.stats);
  return {
    ...(movedTo ? { failedOutputs: movedTo } : {}),
    name,
    status: 'FAIL',
    action: 'ran',
    reason: env.signal.aborted ? 'interrupted' : lastError,
    error: lastError,
    durationMs: Math.round(performance.now() - t0),
    startedAt,
    attempts,
    logFile: logRel,
    bytesRead: fp.bytesIn,
    ...lastMetrics,
  };
}

/** The fast path: the step's stat snapshot proves it up to date (never under --force). The
 * pre-run verdict stands while no file was forgotten since; otherwise it is checked again. */
function upToDateBySnapshot(env: RunEnv, step: StepConfig): boolean {
  if (env.force) return false;
  const v = env.fast.get(step.name);
  if (v && v.epoch === env.stats.epoch) return true;
  // Nothing forgotten since it last failed: it would fail again (the full check follows).
  if (env.misses.get(step.name) === env.stats.epoch) return false;
  const epoch = env.stats.epoch;
  const again = checkSnapshot(env.root, env.stats, env.store, step, env.env);
  if (again) env.fast.set(step.name, again);
  else {
    env.fast.delete(step.name);
    env.misses.set(step.name, epoch);
  }
  return again !== undefined;
}

/** `written`: the outputs a step just wrote and hashed. takeSnapshot refuses a snapshot when
 * any of its files was hashed within the racy window of its last change, which is the rule
 * right after a step wrote them; that is checked on them first, so the signature of every
 * input, code file and output (and of the definition) is not worked out only to be refused. */
function snapshotOf(env: RunEnv, step: StepConfig, code: StepCode, written?: FileHashes): SnapshotEntry | undefined {
  if (written) {
    for (const f of Object.keys(written)) {
      const h = env.stats.peek(f);
      const st = env.stats.peekStat(f);
      if (!h || !st || !h.stable || h.hashedAt - Math.max(st.mtimeMs, st.ctimeMs) <= RACY_WINDOW_MS) return undefined;
    }
  }
  const files = step.kind === 'run' ? Object.keys(code.files) : commandCandidates(step);
  return takeSnapshot(env.root, env.stats, step, definitionSignature(step, env.env), files);
}

/** Input files whose content differs now from what the fingerprint hashed before the run. */
function inputsChangedDuringRun(env: RunEnv, fp: Fingerprint): string[] {
  const changed: string[] = [];
  for (const [f, h] of Object.entries(fp.parts.inputs)) {
    env.stats.forget(f);
    if (env.stats.get(f)?.hash !== h) changed.push(f);
  }
  return changed;
}
