import fs from 'node:fs';
import path from 'node:path';
import { FileStat, StatCache, worthAhead } from '../fingerprint/stat-cache.js';
import type { Store } from '../store/store.js';

/** A StatCache that notes each path it stats afresh, so that only those are judged before the
 * next run (a path judged trustworthy stays so until an event forgets it), and each known path
 * forgotten, so that the next run can have them stat'ed ahead. */
class NotingStatCache extends StatCache {
  fresh: string[] = [];
  /** Paths stat'ed, in the order runs first asked for them. */
  private readonly seen = new Set<string>();
  /** Paths forgotten since the last `takeGone` (known or not: takeGone keeps the known). */
  private readonly gone = new Set<string>();
  /** `seen` is walked (and pruned) when it grows past this, even without a pass to stat. */
  private pruneAt = 4096;

  override stat(rel: string): FileStat | null {
    if (this.peekStat(rel) === undefined) {
      this.fresh.push(rel);
      this.seen.add(rel);
    }
    return super.stat(rel);
  }

  override forget(rel: string): void {
    this.gone.add(rel);
    super.forget(rel);
  }

  /** The paths forgotten since the last call and not stat'ed again, in the order runs asked
   * for them (the next run likely asks again, in that order). Paths neither known nor just
   * forgotten are dropped from the order as it is walked: it stays the size of what runs use. */
  takeGone(): string[] {
    const out: string[] = [];
    // Too few to stat ahead: not worth a walk over every path known (unless it is time to
    // prune the paths no run asks for any more, when names come and go).
    const ahead = worthAhead(this.gone.size, 0);
    if (ahead || this.seen.size > this.pruneAt) {
      for (const rel of this.seen) {
        if (this.peekStat(rel) !== undefined) continue;
        if (this.gone.has(rel)) out.push(rel);
        else this.seen.delete(rel);
      }
      this.pruneAt = Math.max(4096, 2 * this.seen.size);
    }
    this.gone.clear();
    return ahead ? out : [];
  }
}

/** How long to wait for a cookie's event before trusting nothing for a run. */
const SYNC_TIMEOUT_MS = 2000;
/** Paths judged per slice of the work after a run: between slices the daemon reads events and
 * answers requests (~5 ms of lstats here). */
const SLICE = 2048;

export interface TrustedStatsOptions {
  root: string;
  store: Store;
  log: (line: string) => void;
  /** Folders watched at most, as if the kernel refused more (tests; the kernel's own limit,
   * fs.inotify.max_user_watches, is met the same way). */
  maxWatches?: number;
  /** Paths judged per slice after a run (tests make it small to catch a pass half done). */
  slice?: number;
}

/** A folder's watch, the folder it was set on (device and inode, to tell a replaced folder),
 * and how many runs had begun when it was set (a stat taken by a later run postdates it). */
interface Watch {
  w: fs.FSWatcher;
  id: string;
  run: number;
}

/** One judging of the paths a run stat'ed: what it did, for the log. */
interface Round {
  t0: number;
  kept: number;
  again: number;
  dropped: number;
  /** Folders that could not be watched: their paths are not tried again this round. */
  failed: Set<string>;
}

/**
 * The daemon's file knowledge across runs: one StatCache whose entries stay valid while the
 * kernel reports no change, so a run stats only what changed since the last one.
 *
 * How it stays true (the approach of Watchman's "cookies"):
 * - Every folder that holds a path the cache knows, and each of its ancestors up to the project
 *   root, is watched with a plain `fs.watch` (inotify). Node reads all of them from one inotify
 *   descriptor, so events arrive in the order the changes happened, and each event forgets its
 *   path the moment it is read (an event on a folder forgets everything under it).
 * - Before a run, a cookie file is written into a watched folder and the run waits for its
 *   event: every change made before the run started was read (and forgotten) by then.
 * - A path is kept only if its stat was taken while its folder was watched. The paths a run
 *   stat'ed are judged once it is over, while the daemon is idle (`settle`): those whose folder
 *   was watched before the run are kept (once vetted), the others' folders are watched and
 *   they are stat'ed again, after the watch, and kept. A run that starts before that is done
 *   does the rest first (`beforeRun`). Paths outside the project, in folders that cannot be
 *   watched, or under a watch that failed are forgotten, and stat'ed again by every run.
 * - A cookie that does not come back in time, or any watch error, drops everything.
 * What inotify cannot see (writes through a shared memory mapping, changes made from another
 * machine on a network file system) is not seen here either; docs/daemon.md says so, and
 * `--no-daemon` runs check every file.
 */
export class TrustedStats {
  private statsFor: NotingStatCache;
  private readonly watched = new Map<string, Watch>();
  /** Paths found to be what a folder's events describe: a plain file with one link, or
   * nothing at all, stat'ed while the folder was watched. Cleared per path by its event. */
  private readonly vetted = new Set<string>();
  private readonly cookieDir: string;
  private readonly cookies = new Map<string, () => void>();
  private cookieWatch: fs.FSWatcher | undefined;
  private nextCookie = 0;
  /** Runs begun: a watch set while this was n predates every stat of run n + 1 on. */
  private runs = 0;
  /** How much of `statsFor.fresh` (the paths the last run stat'ed) is judged, and the round. */
  private judged = 0;
  private round: Round | undefined;
  /** The idle pass in progress (settle), if any: a run that starts ends it. */
  private pass: object | undefined;
  private warnedFull = false;

