import type { StepConfig } from '../batchfile/config.js';
import type { Emit } from '../schedule/events.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { FileHashes, RemoteRunReport } from '../store/types.js';

export type { RemoteRunReport };

export interface Restored {
  outputs: FileHashes;
  bytes: number;
  /** Run that first produced these outputs. */
  fromRun: string;
  /** Which cache had them (absent: the local one). */
  source?: 'local' | 'remote';
}

export interface Evicted {
  entries: number;
  /** Distinct files (blobs) deleted. */
  files: number;
  bytes: number;
}

export interface PruneResult {
  evicted: Evicted;
  /** Entries dropped because a blob they need is gone. */
  broken: number;
  /** Blobs no entry refers to (left by a kill or by `batch clean --store`), removed. */
  orphans: { files: number; bytes: number };
  tmpFiles: number;
}

/** What the local cache holds. */
export interface CacheStatus {
  entries: number;
  /** Bytes of the distinct files entries refer to. */
  bytes: number;
  blobs: number;
  /** Blobs on disk that no entry refers to (removed by `batch cache prune`). */
  orphans: { files: number; bytes: number };
  steps: { step: string; entries: number; bytes: number; lastUsed: number; hits: number }[];
}

/** A remote cache behind the local one, as `batch cache status` shows it. */
export interface RemoteReach {
  url: string;
  team: string;
  readOnly: boolean;
  reachable: boolean;
  /** Why it is not reachable (never contains the token). */
  error?: string;
}

/** `batch cache status`: the local cache's contents, and the remote's answer now. */
export interface CacheReport extends CacheStatus {
  remote?: RemoteReach;
}

export const EMPTY_STATUS: CacheStatus = Object.freeze({ entries: 0, bytes: 0, blobs: 0, orphans: Object.freeze({ files: 0, bytes: 0 }), steps: [] }) as CacheStatus;

/** An output cache: keeps passed steps' outputs by fingerprint, to restore instead of
 * rerunning. The local one (local/), or the remote one (remote/backend.ts) with the local
 * one in front of it; cache/choose.ts is the one place a command's cache is chosen. */
export interface CacheBackend {
  /** Which backend: 'local', 'remote', or a chain's names joined. */
  readonly name: string;
  /** The run whose outputs are kept under `key`, if any: what a verdict of `restore` rests
   * on (an index look-up; restore() then checks every file). May ask over the network. */
  lookup(step: StepConfig, key: string): Promise<{ fromRun: string } | undefined>;
  /** Restores the outputs stored under `key` (after removing the step's current outputs),
   * checking every file against its hash. A miss, or a corrupt entry (dropped, with a
   * warning), gives undefined and the step runs. `stats` is the run's stat cache: every
   * output file removed or restored is forgotten in it, so downstream steps hash what is
   * on disk now. */
  restore(step: StepConfig, key: string, emit: Emit, stats: StatCache): Promise<Restored | undefined>;
  /** Stores the outputs a step just wrote and hashed, under its key. `stats`: the run's stat
   * cache, whose stats of the outputs (taken when they were hashed) are used rather than
   * stat'ing each output again; the bytes stored are still checked against their hash. */
  save(step: StepConfig, key: string, outputs: FileHashes, runId: string, emit: Emit, stats?: StatCache): Promise<void>;
  /** At the end of a run: waits (bounded) for background work such as uploads, and reports
   * what the remote cache did; absent or undefined for a local-only cache. */
  finish?(emit: Emit, boundMs?: number): Promise<RemoteRunReport | undefined>;
  /** `batch cache status`: what the local cache holds, and whether a remote answers now
   * (asked once, with the request timeout). */
  status(): Promise<CacheReport>;
  /** `batch cache prune`, `batch clean --cache`: drops broken entries, evicts the least
   * recently used down to `maxBytes`, removes unreferenced and temp files. Only the local
   * cache: a remote server's storage is that server's to manage (docs/remote-cache.md). */
  prune(maxBytes: number): Promise<PruneResult>;
}
