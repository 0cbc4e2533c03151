// The Redis URL and the optional peer packages (bullmq, ioredis), loaded only when a queue
// is used: a project that never distributes installs neither.
import { BatchError } from '../../util/errors.js';
import { importPeer, requirePeer, type Peer } from '../../util/optional-peer.js';
import { importEsm } from '../../util/import-esm.js';

/** The parts of the two packages batch uses. */
export interface QueueLibs {
  bullmq: Pick<typeof import('bullmq'), 'Queue' | 'QueueEvents' | 'Worker'>;
  ioredis: { Redis: typeof import('ioredis').Redis };
}

const FEATURE = 'The Redis executor (`--executor redis://…`, `batch worker`)';

let loaded: Promise<QueueLibs> | undefined;

/** bullmq and ioredis, imported on first use. Both are optional peers (src/util/optional-peer.ts):
 * missing, or of a version outside the declared range, they stop the run with the advice to add
 * them to the project's devDependencies. */
export function loadQueueLibs(): Promise<QueueLibs> {
  if (!loaded) {
    let bull: Peer;
    let redis: Peer;
    try {
      bull = requirePeer('bullmq', FEATURE);
      redis = requirePeer('ioredis', FEATURE);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    loaded = Promise.all([importPeer(bull, () => importEsm<typeof import('bullmq')>('bullmq')), importPeer(redis, () => importEsm<typeof import('ioredis')>('ioredis'))]).then(
      ([b, r]): QueueLibs => ({ bullmq: { Queue: b.Queue, QueueEvents: b.QueueEvents, Worker: b.Worker }, ioredis: { Redis: r.Redis } }),
    );
    loaded.catch(() => (loaded = undefined));
  }
  return loaded;
}

/** Throws at once (exit 2, with the advice) when bullmq or ioredis is missing or of a version
 * outside the declared range; the import itself can then go on in the background. */
export function requireQueueLibs(): void {
  requirePeer('bullmq', FEATURE);
  requirePeer('ioredis', FEATURE);
}

/** A checked redis:// or rediss:// URL. */
export function checkRedisUrl(url: string, where: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BatchError(`${where}: ${JSON.stringify(url)} is not a URL; expected redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://… (TLS)`, 2);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new BatchError(`${where}: ${JSON.stringify(redact(url))} must start with redis:// or rediss:// (TLS)`, 2);
  if (!u.hostname) throw new BatchError(`${where}: ${JSON.stringify(redact(url))} names no host`, 2);
  return url;
}

/** The URL without its password, for messages and records. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(bad URL)';
  }
}

/** Connection options for BullMQ from a URL (ioredis reads host, port, user, password, db and
 * TLS from it). `giveUpAfterMs`: stop reconnecting after about that long (the coordinator,
 * which must fail a run whose Redis went away); absent: reconnect for ever (a worker). */
export function connectionOptions(url: string, giveUpAfterMs?: number): { url: string; maxRetriesPerRequest: null; retryStrategy: (times: number) => number | null; enableOfflineQueue: boolean } {
  let since = Date.now();
  return {
    url,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times) => {
      // `times` starts again at 1 after each successful connection.
      if (times === 1) since = Date.now();
      if (giveUpAfterMs !== undefined && Date.now() - since > giveUpAfterMs) return null;
      return Math.min(100 * times, 1000);
    },
  };
}
