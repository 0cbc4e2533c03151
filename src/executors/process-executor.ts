import { killGroup, startChild } from './child-run.js';
import { helperKinds } from './helper-kinds.js';
import { HelperSpawner, MAX_HELPERS, type StartChild } from './spawner.js';
import { KILL_GRACE_MS, type ExecOutcome, type ExecRequest, type Executor } from './types.js';
import { paramsEnv } from '../batchfile/params-env.js';

/** Live process groups of running command steps, so an interrupted batch can kill them all. */
const liveGroups = new Set<number>();
export function killAllCommandSteps(): void {
  for (const g of liveGroups) killGroup(g, 'SIGKILL');
}

/** How command steps start: `native`, through the native forkserver (the Node helper when it
 * was not built or does not start), `node`, through the Node spawn helper, `off`, from batch
 * itself. */
export type HelperMode = 'native' | 'node' | 'off';

export interface ProcessExecutorOptions {
  /** Default: helperMode(). */
  helper?: HelperMode;
  /** Helpers at most (default MAX_HELPERS). One is started only when every other is busy, so
   * a run never has more than it runs steps at once. */
  helpers?: number;
}

/** From BATCH_SPAWN_HELPER (a diagnosis switch, and the A/B of the benchmark): `0` starts
 * steps from batch itself, `node` through the Node spawn helper; anything else, or unset,
 * through the native forkserver when it was built. */
export function helperMode(env: NodeJS.ProcessEnv = process.env): HelperMode {
  const v = env.BATCH_SPAWN_HELPER;
  return v === '0' ? 'off' : v === 'node' ? 'node' : 'native';
}

/** Runs `command` steps as child processes in their own process group, output to the log.
 * A timeout or interrupt sends SIGTERM to the group, then SIGKILL after a grace period;
 * anything the command leaves running after it exits is killed and fails the step. */
export class ProcessExecutor implements Executor {
  readonly acceptsHeader = true;
  private readonly helper: HelperSpawner | undefined;
  private readonly start: StartChild;
  /** The environment of the current run's steps: the run's (process.env, or a served run's
   * client's) is copied once per run (copying process.env costs ~50 µs, each variable a call
   * into C++), not once per step. */
  private env: { runId: string; root: string; base: NodeJS.ProcessEnv; env: Record<string, string> } | undefined;

  constructor(opts: ProcessExecutorOptions = {}) {
    const mode = opts.helper ?? helperMode();
    this.helper = mode === 'off' ? undefined : new HelperSpawner(opts.helpers ?? MAX_HELPERS, helperKinds(mode));
    this.start = this.helper ? this.helper.start : startChild;
  }

  async execute(req: ExecRequest): Promise<ExecOutcome> {
    const { step } = req;
    const base = this.runEnv(req.runId, req.root, req.runEnv);
    const env = req.env ? withVars(base, req.env) : base;
    if (!req.command) return { ok: false, error: `step "${step.name}": its kind names no program to start` };
    const { file, args } = req.command;
    let pid: number | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (pid === undefined) return;
      killGroup(pid, 'SIGTERM');
      const p = pid;
      killTimer = setTimeout(() => killGroup(p, 'SIGKILL'), KILL_GRACE_MS);
    };
    // An abort before the pid is known takes effect as soon as it is.
    const onAbort = (): void => stop();
    req.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const spec = { file, args, cwd: req.root, env, extraEnv: { ...paramsEnv(step), BATCH_STEP: step.name }, logFile: req.logFile, ...(req.logHeader ? { header: req.logHeader } : {}) };
      const end = await this.start(spec, (p) => {
        pid = p;
        liveGroups.add(p);
        if (req.signal.aborted) stop();
      });
      if (end.error !== undefined) return { ok: false, error: end.error };
      const metrics: Pick<ExecOutcome, 'cpuMs' | 'peakRssBytes'> = {};
      if (end.cpuMs !== undefined) metrics.cpuMs = end.cpuMs;
      if (end.peakRssBytes !== undefined) metrics.peakRssBytes = end.peakRssBytes;
      if (req.signal.aborted) return { ok: false, error: String((req.signal.reason as Error | undefined)?.message ?? 'aborted'), ...metrics };
      if (end.signal) return { ok: false, error: `killed by ${end.signal}`, ...metrics };
      if (end.code !== 0) return { ok: false, error: `exit code ${end.code}`, ...metrics };
      if (end.leftBehind) return { ok: false, error: 'the command left processes running after it exited (they were killed)', ...metrics };
      return { ok: true, ...metrics };
    } finally {
      if (killTimer) clearTimeout(killTimer);
      req.signal.removeEventListener('abort', onAbort);
      if (pid !== undefined) liveGroups.delete(pid);
    }
  }

  private runEnv(runId: string, root: string, base: NodeJS.ProcessEnv): Record<string, string> {
    if (this.env?.runId === runId && this.env.root === root && this.env.base === base) return this.env.env;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
    Object.assign(env, { BATCH_RUN_ID: runId, BATCH_ROOT: root });
    this.env = { runId, root, base, env };
    return env;
  }

  async close(): Promise<void> {
    killAllCommandSteps();
    await this.helper?.close();
  }
}

/** A copy of `env` with `vars` set (null: removed). */
function withVars(env: Record<string, string>, vars: Record<string, string | null>): Record<string, string> {
  const out = { ...env };
  for (const [k, v] of Object.entries(vars)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}
