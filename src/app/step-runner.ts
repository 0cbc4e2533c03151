import fs from 'node:fs';
import path from 'node:path';
import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import type { Emit } from '../schedule/events.js';
import type { Slots } from '../schedule/scheduler.js';
import type { CheckGate } from '../schedule/check-gate.js';
import type { ExecOutcome, Executor } from '../executors/types.js';
import type { CacheBackend } from '../cache/backend.js';
import { isGlob, resolveSpecs } from '../fingerprint/files.js';
import { kindOf } from '../kinds/registry.js';
import type { StepCode } from '../plan/step-code.js';
import { RACY_WINDOW_MS } from '../fingerprint/stat-cache.js';
import { checkSnapshot, type FastVerdict } from '../plan/fast-check.js';
import { realRootOf } from '../plan/outputs-inside.js';
import { currentOutputs, type Fingerprint } from '../plan/plan-step.js';
import { definitionSignature, takeSnapshot } from '../plan/snapshot.js';
import { restoredReason, snapshotsApply, summariseReasons, verdictOf, type Verdict, type VerdictContext } from '../plan/verdict.js';
import type { SnapshotEntry } from '../store/store.js';
import { BatchError } from '../util/errors.js';
import type { FileHashes, StepResult, StepState } from '../store/types.js';
import { moveFailedOutputs } from './failed-outputs.js';
import { isInside, toRel } from '../util/paths.js';

/** What the pre-run check found, and what the run learns as it goes. */
export interface RunChecks {
  /** Code of the steps that needed a full check; filled in when a step first needs one. */
  code: Map<string, StepCode>;
  /** Steps whose stat snapshot held at the pre-run check. */
  fast: Map<string, FastVerdict>;
  /** Steps whose snapshot did not hold, with the StatCache epoch of that check. */
  misses: Map<string, number>;
  /** Steps found up to date by snapshot so far (reported with the run). */
  tally: { bySnapshot: number };
  /** Bounds the steps checked and waiting for a slot (see processStep). */
  gate: CheckGate;
}

/** Everything a run shares between its steps (11 fields: each is used by every step; the
 * file-facing ones are grouped in `verdict`, the pre-run findings in `checks`). */
export interface RunEnv {
  config: PipelineConfig;
  runId: string;
  cacheDir: string;
  /** Absolute folder of this run's step logs. */
  logDir: string;
  /** What each step's verdict is drawn from: the root, the stat cache, the env, the store,
   * --force and the output cache's index. */
  verdict: VerdictContext;
  checks: RunChecks;
  /** Output cache to restore from and store into; absent when disabled. Not read under
   * --force, always written. */
  outputCache?: CacheBackend;
  /** The executor that runs each step. */
  executorFor: (step: StepConfig) => Executor;
  /** The run's -j. */
  jobs: number;
  signal: AbortSignal;
  emit: Emit;
}

export interface StepOutcome extends StepResult {
  /** The state to record: present only when the step ran, passed and its outputs were hashed. */
  state?: StepState;
  /** The stat snapshot to record with it (see src/plan/snapshot.ts). */
  snapshot?: SnapshotEntry;
}

/** Removes a step's declared outputs before it runs, so nothing a previous run wrote
 * survives unless the step writes it again (the same result as a clean build). */
