// Removing old runs from the store: explicit (`batch history --prune --keep N`) and always
// reported, never silent.
import type { Store } from '../store/store.js';

export interface PruneResult {
  kept: number;
  /** Removed run ids, oldest first. */
  removed: string[];
  /** Step results removed with them. */
  results: number;
}

/** Keeps the newest `keep` runs and removes the rest with their step results, in one
 * transaction (a crash leaves either all or none removed). */
export async function pruneRuns(store: Store, keep: number): Promise<PruneResult> {
  const doomed: string[] = [];
  let i = 0;
  for (const key of store.runs.getKeys({ reverse: true })) {
    if (i++ >= keep) doomed.push(key);
  }
  doomed.reverse();
  let results = 0;
  await store.root.transaction(() => {
    for (const id of doomed) {
      for (const key of store.results.getKeys({ start: [id], end: [id, '\uffff'] })) {
        void store.results.remove(key);
        results++;
      }
      results += store.upToDate.remove(id);
      void store.runs.remove(id);
    }
  });
  return { kept: i - doomed.length, removed: doomed, results };
}
