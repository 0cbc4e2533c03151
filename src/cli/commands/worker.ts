import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serveQueue } from '../../app/queue-worker.js';
import { ShippedWork } from '../../app/shipped-job.js';
import { badRemoteUrl } from '../../batchfile/remote-def.js';
import { resolveRemote } from '../../cache/remote/settings.js';
import { transferOf } from '../../executors/queue/transfer.js';
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
  const shipped = shippedWork(args);
  if (shipped && args.queue === undefined) {
    throw new BatchError('`batch worker --remote-cache` (file mode cache) needs --queue NAME, the name the coordinator uses: a worker that does not see the project folder cannot derive it', 2);
  }
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
    await serveQueue({ url, queue, jobs: args.jobs ?? os.availableParallelism(), say: (l) => io.say(l), signal, hardSignal: hard.signal, ...(shipped ? { shipped } : {}) });
  } finally {
    shipped?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

/** File mode `cache`: the cache server (--remote-cache; --remote-cache-team, else
 * BATCH_REMOTE_CACHE_TEAM; token and signing key from the environment) and the work
 * folder (--workdir, default .batch-work here). Undefined when no server is named. */
function shippedWork(args: Args): ShippedWork | undefined {
  if (args.remoteCache === undefined) {
    if (args.workdir !== undefined || args.remoteCacheTeam !== undefined) throw new BatchError('--workdir and --remote-cache-team are for file mode cache: give the cache server too (--remote-cache URL)', 2);
    return undefined;
  }
  const why = badRemoteUrl(args.remoteCache);
  if (why) throw new BatchError(`--remote-cache: ${why}`, 2);
  const settings = resolveRemote(undefined, { readOnly: false, url: args.remoteCache, ...(args.remoteCacheTeam !== undefined ? { team: args.remoteCacheTeam } : {}) }, process.env, 'the worker');
  if (!settings) return undefined;
  const workdir = path.resolve(args.workdir ?? '.batch-work');
  try {
    fs.mkdirSync(workdir, { recursive: true });
  } catch (e) {
    throw new BatchError(`--workdir ${workdir}: ${(e as Error).message}`, 2);
  }
  return new ShippedWork(transferOf(settings), workdir);
}
