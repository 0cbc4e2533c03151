import type { RemoteDef } from '../batchfile/remote-def.js';
import type { Store } from '../store/store.js';
import { parseSize } from '../util/duration.js';
import { BatchError } from '../util/errors.js';
import { EMPTY_STATUS, type CacheBackend } from './backend.js';
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
  /** The run store; absent only for `status` in a project no run has created one in. */
  store: Store | undefined;
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
 * lock; they ask the remote through remote/probe.ts, see app/explain.ts); `status` (`batch
 * cache status`): the local cache of a read-only store (none before a run created its index),
 * with the remote behind it when one is configured, to ask whether it answers; `maintain`
 * (`batch cache prune`, `batch clean --cache`, under the lock the caller holds): the local
 * cache, with the remote behind it (whose server's storage is not pruned from here).
 * Rejects with a BatchError (exit 2) for a bad flag, variable or setting. The remote backend
 * (fetch, crypto, the payload code) is loaded only when a remote is configured: a run without
 * one, a no-op above all, does not pay for loading it. */
export type CachePurpose = 'run' | 'read' | 'status' | 'maintain';

export async function chooseCache(config: CacheConfig, flags: CacheFlags, place: CachePlace, purpose: CachePurpose): Promise<CacheBackend | undefined> {
  if (!config.enabled || !flags.enabled) return undefined;
  let maxBytes = config.maxBytes;
  if (flags.maxSize !== undefined) {
    const n = parseSize(flags.maxSize);
    if (n === undefined) throw new BatchError(`--max-size: ${JSON.stringify(flags.maxSize)} is not a size like "2GB" or a number of bytes`, 2);
    maxBytes = n;
  }
  const local = localCache(place, maxBytes, purpose);
  if (purpose === 'read') return local;
  const remote = remoteSettings(config, flags, place);
  if (!remote) return local ?? (purpose === 'status' ? EMPTY_CACHE : undefined);
  const { RemoteOutputCache } = await import('./remote/backend.js');
  return new RemoteOutputCache(local, remote, place.root, place.cacheDir);
}

function localCache(place: CachePlace, maxBytes: number, purpose: CachePurpose): LocalOutputCache | undefined {
  const { store } = place;
  if (!store) {
    if (purpose === 'status') return undefined;
    throw new Error(`chooseCache(${purpose}): the run store is required`);
  }
  const opts = { root: place.root, cacheDir: place.cacheDir, store, maxBytes };
  if (purpose === 'run') return LocalOutputCache.forRun(opts);
  if (purpose === 'status') return LocalOutputCache.readOnly(opts);
  return new LocalOutputCache(opts);
}

/** `batch cache status` before any run stored an output, with no remote configured. */
const EMPTY_CACHE: CacheBackend = {
  name: 'local',
  lookup: () => Promise.resolve(undefined),
  restore: () => Promise.resolve(undefined),
  save: () => Promise.resolve(),
  status: () => Promise.resolve(EMPTY_STATUS),
  prune: () => Promise.resolve({ evicted: { entries: 0, files: 0, bytes: 0 }, broken: 0, orphans: { files: 0, bytes: 0 }, tmpFiles: 0 }),
};

/** The remote cache's settings when one is configured and the cache is on; undefined
 * otherwise. Throws a BatchError (exit 2) for a bad setting. */
export function remoteSettings(config: CacheConfig, flags: CacheFlags, place: Pick<CachePlace, 'env' | 'batchfileName'>): RemoteSettings | undefined {
  if (!config.enabled || !flags.enabled) return undefined;
  return resolveRemote(config.remote, flags.remote ?? { readOnly: false }, place.env, place.batchfileName);
}
