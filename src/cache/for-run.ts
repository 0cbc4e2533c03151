/** The one place a run's output cache is chosen: the local cache, with the shared remote one
 * behind it when a remote is configured (Batchfile `cache.remote`, flags, environment). */
import type { PipelineConfig } from '../batchfile/config.js';
import type { Store } from '../store/store.js';
import { cacheForRun } from './local/output-cache.js';
import { resolveRemote, type RemoteFlags } from './remote/settings.js';
import type { OutputCache } from './backend.js';

export interface OutputCacheRequest {
  config: PipelineConfig;
  /** False with --no-cache: neither cache is read or written. */
  flag: boolean;
  maxSizeFlag: string | undefined;
  remoteFlags: RemoteFlags;
  env: NodeJS.ProcessEnv;
  root: string;
  cacheDir: string;
  store: Store;
  /** The Batchfile's path as shown in errors. */
  batchfileName: string;
}

/** Rejects with a BatchError (exit 2) for a bad flag, variable or setting. The remote backend
 * (fetch, crypto, the payload code) is loaded only when a remote is configured: a run without
 * one, a no-op above all, does not pay for loading it. */
export async function outputCacheForRun(r: OutputCacheRequest): Promise<OutputCache | undefined> {
  const c = r.config.cache;
  const local = cacheForRun({ enabled: c.enabled, flag: r.flag, maxBytes: c.maxBytes, maxSizeFlag: r.maxSizeFlag, root: r.root, cacheDir: r.cacheDir, store: r.store });
  if (!local) return undefined;
  const remote = resolveRemote(c.remote, r.remoteFlags, r.env, r.batchfileName);
  if (!remote) return local;
  const { RemoteOutputCache } = await import('./remote/backend.js');
  return new RemoteOutputCache(local, remote, r.root, r.cacheDir);
}
