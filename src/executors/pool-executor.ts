import { createRequire } from 'node:module';
import type { Piscina as PiscinaPool } from 'piscina';
import { mark } from '../util/timing.js';
import type { READY, WorkerResult, WorkerTask } from './worker.js';
import { KILL_GRACE_MS, type ExecOutcome, type ExecRequest, type Executor } from './types.js';

export interface PoolOptions {
  threads: number;
  /** Per-worker old-generation heap limit in MB; a step that exceeds it fails. */
  memoryMb?: number;
}

const require = createRequire(import.meta.url);

/** Runs `run` steps in a Piscina pool of worker threads. Piscina is loaded on first use,
 * so a run with nothing to execute never pays for it. A timed-out or interrupted step is
 * asked to stop through ctx.signal, then its worker is terminated; the pool replaces it. */
export class PoolExecutor implements Executor {
  /** One promise, so steps that start together share one pool (each used to create its own:
   * an extra worker started, and a pool that was never destroyed). */
  private pool: Promise<PiscinaPool> | undefined;
  /** Pools created so far (tests). */
  created = 0;
  /** A step was sent to the pool (BATCH_TIMING marks the first). */
  private sent = false;

  constructor(private readonly opts: PoolOptions) {}

  /** Whether the pool was asked to start (by `warm` or a step). */
  get started(): boolean {
    return this.pool !== undefined;
  }

  /** Starts the pool and all its threads now, so they load while the run plans its first
   * steps instead of after the first step is ready (the CPU-bound benchmark's fixed cost).
   * Synchronous: the threads are booting when this returns. (Through `import()` the pool was
   * created several event-loop turns later, after the first steps were planned: with no
   * compile to hide that behind, a `--force` rerun, the first step then waited for Piscina
   * to load and for its thread to boot.) */
  warm(): void {
    if (!this.pool) mark('threads starting');
    void this.getPool(this.opts.threads).catch(() => {});
  }

  /** One promise, made once: steps that start together share one pool. */
  private getPool(minThreads = 0): Promise<PiscinaPool> {
    if (!this.pool) {
      try {
        this.pool = Promise.resolve(this.create(minThreads));
      } catch (e) {
        this.pool = Promise.reject(e as Error);
      }
    }
    return this.pool;
  }

  private create(minThreads: number): PiscinaPool {
    // CommonJS require: loads in this turn (Piscina ships CommonJS as its `require` entry).
    const { Piscina } = require('piscina') as typeof import('piscina');
    this.created++;
    return new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads,
      maxThreads: this.opts.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      ...(this.opts.memoryMb ? { resourceLimits: { maxOldGenerationSizeMb: this.opts.memoryMb } } : {}),
    });
  }

  async execute(req: ExecRequest): Promise<ExecOutcome> {
    const pool = await this.getPool();
    // Looked up here: node:worker_threads loads with Piscina's threads, not on every start.
    const { port1, port2 } = new (process.getBuiltinModule('node:worker_threads').MessageChannel)();
    const hard = new AbortController();
    let graceTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      port1.postMessage('abort');
      graceTimer = setTimeout(() => hard.abort(req.signal.reason), KILL_GRACE_MS);
    };
    if (req.signal.aborted) onAbort();
    else req.signal.addEventListener('abort', onAbort, { once: true });
    const task: WorkerTask = {
      module: req.compiled!,
      ctx: {
        step: req.step.name,
        params: req.step.params,
        ...(req.step.match ? { match: req.step.match } : {}),
        inputs: req.inputs,
        outputs: req.outputs,
        root: req.root,
        runId: req.runId,
      },
      logFile: req.logFile,
      port: port2,
      // A worker thread starts with a copy of this process's environment: a run with another
      // one (served by the daemon for a client) sends it with every task.
      ...(req.runEnv !== process.env ? { runEnv: req.runEnv } : {}),
      ...(req.env ? { env: req.env } : {}),
    };
    if (!this.sent) {
      this.sent = true;
      mark('first run step sent');
    }
    try {
      const res = (await pool.run(task, { transferList: [port2], signal: hard.signal })) as WorkerResult;
      if (req.signal.aborted) return { ok: false, error: String((req.signal.reason as Error | undefined)?.message ?? 'aborted') };
      const out: ExecOutcome = { ok: true };
      if (res.cpuMs !== undefined) out.cpuMs = res.cpuMs;
      return out;
    } catch (e) {
      if (req.signal.aborted) return { ok: false, error: String((req.signal.reason as Error | undefined)?.message ?? 'aborted') };
      const err = e as Error & { code?: string };
      const msg = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `worker ran out of memory (limit ${this.opts.memoryMb ?? 'default'} MB)` : (err?.message ?? String(e));
      return { ok: false, error: msg };
    } finally {
      if (graceTimer) clearTimeout(graceTimer);
      req.signal.removeEventListener('abort', onAbort);
      port1.close();
    }
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    // A pool that failed to start (its error went to the steps that asked for it) has
    // nothing to destroy.
    const pool = p ? await p.catch(() => undefined) : undefined;
    if (pool) await this.untilLoaded(pool);
    await pool?.destroy();
  }

  /** Waits (bounded) until each thread has loaded its module. Node 20 aborts the whole process
   * when a worker thread is terminated while it loads an ES module through require() (Piscina
   * loads ours that way): a run whose steps all turned out up to date, or that ran fewer steps
   * than it has threads, could end while warmed threads were still loading. A thread that has
   * loaded answers at once. */
  private async untilLoaded(pool: PiscinaPool): Promise<void> {
    const ready: typeof READY = 'ready';
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)));
    await Promise.race([Promise.allSettled(Array.from({ length: this.opts.threads }, () => pool.run(ready))), bound]);
    clearTimeout(timer);
  }
}
