import { PoolExecutor } from './pool-executor.js';
import { ProcessExecutor } from './process-executor.js';
import type { Executor } from './types.js';

/** The executors a step kind can name (kinds/kind.ts: `executor`). */
export type ExecutorName = 'pool' | 'process';

/** What a run (or a session of runs: watch mode, the daemon) executes steps with: one of each
 * executor, started lazily by the executor itself, closed together. */
export class ExecutorRegistry {
  private constructor(private readonly byName: ReadonlyMap<ExecutorName, Executor>) {}

  /** The worker pool (`jobs` threads, each with `workerMemoryMb` of heap) and the process
   * executor. A new executor is one more entry here. */
  static create(jobs: number, workerMemoryMb?: number): ExecutorRegistry {
    return new ExecutorRegistry(
      new Map<ExecutorName, Executor>([
        ['pool', new PoolExecutor({ threads: jobs, ...(workerMemoryMb ? { memoryMb: workerMemoryMb } : {}) })],
        ['process', new ProcessExecutor()],
      ]),
    );
  }

  /** For tests and embedders: executors of one's own. */
  static of(executors: Partial<Record<ExecutorName, Executor>>): ExecutorRegistry {
    return new ExecutorRegistry(new Map(Object.entries(executors) as [ExecutorName, Executor][]));
  }

  get(name: ExecutorName): Executor {
    const e = this.byName.get(name);
    if (!e) throw new Error(`no executor "${name}" in this registry`);
    return e;
  }

  /** Every executor ready to take steps (see Executor.ready); rejects with the first failure. */
  async ready(): Promise<void> {
    await Promise.all([...new Set(this.byName.values())].map((e) => e.ready?.()));
  }

  /** Closes every executor (stopping their threads and processes); never rejects. */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.byName.values()].map((e) => e.close()));
  }
}
