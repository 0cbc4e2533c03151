import type { RemoteFlags } from '../cache/remote/settings.js';
/** What a run is asked to do, in the engine's terms: each front end maps its own input to this
 * (the CLI its argument bag in cli/run-settings.ts, the daemon a client's command line through
 * the same mapping), so nothing below the front ends knows a flag's spelling. */
export interface RunSettings {
  /** Steps to run with what they need; empty: every step. */
  targets: string[];
  /** Rerun every selected step whatever its recorded state. */
  force: boolean;
  /** After a failure, keep starting steps that do not depend on it. */
  keepGoing: boolean;
  /** Run the Batchfile's test phase (only when every step is selected). */
  tests: boolean;
  /** Read and write the output cache. */
  cache: boolean;
  /** The output cache's limit for this run (e.g. "2GB"); the Batchfile's when absent. */
  maxSize?: string;
  /** Steps at once; the machine's available parallelism when absent. */
  jobs?: number;
  /** Heap limit of each worker thread, in MB. */
  workerMemoryMb?: number;
  /** Wait for another run's project lock instead of failing. */
  wait: boolean;
  // Three more than ~10: where the steps run is part of what a run is asked to do.
  /** A Redis URL to send steps to workers through ("local": here), over the Batchfile's `executor`. */
  executor?: string;
  /** The queue shared with the workers; derived from the project folder when absent. */
  queue?: string;
  /** How files reach the workers: `shared` (a shared disk) or `cache` (through the remote
   * cache server); over BATCH_WORKER_FILES, default shared. */
  workerFiles?: string;
  /** The remote cache's overrides from the command line (docs/remote-cache.md); absent: none. */
  remoteCache?: RemoteFlags;
}