  private readonly prefix: string;

  constructor(private readonly opts: TrustedStatsOptions) {
    this.statsFor = new NotingStatCache(opts.root, opts.store);
    this.prefix = opts.root.endsWith(path.sep) ? opts.root : opts.root + path.sep;
    this.cookieDir = path.join(opts.root, '.cache', 'daemon-cookies');
  }

  /** The cache for the store in use; a new store (reopened) starts from nothing. */
  cacheFor(store: Store): StatCache {
    if (store !== this.opts.store) {
      this.opts.store = store;
      this.statsFor = new NotingStatCache(this.opts.root, store);
      this.vetted.clear();
      this.judged = 0;
      this.round = undefined;
      this.pass = undefined;
    }
    return this.statsFor;
  }

  /** After a run, while the daemon is idle: judges the paths the run stat'ed, so that the
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
    this.pass = undefined;
    this.judge(stats, Infinity);
    this.runs++;
    if (!(await this.sync())) {
      this.opts.log('file events did not arrive in time: checking every file in this run');
      this.forgetAll(stats);
    }
    // What changed since the last run (every input touched, a checkout) is stat'ed again by
    // helper threads while the run starts, when there is enough of it (StatCache.statAhead).
    stats.statAhead(stats.takeGone());
  }

  private forgetAll(stats: NotingStatCache): void {
    stats.forgetAll();
    stats.fresh = [];
    this.judged = 0;
    this.round = undefined;
    this.vetted.clear();
  }

  close(): void {
    this.pass = undefined;
    for (const { w } of this.watched.values()) w.close();
    this.watched.clear();
    this.vetted.clear();
    this.cookieWatch?.close();
    this.cookieWatch = undefined;
    fs.rmSync(this.cookieDir, { recursive: true, force: true });
  }

  /** Judges up to `n` more of the paths the last run stat'ed (one kept stays kept until an
   * event forgets it); true while some are left. */
  private judge(stats: NotingStatCache, n: number): boolean {
    const fresh = stats.fresh;
    if (this.judged === 0 && fresh.length === 0) return false;
    const round = (this.round ??= { t0: performance.now(), kept: 0, again: 0, dropped: 0, failed: new Set() });
    const end = Math.min(fresh.length, this.judged + n);
    for (let i = this.judged; i < end; i++) this.judgeOne(fresh[i]!, stats, round);
    this.judged = end;
    if (end < fresh.length) return true;
    stats.fresh = [];
    this.judged = 0;
    this.round = undefined;
    this.opts.log(
      `kept the stat of ${round.kept + round.again} paths (${round.again} stat'ed again once their folder was watched), ${round.dropped} to stat again; ` +
        `${this.watched.size} folders watched; ${Math.round(performance.now() - round.t0)} ms`,
    );
    return false;
  }

  /** Keeps or forgets one path a run stat'ed. Its stat is kept as it is only if its folder was
   * watched before that run began; if the folder is watched only now, the path is stat'ed
   * again (a change between the run's stat and the watch has no event). */
  private judgeOne(rel: string, stats: NotingStatCache, round: Round): void {
    if (stats.peekStat(rel) === undefined) return; // forgotten since, by an event
    if (this.inside(rel)) {
      const dir = path.posix.dirname(rel);
      const w = this.watched.get(dir);
      if (w && w.run < this.runs) {
        if (this.vet(rel, stats)) return void round.kept++;
      } else if (w && this.vetted.has(rel)) {
        return void round.kept++; // a duplicate: stat'ed again (below) earlier in this round
      } else if ((w || this.watchWithAncestors(dir, round)) && this.restat(rel, stats)) {
        return void round.again++;
      }
    }
    round.dropped++;
    stats.forget(rel);
  }

  /** Whether events on the folder describe this path. Not for a symbolic link (its target
   * changes elsewhere), a file with other hard links (written through another folder), or a
   * folder (its entries change without an event on its parent): those are stat'ed every run.
   * Each path is vetted once, with one lstat. */
  private vet(rel: string, stats: StatCache): boolean {
    if (this.vetted.has(rel)) return true;
    const st = stats.peekStat(rel);
    if (st === undefined || (st !== null && (!st.isFile() || st.nlink > 1))) return false;
    const l = this.lstat(rel);
    if (l === false || (l ? !l.isFile() || l.nlink > 1 : st !== null)) return false;
    this.vetted.add(rel);
    return true;
  }

  /** Stats a path again, its folder now watched, and holds that stat if events on the folder
   * describe the path (as `vet`: a plain file with one link, or nothing). One lstat: for such
   * a path it is the stat. */
  private restat(rel: string, stats: StatCache): boolean {
    const l = this.lstat(rel);
    if (l === false || (l && (!l.isFile() || l.nlink > 1))) return false;
    stats.replaceStat(rel, l ? FileStat.of(l) : null);
    this.vetted.add(rel);
    return true;
  }

