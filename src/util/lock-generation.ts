// `.cache/lock.gen`: rewritten by every holder of the project lock (store/lock.ts) as it takes
// it, so that a process can tell whether anyone held the lock since a moment it read this: the
// stat helper's stats are taken before its run waits for the lock
// (fingerprint/stat-prefetch.ts), and any lock holder may change files (a run, `clean`,
// `cache prune`). A run id would miss the holders that record no run; a clock, a clock set back.
// Here, not in store/, because the CLI's entry reads it before the engine loads.
import fs from 'node:fs';
import path from 'node:path';

export function lockGenerationPath(cacheDir: string): string {
  return path.join(cacheDir, 'lock.gen');
}

/** The lock's generation now; '' when there is none (never taken, or not writable): '' proves
 * nothing, as it cannot tell holders apart. */
export function lockGeneration(cacheDir: string): string {
  try {
    return fs.readFileSync(lockGenerationPath(cacheDir), 'utf8');
  } catch {
    return '';
  }
}
