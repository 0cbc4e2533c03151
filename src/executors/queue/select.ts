// Which executor a run uses: --executor over the Batchfile's `executor:`; "local" (or
// neither) runs steps here.
import { BatchError } from '../../util/errors.js';
import { checkQueueName, defaultQueueName, stallSettings } from './protocol.js';
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

export function queueName(flag: string | undefined, root: string): string {
  const name = flag ?? defaultQueueName(root);
  const bad = checkQueueName(name);
  if (bad) throw new BatchError(`--queue: ${bad}`, 2);
  return name;
}

/** Connects the coordinator's side; the stall settings come from BATCH_QUEUE_* (see
 * protocol.ts) and are published for the workers. */
export function openRemote(url: string, queue: string, warn: (m: string) => void): Promise<QueueExecutor> {
  let stall;
  try {
    stall = stallSettings();
  } catch (e) {
    throw new BatchError((e as Error).message, 2);
  }
  return QueueExecutor.open({ url, queue, stall, warn });
}
