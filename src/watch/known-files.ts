import fs from 'node:fs';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { StatCache } from '../fingerprint/stat-cache.js';
import type { Store } from '../store/store.js';
import type { WatchSet } from './watch-set.js';

/** chokidar drops an event that follows another on the same path too closely (a file's
 * `change` events at most one per 50 ms, its removals one per 100 ms, raw events 5 ms apart).
 * This long after a path's latest event, if a run has looked at the file since, it is stat'ed
 * again: a difference means a change went unreported after that look, and counts as an event.
 * Also how long a stat taken after an event stays suspect. */
export const SETTLE_MS = 250;

export type FileEvent = 'add' | 'change' | 'unlink' | 'addDir' | 'unlinkDir';

/** What the watcher covers: a path it classifies gets events. */
type Watched = Pick<WatchSet, 'classify'>;

/** What identifies a file's state without reading it (null: nothing there). */
const keyOf = (st: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino' | 'mode'> | undefined | null): string | null => (st ? `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${st.mode}` : null);

export interface KnownFilesOptions {
  root: string;
  store: Store | undefined;
  /** False with --poll: polling can miss a change (same size and mtime), so nothing is carried
   * from one run to the next. */
  trustEvents: boolean;
  /** A change chokidar did not report (found by the settle check): handle it like an event. */
  onMissed: (rel: string) => void;
}

/**
 * What watch mode knows of the files between runs: one StatCache for the whole session, so a
 * run after an edit stats and hashes only what changed instead of every file of the pipeline.
 * It stays true because every file event forgets its path (and a folder event everything under
 * it) the moment it arrives, during a run too. Where events cannot be relied on, the files are
 * looked at again:
 * - a path the watch set does not cover (a word of a command that names no file, a file beside
 *   the tests) is forgotten before every run;
 * - a path whose event came shortly before or during the previous run is forgotten before the
 *   next (chokidar may have swallowed a second write made right after the first);
 * - SETTLE_MS after each event the file is stat'ed again, and a difference is a change;
 * - a new chokidar watcher (the watched set changed), a watcher error or --poll: everything.
 */
export class KnownFiles {
  readonly stats: StatCache;
  private trusted: boolean;
  /** Paths with a recent event: forgotten again before the next run. */
  private readonly recent = new Map<string, { at: number; dir: boolean }>();
  /** Paths to look at again, and when. */
  private readonly settling = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastRunAt = -Infinity;
  /** The watch set the `watched` paths were judged against (paths classify() said yes to). */
  private judgedFor: Watched | undefined;
  private watched = new Set<string>();

  constructor(private readonly opts: KnownFilesOptions) {
    this.stats = new StatCache(opts.root, opts.store);
    this.trusted = opts.trustEvents;
  }

  /** A file event for a project-relative path: forget it now. */
  onEvent(rel: string, event: FileEvent): void {
    const dir = event === 'addDir' || event === 'unlinkDir';
    this.forget(rel, dir);
    const now = performance.now();
    this.recent.set(rel, { at: now, dir });
    if (dir || !this.trusted) return;
    this.settling.set(rel, now + SETTLE_MS);
    this.timer ??= setTimeout(this.settle, SETTLE_MS);
  }

  /** Before each run: drop what the run must look at again, keep the rest. */
  beforeRun(set: Watched | undefined): void {
    this.stats.filesHashed = 0;
    this.stats.filesStatted = 0;
    this.stats.bytesHashed = 0;
    if (!this.trusted || !set) {
      this.stats.forgetAll();
      this.lastRunAt = performance.now();
      return;
    }
    // A stat the previous run took within SETTLE_MS of an event may predate a write whose event
    // chokidar dropped (and a same-size rewrite in the same timestamp tick would not even show
    // in the stat): it is taken again.
    const since = this.lastRunAt - SETTLE_MS;
    for (const [rel, e] of this.recent) {
      if (e.at < since) this.recent.delete(rel);
      else this.forget(rel, e.dir);
    }
    this.lastRunAt = performance.now();
    if (set !== this.judgedFor) {
      this.judgedFor = set;
      this.watched = new Set();
    }
    const watched = this.watched;
    this.stats.forgetWhere((rel) => {
      if (watched.has(rel)) return false;
      if (set.classify(rel) === undefined) return true;
      watched.add(rel);
      return false;
    });
  }

  /** A new chokidar watcher is ready: files newly watched may have changed unseen before. */
  onNewWatcher(): void {
    this.stats.forgetAll();
  }

  /** The watcher reported an error (e.g. out of inotify watches): some files may be unwatched,
   * so from now on every run looks at every file again, like a plain `batch`. */
  distrust(): void {
    this.trusted = false;
    this.stats.forgetAll();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.settling.clear();
  }

  private forget(rel: string, dir: boolean): void {
    this.stats.forget(rel);
    // A path appearing or going changes its folders too (a folder input that did not exist).
    for (let p = path.posix.dirname(rel); p !== '.' && p !== '/' && p !== '..' && !p.endsWith('/..'); p = path.posix.dirname(p)) this.stats.forget(p);
    if (dir) {
      const prefix = `${rel}/`;
      this.stats.forgetWhere((r) => r.startsWith(prefix));
    }
  }

  private readonly settle = (): void => {
    this.timer = undefined;
    const now = performance.now();
    let next = Infinity;
    const missed: string[] = [];
    for (const [rel, due] of this.settling) {
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      this.settling.delete(rel);
      // Not looked at since the event: whoever looks next sees the file as it is.
      const seen = this.stats.peekStat(rel);
      if (seen === undefined) continue;
      let current: Stats | null;
      try {
        current = fs.statSync(path.resolve(this.opts.root, rel));
      } catch {
        current = null;
      }
      if (keyOf(current) !== keyOf(seen)) missed.push(rel);
    }
    if (next < Infinity) this.timer = setTimeout(this.settle, Math.max(1, next - now));
    for (const rel of missed) {
      this.forget(rel, false);
      this.recent.set(rel, { at: now, dir: false });
      this.opts.onMissed(rel);
    }
  };
}
