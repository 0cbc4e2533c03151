// Which executor a run uses: --executor over the Batchfile's `executor:`; "local" (or
// neither) runs steps here.
import { BatchError } from '../../util/errors.js';
import { checkQueueName, defaultQueueName, stallSettings, type FileMode } from './protocol.js';
import type { Shipper } from './ship.js';
import { QueueExecutor } from './queue-executor.js';
import { checkRedisUrl, loadQueueLibs, requireQueueLibs } from './redis.js';
import type { ExecOutcome, ExecRequest, Executor } from '../types.js';
import { mark } from '../../util/timing.js';

/** Steps in flight at once with workers elsewhere, when -j is not given: the queue holds
 * them until a worker is free, so this only bounds what the coordinator tracks. */
export const REMOTE_DEFAULT_JOBS = 64;

/** The Redis URL a run sends its steps to, or undefined to run them here. */
export function remoteUrl(flag: string | undefined, batchfile: string | undefined): string | undefined {
  if (flag === 'local') return undefined;
  if (flag !== undefined) return checkRedisUrl(flag, '--executor');
  return batchfile === undefined ? undefined : checkRedisUrl(batchfile, 'Batchfile executor');
}

/** How files reach the workers: the flag, else BATCH_WORKER_FILES, else `shared`. */
export function workerFiles(flag: string | undefined, env: NodeJS.ProcessEnv): FileMode {
  const [v, from] = flag !== undefined ? [flag, '--worker-files'] : env.BATCH_WORKER_FILES ? [env.BATCH_WORKER_FILES, 'BATCH_WORKER_FILES'] : ['shared', ''];
  if (v === 'shared' || v === 'cache') return v;
  throw new BatchError(`${from}: ${JSON.stringify(v)} is not a file mode; use shared (the workers see the project folder) or cache (files travel through the remote cache server)`, 2);
}

export function queueName(flag: string | undefined, root: string): string {
  const name = flag ?? defaultQueueName(root);
  const bad = checkQueueName(name);
  if (bad) throw new BatchError(`--queue: ${bad}`, 2);
  return name;
}

/** Starts importing bullmq and ioredis (no connection): a run whose --executor names Redis
 * calls it as it starts, so the ~1 s import overlaps loading and checking the Batchfile. A
 * failure is left for the executor to report. */
export function prefetchQueueLibs(): void {
  loadQueueLibs().catch(() => {});
}

/** The coordinator's side, connected lazily; the stall settings come from BATCH_QUEUE_* (see
 * protocol.ts) and are published for the workers once connected. Throws at once for bad
 * settings or missing packages. */
export function openRemote(url: string, queue: string, warn: (m: string) => void, shipper?: Shipper): LazyQueueExecutor {
  let stall;
  try {
    stall = stallSettings();
  } catch (e) {
    throw new BatchError((e as Error).message, 2);
  }
  requireQueueLibs();
  return new LazyQueueExecutor(() => QueueExecutor.open({ url, queue, stall, warn, ...(shipper ? { shipper } : {}) }));
}

/** The Redis executor as a run sees it: BullMQ and ioredis load as soon as it is made,
 * Redis is connected at the first step that may run (`warm`, from the pre-run check) and
 * awaited before the first one starts (`ready`), so a no-op run never connects. */
export class LazyQueueExecutor implements Executor {
  readonly acceptsHeader = true;
  private opening: Promise<QueueExecutor> | undefined;

  constructor(private readonly connect: () => Promise<QueueExecutor>) {
    prefetchQueueLibs();
  }

  private open(): Promise<QueueExecutor> {
    if (!this.opening) {
      mark('queue connect started');
      const p = this.connect();
      this.opening = p;
      // A failed connection is tried again by the next run of the session (watch mode).
      p.catch(() => {
        if (this.opening === p) this.opening = undefined;
      });
    }
    return this.opening;
  }

  warm(): void {
    this.open().catch(() => {});
  }

  async ready(): Promise<void> {
    await this.open();
  }

  async execute(req: ExecRequest): Promise<ExecOutcome> {
    let q: QueueExecutor;
    try {
      q = await this.open();
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
    return q.execute(req);
  }

  async close(): Promise<void> {
    const o = this.opening;
    this.opening = undefined;
    await o?.then((q) => q.close(), () => {});
  }
}