function removeOutputs(c: VerdictContext, step: StepConfig): void {
  const res = resolveSpecs(c.root, step.outputs, c.stats);
  for (const f of res.files) {
    fs.rmSync(path.resolve(c.root, f), { force: true });
    c.stats.forget(f);
  }
  for (const spec of step.outputs) {
    c.stats.forget(spec);
    if (isGlob(spec)) continue;
    const abs = path.resolve(c.root, spec);
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

/** Checks the outputs exist and stay inside the project; returns their hashes or a reason to fail. */
function verifyOutputs(c: VerdictContext, step: StepConfig): { ok: true; hashes: FileHashes; bytes: number } | { ok: false; error: string } {
  for (const spec of step.outputs) c.stats.forget(spec);
  const outs = currentOutputs(c, step);
  if (outs.missing.length > 0) {
    return { ok: false, error: `the step finished but did not write its declared output${outs.missing.length > 1 ? 's' : ''}: ${outs.missing.join(', ')}` };
  }
  const realRoot = realRootOf(c.root);
  for (const f of Object.keys(outs.hashes)) {
    const real = fs.realpathSync.native(path.resolve(c.root, f));
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

/** Bytes in a file, 0 when it is missing. */
function sizeOf(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

/** Appends a line batch writes about an attempt (its failure) to the step's log. When the
 * attempt wrote nothing there (`before`: the log's size before it; a command step's header
 * is written on its first byte), the attempt's header goes first, so every failed attempt
 * shows in the log. */
function appendAttemptLine(file: string, before: number, header: string, line: string): void {
  appendLog(file, sizeOf(file) > before ? line : `${header}${line}`);
}

/** The log's header for one attempt. */
function logHeader(env: RunEnv, name: string, a: Attempt): string {
  return `# batch: step ${name}, attempt ${a.attempt}/${a.attempts}, run ${env.runId}\n# reason: ${a.reason}\n`;
}

export function logFileName(step: string): string {
  return `${step.replace(/[^A-Za-z0-9_.@+-]/g, '_')}.log`;
}

function upToDate(name: string, snapshot?: SnapshotEntry): StepOutcome {
  return { name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0, ...(snapshot ? { snapshot } : {}) };
}

function notRun(name: string, status: 'FAIL' | 'BLOCKED', reason: string, error?: string): StepOutcome {
  return { name, status, action: 'not-run', reason, ...(error !== undefined ? { error } : {}), durationMs: 0 };
}

/** Whether every step of `names` is up to date by the proof its pre-run check found (a stat
 * snapshot, or the no-op record), and that proof still stands (no file forgotten since): for
 * each, processStep would then return `provenOutcome` without awaiting anything. */
export function allProvenStanding(env: RunEnv, names: readonly string[]): boolean {
  const c = env.verdict;
  if (!snapshotsApply(c)) return false;
  const epoch = c.stats.epoch;
  return names.every((n) => env.checks.fast.get(n)?.epoch === epoch);
}

/** processStep's result for a step whose standing proof holds (allProvenStanding). */
export function provenOutcome(env: RunEnv, name: string): StepOutcome {
  env.checks.tally.bySnapshot++;
  return upToDate(name);
}

/** Decides one step against the files as they are now (so early cutoff falls out: a rerun
 * upstream that wrote identical bytes leaves this key unchanged), and acts on its verdict:
 * up to date, restore from the output cache, run, or fail as blocked. */
export async function processStep(env: RunEnv, name: string, slots: Slots): Promise<StepOutcome> {
  const step = env.config.steps.get(name)!;
  const c = env.verdict;
  if (upToDateBySnapshot(c, env.checks, step)) return provenOutcome(env, name);
  const code = await codeOf(env, step);
  if (typeof code === 'string') return notRun(name, 'FAIL', code, code);
  // The scheduler starts every ready step at once, and each would run its full check (hashing
  // its inputs) before waiting for a slot: a first build hashed the inputs of all of them while
  // only the first `jobs` ran. The gate lets a step check only while fewer than `jobs` checked
  // steps wait to be sent to execute; it leaves once it was sent, or needs no slot.
  const leave = await env.checks.gate.enter();
  try {
    // Stopped while it waited at the gate: nothing of it is started, and its inputs are not
    // hashed (an interrupt waited for every queued step's hashing).
    if (slots.isClosed) return notStarted(env, name);
    const v = await verdictOf(c, step, code);
    switch (v.kind) {
      case 'up-to-date':
        return upToDate(name, snapshotOf(c, step, code));
      case 'blocked':
        return notRun(name, 'FAIL', summariseReasons(v.reasons));
      case 'restore': {
        // A restore takes no slot: the next step checks meanwhile (a slow download from a
        // remote cache held the place, and slots sat idle behind it).
        leave();
        const restored = await restoreStep(env, step, v);
        if (restored) return restored;
        break; // not intact: it runs
      }
      case 'run':
        break;
    }
    return await executeStep(env, step, code, v, slots, leave);
  } finally {
    leave();
  }
}

/** The step's code. The pre-run check works it out for every step whose snapshot did not
 * hold; for one whose snapshot held then but not now (a step upstream has since rewritten
 * files it reads) it is worked out here. A module that no longer compiles gives its error. */
async function codeOf(env: RunEnv, step: StepConfig): Promise<StepCode | string> {
  let code = env.checks.code.get(step.name);
  if (code) return code;
  const c = env.verdict;
  try {
    code = await kindOf(step).code(step, { root: c.root, cacheDir: env.cacheDir, store: c.store, stats: c.stats });
  } catch (e) {
    if (!(e instanceof BatchError)) throw e;
    return e.message;
  }
  env.checks.code.set(step.name, code);
  return code;
}

/** The outputs of the step's fingerprint, restored from the output cache; undefined when the
 * cached copy is not intact (the step then runs). */
async function restoreStep(env: RunEnv, step: StepConfig, v: Extract<Verdict, { kind: 'restore' }>): Promise<StepOutcome | undefined> {
  if (!env.outputCache) return undefined;
  const t = performance.now();
  const restored = await env.outputCache.restore(step, v.fp.key, env.emit, env.verdict.stats);
  if (!restored) return undefined;
  return {
    name: step.name,
    status: 'PASS',
    action: 'restored',
    reason: restoredReason(restored, v.reasons),
    source: restored.source ?? 'local',
    fromRun: restored.fromRun,
    durationMs: Math.round(performance.now() - t),
    startedAt: Date.now(),
    bytesRead: v.fp.bytesIn,
    bytesWritten: restored.bytes,
    state: { key: v.fp.key, parts: v.fp.parts, outputs: restored.outputs, runId: env.runId, at: Date.now() },
  };
}

/** A step the run stopped before starting. */
function notStarted(env: RunEnv, name: string): StepOutcome {
  const why = env.signal.aborted ? 'not started: run interrupted' : 'not started: the run stopped after a failure (use --keep-going to continue)';
  return notRun(name, 'BLOCKED', why);
}

/** Where one execution of a step writes, and why it runs. */
interface Attempt {
  attempt: number;
  attempts: number;
  logFile: string;
  /** The verdict's reasons on one line. */
  reason: string;
}

/** Runs the step (with its retries) once it holds a slot, and verifies what it wrote. `sent`
 * is called once its first attempt was handed to the executor. */
async function executeStep(env: RunEnv, step: StepConfig, code: StepCode, v: Verdict, slots: Slots, sent: () => void): Promise<StepOutcome> {
  const name = step.name;
  if (!(await slots.acquire())) return notStarted(env, name);
  const startedAt = Date.now();
  const t0 = performance.now();
  // A slot not handed on below (the step failed, or was interrupted) is given back by the
  // scheduler once the result is settled, so a failure stops the run before another step
  // can take it.
  const logFile = path.join(env.logDir, logFileName(name));
  const logRel = toRel(env.verdict.root, logFile);
  const attempts = step.retries + 1;
  const reason = summariseReasons(v.reasons);
  let lastError = '';
  let lastMetrics: Pick<StepResult, 'cpuMs' | 'peakRssBytes' | 'worker' | 'queueWaitMs'> = {};
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const a: Attempt = { attempt, attempts, logFile, reason };
    // A first attempt's log cannot exist yet (the run's log folder is new).
    const before = attempt === 1 ? 0 : sizeOf(logFile);
    const outcome = await attemptStep(env, step, code, v, a, sent);
    lastMetrics = {
      ...(outcome.cpuMs !== undefined ? { cpuMs: Math.round(outcome.cpuMs) } : {}),
      ...(outcome.peakRssBytes !== undefined ? { peakRssBytes: outcome.peakRssBytes } : {}),
      ...(outcome.remote ? { worker: outcome.remote.worker, queueWaitMs: outcome.remote.queueWaitMs } : {}),
    };
    if (outcome.ok) {
      const verified = verifyOutputs(env.verdict, step);
      if (verified.ok) {
        // A step that printed nothing (in any attempt) has no log to link to.
        const log = fs.existsSync(logFile) ? { logFile: logRel } : {};
        const base = { name, startedAt, attempts: attempt, ...log, bytesRead: v.fp.bytesIn, ...lastMetrics };
        const result: StepOutcome = { ...base, status: 'PASS', action: 'ran', reason, durationMs: Math.round(performance.now() - t0), bytesWritten: verified.bytes };
        return recordPassed(env, step, code, v.fp, verified.hashes, result, slots);
      }
      lastError = verified.error;
    } else {
      lastError = outcome.error ?? 'failed';
    }
    appendAttemptLine(logFile, before, logHeader(env, name, a), `# batch: FAIL: ${lastError}\n`);
    if (env.signal.aborted) break;
    if (attempt < attempts) env.emit({ type: 'warning', message: `step "${name}" failed (${lastError}); retry ${attempt}/${step.retries}` });
  }
  const movedTo = moveFailedOutputs(env.verdict.root, env.cacheDir, step, env.verdict.stats);
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
    bytesRead: v.fp.bytesIn,
    ...lastMetrics,
  };
}

/** One execution: its outputs removed first, its log header written, its timeout armed;
 * `sent` is called once the executor has it (a process step's request is written by then). */
async function attemptStep(env: RunEnv, step: StepConfig, code: StepCode, v: Verdict, a: Attempt, sent: () => void): Promise<ExecOutcome> {
  const root = env.verdict.root;
  const kind = kindOf(step);
  const executor = env.executorFor(step);
  env.emit({ type: 'step-start', step: step.name, attempt: a.attempt, reasons: v.reasons });
  removeOutputs(env.verdict, step);
  const header = logHeader(env, step.name, a);
  // The process executor writes the header itself, when the command first prints (a silent
  // step leaves no log); for the others it is written here.
  if (!executor.acceptsHeader) appendLog(a.logFile, header);
  const ac = new AbortController();
  const onOuter = (): void => ac.abort(new Error('interrupted'));
  if (env.signal.aborted) onOuter();
  else env.signal.addEventListener('abort', onOuter, { once: true });
  const timer = step.timeoutMs !== undefined ? setTimeout(() => ac.abort(new Error(`timed out after ${step.timeoutMs} ms`)), step.timeoutMs) : undefined;
  try {
    const running = executor.execute({
      step,
      runId: env.runId,
      root,
      inputs: v.fp.inputFiles.map((f) => path.resolve(root, f)),
      outputs: step.outputs.map((o) => path.resolve(root, o)),
      logFile: a.logFile,
      signal: ac.signal,
      runEnv: env.verdict.env,
      ship: { inputs: v.fp.parts.inputs, code: code.files, stats: env.verdict.stats },
      ...(executor.acceptsHeader ? { logHeader: header } : {}),
      ...(code.compiled ? { compiled: code.compiled } : {}),
      ...(kind.command ? { command: kind.command(step) } : {}),
    });
    sent();
    return await running;
  } finally {
    if (timer) clearTimeout(timer);
    env.signal.removeEventListener('abort', onOuter);
  }
}

/** A step that passed: its slot goes to the next step, then its new state (unless an input
 * changed while it ran), its snapshot and its outputs into the output cache. */
async function recordPassed(env: RunEnv, step: StepConfig, code: StepCode, fp: Fingerprint, outputs: FileHashes, result: StepOutcome, slots: Slots): Promise<StepOutcome> {
  // Nothing below can fail the step: its slot goes to the next step now, which executes
  // while this one checks its inputs, takes its snapshot and stores its outputs (as Ninja
  // starts the next command as soon as one exits). Releasing only resolves the waiter's
  // promise: the turn yielded here lets that step reach its executor first (a few
  // microtasks), instead of after this bookkeeping.
  slots.release();
  await new Promise<void>((resolve) => setImmediate(resolve));
  const changed = inputsChangedDuringRun(env.verdict, fp);
  if (changed.length > 0) {
    // The outputs were computed from the old bytes: do not record them as current.
    env.emit({ type: 'warning', message: `step "${step.name}": ${changed.join(', ')} changed while it ran; it will run again next time` });
    result.reason = `${result.reason}; inputs changed while running (not recorded)`;
    return result;
  }
  result.state = { key: fp.key, parts: fp.parts, outputs, runId: env.runId, at: Date.now() };
  try {
    const snapshot = snapshotOf(env.verdict, step, code, outputs);
    if (snapshot) result.snapshot = snapshot;
  } catch {
    // No snapshot: the next run does the full check instead.
  }
  // Never rejects: a failed store is a warning.
  if (env.outputCache && step.cache) await env.outputCache.save(step, fp.key, outputs, env.runId, env.emit, env.verdict.stats);
  return result;
}

/** The fast path: the step's stat snapshot proves it up to date (never under --force). The
 * pre-run verdict stands while no file was forgotten since; otherwise it is checked again. */
function upToDateBySnapshot(c: VerdictContext, checks: RunChecks, step: StepConfig): boolean {
  if (!snapshotsApply(c)) return false;
  const v = checks.fast.get(step.name);
  if (v && v.epoch === c.stats.epoch) return true;
  // Nothing forgotten since it last failed: it would fail again (the full check follows).
  if (checks.misses.get(step.name) === c.stats.epoch) return false;
  const epoch = c.stats.epoch;
  const again = checkSnapshot(c.root, c.stats, c.store, step, c.env);
  if (again) checks.fast.set(step.name, again);
  else {
    checks.fast.delete(step.name);
    checks.misses.set(step.name, epoch);
  }
  return again !== undefined;
}

/** `written`: the outputs a step just wrote and hashed. takeSnapshot refuses a snapshot when
 * any of its files was hashed within the racy window of its last change, which is the rule
 * right after a step wrote them; that is checked on them first, so the signature of every
 * input, code file and output (and of the definition) is not worked out only to be refused. */
function snapshotOf(c: VerdictContext, step: StepConfig, code: StepCode, written?: FileHashes): SnapshotEntry | undefined {
  if (written) {
    for (const f of Object.keys(written)) {
      const h = c.stats.peek(f);
      const st = c.stats.peekStat(f);
      if (!h || !st || !h.stable || h.hashedAt - Math.max(st.mtimeMs, st.ctimeMs) <= RACY_WINDOW_MS) return undefined;
    }
  }
  const files = kindOf(step).snapshotCode(step, code);
  return takeSnapshot(c.root, c.stats, step, definitionSignature(step, c.env), files);
}

/** Input files whose content differs now from what the fingerprint hashed before the run. */
function inputsChangedDuringRun(c: VerdictContext, fp: Fingerprint): string[] {
  const changed: string[] = [];
  for (const [f, h] of Object.entries(fp.parts.inputs)) {
    c.stats.forget(f);
    if (c.stats.get(f)?.hash !== h) changed.push(f);
  }
  return changed;
}
