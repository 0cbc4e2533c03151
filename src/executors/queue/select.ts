// Which executor a run uses: --executor over the Batchfile's `executor:`; "local" (or
// neither) runs steps here.
import { BatchError } from '../../util/errors.js';
import { checkQueueName, defaultQueueName, stallSettings, type FileMode } from './protocol.js';
import type { Shipper } from './ship.js';
import { QueueExecutor } from './queue-executor.js';
import { checkRedisUrl } from './redis.js';

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

/** Connects the coordinator's side; the stall settings come from BATCH_QUEUE_* (see
 * protocol.ts) and are published for the workers. */
export function openRemote(url: string, queue: string, warn: (m: string) => void, shipper?: Shipper): Promise<QueueExecutor> {
  let stall;
  try {
    stall = stallSettings();
  } catch (e) {
    throw new BatchError((e as Error).message, 2);
  }
  return QueueExecutor.open({ url, queue, stall, warn, ...(shipper ? { shipper } : {}) });
}
