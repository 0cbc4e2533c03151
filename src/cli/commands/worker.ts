import os from 'node:os';
import path from 'node:path';
import { serveQueue } from '../../app/queue-worker.js';
import { checkRedisUrl } from '../../executors/queue/redis.js';
import { queueName } from '../../executors/queue/select.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

/** `batch worker --redis URL [-j N] [--queue NAME]`: serves a coordinator's queue until
 * stopped (Ctrl-C or SIGTERM: running steps finish first; a second one stops them). */
export async function workerCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  if (args.redis === undefined) throw new BatchError('`batch worker` needs --redis redis://[:PASSWORD@]HOST:PORT (rediss:// for TLS)', 2);
  if (args.positionals.length > 0) throw new BatchError('`batch worker` takes no step names', 2);
  const url = checkRedisUrl(args.redis, '--redis');
  const queue = queueName(args.queue, path.resolve(args.cwd ?? process.cwd()));
  // main.ts aborts `signal` on the first Ctrl-C and exits on the second; the worker's own
  // handler lets a second one stop its running steps first.
  const hard = new AbortController();
  let seen = 0;
  const onSignal = (): void => {
    if (++seen >= 2) hard.abort();
  };
  process.prependListener('SIGINT', onSignal);
  process.prependListener('SIGTERM', onSignal);
  try {
    await serveQueue({ url, queue, jobs: args.jobs ?? os.availableParallelism(), say: (l) => io.say(l), signal, hardSignal: hard.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
