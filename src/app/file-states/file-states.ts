import fs from 'node:fs';
import path from 'node:path';
import type { StatCache } from '../../fingerprint/stat-cache.js';
import type { Store } from '../../store/store.js';
import { projectPaths } from '../project.js';
import { Cookies } from './cookies.js';
import { FolderWatches } from './folder-watches.js';
import { judgeOne, type Round } from './judging.js';
import { NotingStatCache } from './noting-stats.js';
import { VETTED } from './path-marks.js';
import { scanTree, type WatchTree } from './tree.js';

export type { WatchTree } from './tree.js';

/** Paths judged per slice of the work after a run: between slices the process reads events
 * and answers requests (~5 ms of lstats here). */
const SLICE = 2048;

export interface FileStatesOptions {
  root: string;
  store: Store | undefined;
  /** The tracker's own account (what it kept after a run), for a log. */
  log: (line: string) => void;
  /** What the user should hear of (out of inotify watches, events not arriving); default `log`. */
  warn?: (line: string) => void;
  /** Folders watched at most, as if the kernel refused more (tests; the kernel's own limit,
   * fs.inotify.max_user_watches, is met the same way). */
  maxWatches?: number;
  /** Paths judged per slice after a run (tests make it small to catch a pass half done). */
  slice?: number;
  /** Whether the folder watches keep the process alive (watch mode; the daemon has its socket). */
  persistent?: boolean;
  /** Events between two runs from which some may have been lost (tests; see `overflowAt`). */
  overflowAt?: number;
}

/** From how many events read between two cookies the kernel's queue may have overflowed. The
 * kernel drops events once fs.inotify.max_queued_events are waiting unread (a checkout while a
 * run keeps the process busy) and says so with one event libuv throws away, so Node never
 * reports it. An overflow can only happen once that many events were queued, all of which are
 * then read; so fewer than that many read since the last cookie proves none was lost. Half the
 * limit leaves room for events of folders no longer watched, which libuv drops uncounted. */
function overflowAt(): number {
  try {
    const n = Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
    if (Number.isFinite(n) && n > 0) return Math.max(1, Math.floor(n / 2));
  } catch {
    // not Linux, or /proc not there: the kernel's usual default
  }
  return 8192;
}

/** A path that changed, as subscribers hear of it: a file or other non-folder path, present or
 * gone (a folder that appears is entered and its files reported; one that goes, its known files). */
export type ChangeListener = (rel: string) => void;

/**
 * The one event-fed file-state tracker, used by watch mode and by the daemon: the last known
 * stat of every path runs look at (one StatCache carried from run to run), kept true by file
 * events, so that a run stats only what changed since the last one; and, for watch mode, the
 * paths that changed, told to subscribers.
 *
 * Event source: a plain `fs.watch` per folder (folder-watches.ts), not chokidar. chokidar
 * throttles and merges events (one `change` per file per 50 ms, removals delayed 100 ms for
 * atomic writes), so no moment proves that every earlier change was reported, and it sets a
 * watch on every file and stats every file of a tree when it starts. Per-folder inotify
 * watches on one descriptor deliver every event in order, which the cookie rule needs, cost one
 * watch per folder, and start without a scan. (chokidar stays for `batch --watch --poll`,
 * network file systems, whose events are never trusted: see `distrust`.)
 *
 * How a held stat stays true (the approach of Watchman's "cookies"):
 * - Every folder that holds a path the cache knows, and each of its ancestors up to the project
 *   root, is watched. Each event forgets its path the moment it is read (an event on a folder
 *   that is replaced or removed forgets everything under it).
 * - Before a run, a cookie file is written into a watched folder and the run waits for its
 *   event (cookies.ts): every change made before the run started was read (and forgotten) by then.
 * - A path is kept only if its stat was taken while its folder was watched. The paths a run
 *   stat'ed are judged once it is over, while the process is idle (`settle`): those whose folder
 *   was watched before the run are kept (once vetted), the others' folders are watched and they
 *   are stat'ed again, after the watch, and kept. A run that starts before that is done does the
 *   rest first (`beforeRun`). Paths outside the project, in folders that cannot be watched, or
 *   under a watch that failed are forgotten, and stat'ed again by every run.
 * - A cookie that does not come back in time drops everything; a folder's watch error or
 *   overflow drops everything under it.
 * What inotify cannot see (writes through a shared memory mapping, changes made from another
 * machine on a network file system) is not seen here either; docs/daemon.md and docs/watch.md
 * say so.
 */
