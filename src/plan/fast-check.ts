import type { StepConfig } from '../batchfile/config.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { Store } from '../store/store.js';
import { definitionSignature, snapshotHolds, statSignatureNow } from './snapshot.js';

/** A step proven up to date by its stat snapshot. */
export interface FastVerdict {
  /** The StatCache epoch the proof was drawn at: it stands while no file was forgotten. */
  epoch: number;
  /** The code files recorded with the snapshot (for a `command` step, every word of its
   * command that could name one). */
  code: readonly string[];
}

/** The fast path of planning: is the step up to date by its recorded stat snapshot? No file
 * is read and no fingerprint is built; undefined means "do the full check". */
export function checkSnapshot(root: string, stats: StatCache, store: Store, step: StepConfig, env: NodeJS.ProcessEnv): FastVerdict | undefined {
  const snap = store.snap.get(step.name);
  if (!snap) return undefined;
  const epoch = stats.epoch;
  if (!snapshotHolds(snap, definitionSignature(step, env), statSignatureNow(root, stats, step, snap.code))) return undefined;
  return { epoch, code: snap.code };
}
