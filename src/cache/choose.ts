import type { Store } from '../store/store.js';
import { parseSize } from '../util/duration.js';
import { BatchError } from '../util/errors.js';
import type { CacheBackend } from './backend.js';
import { LocalOutputCache } from './local/output-cache.js';

/** The Batchfile's `cache:` block, validated. */
export interface CacheConfig {
  enabled: boolean;
  maxBytes: number;
}

/** What the command line says about the cache. */
export interface CacheFlags {
  /** False with --no-cache. */
  enabled: boolean;
  /** --max-size, overriding the Batchfile's `cache.maxSize`. */
  maxSize?: string;
}

/** Where the project keeps it. */
export interface CachePlace {
  root: string;
  cacheDir: string;
  store: Store;
}

/** The output cache a command uses, chosen here and nowhere else, from the Batchfile's
 * `cache:` block and the flags; undefined when either turned it off. `run`: opened to restore
 * and store, under the project lock (a killed run's temp files are cleared, the limit is
 * recorded); `read`: only looked up (`explain`, `--dry-run`, which hold no lock). */
export function chooseCache(config: CacheConfig, flags: CacheFlags, place: CachePlace, purpose: 'run' | 'read'): CacheBackend | undefined {
  if (!config.enabled || !flags.enabled) return undefined;
  let maxBytes = config.maxBytes;
  if (flags.maxSize !== undefined) {
    const n = parseSize(flags.maxSize);
    if (n === undefined) throw new BatchError(`--max-size: ${JSON.stringify(flags.maxSize)} is not a size like "2GB" or a number of bytes`, 2);
    maxBytes = n;
  }
  const opts = { root: place.root, cacheDir: place.cacheDir, store: place.store, maxBytes };
  const local = purpose === 'run' ? LocalOutputCache.forRun(opts) : new LocalOutputCache(opts);
  // A remote backend, when the `cache:` block names one, joins here behind the local one:
  // `new ChainedCache([local, remote])` (chain.ts).
  return local;
}