export class FileStates {
  private statsFor: NotingStatCache;
  private readonly watches: FolderWatches;
  private readonly cookies: Cookies;
  private readonly listeners = new Set<ChangeListener>();
  /** Watch mode's folders, watched whole: events for every entry, new subfolders entered. */
  private tree: WatchTree | undefined;
  /** False once events can no longer be relied on (`distrust`): every run checks every file. */
  private trustEvents = true;
  /** The last cookie came back and no watch failed since: events are known to be delivered. */
  private proven = false;
  /** Events read when the last cookie came back (see overflowAt). */
  private eventsAt = 0;
  private readonly overflowAt: number;
  /** Runs begun: a watch set while this was n predates every stat of run n + 1 on. */
  private runs = 0;
  /** How much of `statsFor.fresh` (the paths the last run stat'ed) is judged, and the round. */
  private judged = 0;
  private round: Round | undefined;
  /** The idle pass in progress (settle), if any: a run that starts ends it. */
  private pass: object | undefined;

  private readonly prefix: string;

  constructor(private readonly opts: FileStatesOptions) {
    this.statsFor = new NotingStatCache(opts.root, opts.store);
    this.prefix = opts.root.endsWith(path.sep) ? opts.root : opts.root + path.sep;
    this.overflowAt = opts.overflowAt ?? overflowAt();
    this.cookies = new Cookies(path.join(projectPaths(opts.root).cacheDir, 'cookies', String(process.pid)));
    this.watches = new FolderWatches({
      root: opts.root,
      log: opts.warn ?? opts.log,
      ...(opts.maxWatches !== undefined ? { maxWatches: opts.maxWatches } : {}),
      ...(opts.persistent !== undefined ? { persistent: opts.persistent } : {}),
      onEvent: (dir, name) => this.onEvent(dir, name),
      onError: (dir) => this.lost(dir),
    });
  }

  /** The cache for the store in use; a new store (reopened) starts from nothing. */
  cacheFor(store: Store | undefined): StatCache {
    if (store !== this.opts.store) {
      this.opts.store = store;
      this.statsFor = new NotingStatCache(this.opts.root, store);
      this.judged = 0;
      this.round = undefined;
      this.pass = undefined;
    }
    return this.statsFor;
  }

  /** Hears of every path that changes (see ChangeListener); returns the unsubscribe. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Watches `tree`'s folders whole (watch mode: what the run's specs can name), in addition to
   * the folders of the paths runs stat. Returns the folders watched and the files in them. */
  watchTree(tree: WatchTree): { folders: number; files: number } {
    this.tree = tree;
    if (!this.trustEvents) return { folders: 0, files: 0 };
    return scanTree(tree, this.watches, this.runs, this.prefix, undefined);
  }

  /** Events can no longer be relied on (watch mode's poller; a watcher error): from now on
   * every run checks every file, like a plain `batch`. */
  distrust(): void {
    this.trustEvents = false;
    this.proven = false;
    this.watches.close();
    this.forgetAll(this.statsFor);
  }

  /** A change reported by another event source (watch mode's poller): forgotten and told. */
  noteChange(rel: string, folder: boolean): void {
    const stats = this.statsFor;
    stats.forget(rel);
    if (folder) stats.forgetWhere((r) => r.startsWith(`${rel}/`));
    if (!folder) this.tell(rel);
  }

  /** Whether the stat held for `rel` is trusted now: taken while its folder was watched, vetted
   * (a plain file with one link, or nothing), and events proven to be delivered since. */
  isTrusted(rel: string): boolean {
    const dir = path.posix.dirname(rel);
    const since = this.watches.since(dir);
    return this.proven && since !== undefined && since < this.runs && !this.watches.linked(dir) && this.statsFor.peekStat(rel) !== undefined && this.statsFor.marks.has(rel, VETTED);
  }

  /** After a run, while the process is idle: judges the paths the run stat'ed, so that the
   * next run finds them known (see the class comment). Done in slices, each leaving the cache
   * as a run may find it; resolves when done, or when a run or `close` ended it. */
  settle(): Promise<void> {
    const pass = {};
    this.pass = pass;
    const stats = this.statsFor;
    const slice = this.opts.slice ?? SLICE;
    return new Promise((resolve) => {
      const next = (): void => {
        if (this.pass !== pass || stats !== this.statsFor) return resolve();
        try {
          if (this.judge(stats, slice)) return void setImmediate(next);
        } catch (e) {
          // Not expected (every file-system call above is guarded); knowing nothing is safe.
          this.opts.log(`internal error while judging stats: ${(e as Error)?.stack ?? String(e)}`);
          this.forgetAll(stats);
        }
        this.pass = undefined;
        resolve();
      };
      setImmediate(next);
    });
  }

