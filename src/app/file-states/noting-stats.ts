import { FileStat, StatCache, worthAhead } from '../../fingerprint/stat-cache.js';
import type { Store } from '../../store/store.js';
import { PackedStats } from './packed-stats.js';
import { GONE, PathMarks, SEEN } from './path-marks.js';

/** A StatCache that notes each path it stats afresh, so that only those are judged before the
 * next run (a path judged trustworthy stays so until an event forgets it), and each known path
 * forgotten, so that the next run can have them stat'ed ahead. Its marks (SEEN, GONE, and the
 * tracker's VETTED) are one small integer per path (path-marks.ts). */
export class NotingStatCache extends StatCache {
  /** Paths stat'ed afresh since they were last judged, in the order runs asked. */
  fresh: string[] = [];
  readonly marks = new PathMarks();
  /** The SEEN paths are walked (and pruned) when they grow past this, even without a pass to stat. */
  private pruneAt = 4096;

  constructor(root: string, store: Store | undefined) {
    // Held from run to run: packed, one row per path instead of an object (packed-stats.ts).
    super(root, store, new PackedStats());
  }

  override stat(rel: string): FileStat | null {
    if (this.peekStat(rel) === undefined) {
      this.fresh.push(rel);
      this.marks.set(rel, SEEN);
    }
    return super.stat(rel);
  }

  override forget(rel: string): void {
    this.marks.set(rel, GONE);
    super.forget(rel);
  }

  /** The paths forgotten since the last call and not stat'ed again, in the order runs asked
   * for them (the next run likely asks again, in that order). Paths neither known nor just
   * forgotten lose their SEEN mark as the order is walked: it stays the size of what runs use. */
  takeGone(): string[] {
    const out: string[] = [];
    // Too few to stat ahead: not worth a walk over every path known (unless it is time to
    // prune the paths no run asks for any more, when names come and go).
    const ahead = worthAhead(this.marks.count(GONE), 0);
    if (ahead || this.marks.count(SEEN) > this.pruneAt) {
      for (const [rel, bits] of this.marks.entries()) {
        if ((bits & SEEN) === 0 || this.peekStat(rel) !== undefined) continue;
        if (bits & GONE) out.push(rel);
        else this.marks.clear(rel, SEEN);
      }
      this.pruneAt = Math.max(4096, 2 * this.marks.count(SEEN));
    }
    this.marks.clearAll(GONE);
    return ahead ? out : [];
  }
}
