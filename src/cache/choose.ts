import type { RemoteDef } from '../batchfile/remote-def.js';
import type { Store } from '../store/store.js';
import { parseSize } from '../util/duration.js';
import { BatchError } from '../util/errors.js';
import type { CacheBackend } from './backend.js';
import { LocalOutputCache } from './local/output-cache.js';
import { resolveRemote, type RemoteFlags, type RemoteSettings } from './remote/settings.js';

/** The Batchfile's `cache:` block, validated. */
export interface CacheConfig {
  enabled: boolean;
  maxBytes: number;
  /** `cache.remote`: a shared remote cache behind the local one. */
  remote?: RemoteDef;
}

/** What the command line says about the cache. */
export interface CacheFlags {
  /** False with --no-cache: neither cache is read or written. */
  enabled: boolean;
  /** --max-size, overriding the Batchfile's `cache.maxSize`. */
  maxSize?: string;
  /** --remote-cache, --remote-cache-team, --remote-cache-read-only. */
  remote?: RemoteFlags;
}

/** Where the project keeps it, and what a remote's settings are read from. */
export interface CachePlace {
  root: string;
  cacheDir: string;
  store: Store;
  /** BATCH_REMOTE_CACHE_* (token and signing key come only from here). */
  env: NodeJS.ProcessEnv;
  /** The Batchfile's path as shown in errors. */
  batchfileName: string;
}

/** The output cache a command uses, chosen here and nowhere else, from the Batchfile's
 * `cache:` block, the flags and the environment; undefined when either turned it off.
 * `run`: opened to restore and store, under the project lock (a killed run's temp files are
 * cleared, the limit is recorded), with the shared remote behind the local cache when one is
 * configured; `read`: the local cache, only looked up (`explain`, `--dry-run`, which hold no
 * lock; they ask the remote through remote/probe.ts, see app/explain.ts).
 * Rejects with a BatchError (exit 2) for a bad flag, variable or setting. The remote backend
 * (fetch, crypto, the payload code) is loaded only when a remote is configured: a run without
 * one, a no-op above all, does not pay for loading it. */
export async function chooseCache(config: CacheConfig, flags: CacheFlags, place: CachePlace, purpose: 'run' | 'read'): Promise<CacheBackend | undefined> {
  if (!config.enabled || !flags.enabled) return undefined;
  let maxBytes = config.maxBytes;
  if (flags.maxSize !== undefined) {
    const n = parseSize(flags.maxSize);
    if (n === undefined) throw new BatchError(`--max-size: ${JSON.stringify(flags.maxSize)} is not a size like "2GB" or a number of bytes`, 2);
    maxBytes = n;
  }
  const opts = { root: place.root, cacheDir: place.cacheDir, store: place.store, maxBytes };
  if (purpose === 'read') return new LocalOutputCache(opts);
  const local = LocalOutputCache.forRun(opts);
  const remote = remoteSettings(config, flags, place);
  if (!remote) return local;
  const { RemoteOutputCache } = await import('./remote/backend.js');
  return new RemoteOutputCache(local, remote, place.root, place.cacheDir);
}

/** The remote cache's settings when one is configured and the cache is on; undefined
 * otherwise. Throws a BatchError (exit 2) for a bad setting. */
export function remoteSettings(config: CacheConfig, flags: CacheFlags, place: Pick<CachePlace, 'env' | 'batchfileName'>): RemoteSettings | undefined {
  if (!config.enabled || !flags.enabled) return undefined;
  return resolveRemote(config.remote, flags.remote ?? { readOnly: false }, place.env, place.batchfileName);
}