  /** Before a run: judge what the idle pass left, read every event up to now, and drop what
   * cannot be trusted. */
  async beforeRun(): Promise<void> {
    const stats = this.statsFor;
    stats.filesHashed = 0;
    stats.bytesHashed = 0;
    stats.filesStatted = 0;
    // Taken before this point (for the last run, which did not use them): not this run's.
    stats.dropStatsAhead();
    // The hashes the last run took are in the store by now, which answers for them.
    stats.dropTaken();
    this.pass = undefined;
    if (!this.trustEvents) {
      this.forgetAll(stats);
      return;
    }
    this.judge(stats, Infinity);
    this.runs++;
    const arrived = await this.cookies.sync();
    const events = this.watches.events + this.cookies.events;
    const read = events - this.eventsAt;
    this.eventsAt = events;
    this.proven = arrived && read < this.overflowAt;
    if (!this.proven) {
      const why = arrived ? `${read} file events since the last run, more than the kernel's queue may hold: some may have been lost` : 'file events did not arrive in time';
      (this.opts.warn ?? this.opts.log)(`${why}: checking every file in this run`);
      this.forgetAll(stats);
    }
    // What changed since the last run (every input touched, a checkout) is stat'ed again by
    // helper threads while the run starts, when there is enough of it (StatCache.statAhead).
    stats.statAhead(stats.takeGone());
  }

  close(): void {
    this.pass = undefined;
    this.proven = false;
    this.listeners.clear();
    this.watches.close();
    this.statsFor.marks.clearAll(VETTED);
    this.cookies.close();
  }

  private forgetAll(stats: NotingStatCache): void {
    stats.forgetAll();
    stats.fresh = [];
    this.judged = 0;
    this.round = undefined;
    stats.marks.clearAll(VETTED);
  }

  /** Judges up to `n` more of the paths the last run stat'ed (one kept stays kept until an
   * event forgets it); true while some are left. */
  private judge(stats: NotingStatCache, n: number): boolean {
    const fresh = stats.fresh;
    if (this.judged === 0 && fresh.length === 0) return false;
    const round = (this.round ??= { t0: performance.now(), kept: 0, again: 0, dropped: 0, failed: new Set() });
    const end = Math.min(fresh.length, this.judged + n);
    const at = { watches: this.watches, runs: this.runs, prefix: this.prefix, trustEvents: this.trustEvents };
    for (let i = this.judged; i < end; i++) judgeOne(fresh[i]!, stats, round, at);
    this.judged = end;
    if (end < fresh.length) return true;
    stats.fresh = [];
    this.judged = 0;
    this.round = undefined;
    this.opts.log(
      `kept the stat of ${round.kept + round.again} paths (${round.again} stat'ed again once their folder was watched), ${round.dropped} to stat again; ` +
        `${this.watches.size} folders watched; ${Math.round(performance.now() - round.t0)} ms`,
    );
    return false;
  }

  /** A change in `dir`: forget the path (and, for a folder, all under it) now; then tell. */
  private onEvent(dir: string, name: string | null): void {
    const stats = this.statsFor;
    if (name === null) {
      this.lost(dir);
      return;
    }
    const rel = dir === '.' ? name : `${dir}/${name}`;
    stats.forget(rel);
    stats.forget(dir);
    stats.marks.clear(rel, VETTED);
    // A sub-folder that is watched itself: renamed, removed or replaced, all under it changed.
    // (Its own entries changing is reported by its own watch.)
    if (this.watches.has(rel) && !this.watches.sameFolder(rel)) this.lost(rel);
    if (this.listeners.size > 0 || this.tree) this.told(rel);
  }

  /** Tells subscribers of `rel`, or enters it when it is a folder watch mode's tree covers. */
  private told(rel: string): void {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(this.prefix + rel, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st?.isDirectory()) return this.tell(rel);
    if (this.tree && this.trustEvents && !this.watches.has(rel) && this.tree.enter(rel)) {
      // A folder that appeared (or came back): its files were written before its watch was set.
      scanTree({ roots: [rel], enter: this.tree.enter }, this.watches, this.runs, this.prefix, (f) => this.tell(f));
    }
  }

  private tell(rel: string): void {
    for (const l of this.listeners) l(rel);
  }

  /** A watched folder was replaced, removed or its watch failed: forget everything under it
   * and stop watching it (and its sub-folders); the next run watches them afresh. The files
   * known under it are told as changed. */
  private lost(dir: string): void {
    const prefix = dir === '.' ? '' : `${dir}/`;
    const under = (r: string): boolean => r === dir || r.startsWith(prefix);
    const told = new Set<string>();
    this.statsFor.forgetWhere((r) => {
      if (!under(r)) return false;
      if (r !== dir) told.add(r);
      return true;
    });
    this.statsFor.marks.clearWhere(VETTED, under);
    this.watches.unwatchWhere(under);
    for (const r of told) this.tell(r);
  }
}