  /** lstat of a path `inside` the project (a plain join: path.join showed in profiles at
   * 100,000 paths): undefined when nothing is there, false when it cannot be told (no access,
   * a file where a folder was). */
  private lstat(rel: string): fs.Stats | undefined | false {
    try {
      return fs.lstatSync(this.prefix + rel, { throwIfNoEntry: false });
    } catch {
      return false;
    }
  }

  /** A normalised path inside the project (the only kind kept). */
  private inside(rel: string): boolean {
    return rel !== '' && rel !== '.' && !path.isAbsolute(rel) && !rel.startsWith('../') && rel !== '..' && !rel.includes('/../') && !rel.startsWith('.cache/');
  }

  /** Watches `dir` and every ancestor up to the root (an ancestor's event is how a renamed
   * or removed folder is seen). False if a folder could not be watched. */
  private watchWithAncestors(dir: string, round: Round): boolean {
    const chain: string[] = [];
    for (let d = dir; ; d = path.posix.dirname(d)) {
      chain.push(d);
      if (d === '.') break;
    }
    for (const d of chain.reverse()) {
      if (this.watched.has(d)) continue;
      if (round.failed.has(d)) return false;
      // The folder's identity is read before the watch is set: were it replaced in between,
      // the parent's event (watched first) finds another folder there and drops this one.
      const id = this.folderId(d) ?? '';
      let w: fs.FSWatcher;
      try {
        if (this.watched.size >= (this.opts.maxWatches ?? Infinity)) throw Object.assign(new Error('watch limit'), { code: 'ENOSPC' });
        w = fs.watch(d === '.' ? this.opts.root : path.join(this.opts.root, d), { persistent: false }, (_type, name) => this.onEvent(d, name));
      } catch (e) {
        // Gone, or out of inotify watches: its files stay untrusted (stat'ed by every run).
        round.failed.add(d);
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC' && !this.warnedFull) {
          this.warnedFull = true;
          this.opts.log(`out of inotify watches after ${this.watched.size} folders (fs.inotify.max_user_watches): files in the other folders are checked by every run`);
        }
        return false;
      }
      w.on('error', () => this.lost(d));
      this.watched.set(d, { w, id, run: this.runs });
    }
    return true;
  }

  private folderId(dir: string): string | undefined {
    const st = fs.statSync(dir === '.' ? this.opts.root : path.join(this.opts.root, dir), { throwIfNoEntry: false });
    return st?.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
  }

  private sameFolder(dir: string): boolean {
    const id = this.folderId(dir);
    return id !== undefined && id === this.watched.get(dir)?.id;
  }

  /** A change in `dir`: forget the path (and, for a folder, all under it) now. */
  private onEvent(dir: string, name: string | Buffer | null): void {
    const stats = this.statsFor;
    if (name === null) {
      this.lost(dir);
      return;
    }
    const rel = dir === '.' ? String(name) : `${dir}/${String(name)}`;
    stats.forget(rel);
    stats.forget(dir);
    this.vetted.delete(rel);
    // A sub-folder that is watched itself: renamed, removed or replaced, all under it changed.
    // (Its own entries changing is reported by its own watch.)
    if (this.watched.has(rel) && !this.sameFolder(rel)) this.lost(rel);
  }

  /** A watched folder was replaced, removed or its watch failed: forget everything under it
   * and stop watching it (and its sub-folders); the next run watches them afresh. */
  private lost(dir: string): void {
    const prefix = dir === '.' ? '' : `${dir}/`;
    const under = (r: string): boolean => r === dir || r.startsWith(prefix);
    this.statsFor.forgetWhere(under);
    for (const r of this.vetted) if (under(r)) this.vetted.delete(r);
    for (const [d, { w }] of this.watched) {
      if (under(d)) {
        w.close();
        this.watched.delete(d);
      }
    }
  }

  /** Writes a cookie and waits for its event: then every earlier change has been read. */
  private async sync(): Promise<boolean> {
    try {
      if (!this.cookieWatch) {
        fs.mkdirSync(this.cookieDir, { recursive: true });
        this.cookieWatch = fs.watch(this.cookieDir, { persistent: false }, (_type, name) => {
          const done = name === null ? undefined : this.cookies.get(String(name));
          done?.();
        });
        this.cookieWatch.on('error', () => {
          this.cookieWatch?.close();
          this.cookieWatch = undefined;
        });
      }
      const name = `${process.pid}-${++this.nextCookie}`;
      const file = path.join(this.cookieDir, name);
      let timer: NodeJS.Timeout | undefined;
      const arrived = new Promise<boolean>((resolve) => {
        this.cookies.set(name, () => resolve(true));
        timer = setTimeout(() => resolve(false), SYNC_TIMEOUT_MS);
      });
      fs.writeFileSync(file, '');
      const ok = await arrived;
      clearTimeout(timer);
      this.cookies.delete(name);
      fs.rmSync(file, { force: true });
      return ok;
    } catch {
      return false;
    }
  }
}
