import fs from 'node:fs';
import path from 'node:path';
import { StatCache, worthAhead, type FileStat } from '../fingerprint/stat-cache.js';
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

export interface TrustedStatsOptions {
  root: string;
  store: Store;
  log: (line: string) => void;
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
 * - A path is kept only if its folder was already watched when it was stat'ed; paths outside
 *   the project, in folders that cannot be watched, or under a watch that failed are stat'ed
 *   again by every run, as without a daemon.
 * - A cookie that does not come back in time, or any watch error, drops everything.
 * What inotify cannot see (writes through a shared memory mapping, changes made from another
 * machine on a network file system) is not seen here either; docs/daemon.md says so, and
 * `--no-daemon` runs check every file.
 */
export class TrustedStats {
  private statsFor: NotingStatCache;
  private readonly watched = new Map<string, fs.FSWatcher>();
  /** The folder each watch was set on (device and inode), to tell a replaced folder. */
  private readonly folderIds = new Map<string, string>();
  /** Paths found to be what a folder's events describe: a plain file with one link, or
   * nothing at all. Cleared per path by its event. */
  private readonly vetted = new Set<string>();
  private readonly cookieDir: string;
  private readonly cookies = new Map<string, () => void>();
  private cookieWatch: fs.FSWatcher | undefined;
  private nextCookie = 0;

  constructor(private readonly opts: TrustedStatsOptions) {
    this.statsFor = new NotingStatCache(opts.root, opts.store);
    this.cookieDir = path.join(opts.root, '.cache', 'daemon-cookies');
  }

  /** The cache for the store in use; a new store (reopened) starts from nothing. */
  cacheFor(store: Store): StatCache {
    if (store !== this.opts.store) {
      this.opts.store = store;
      this.statsFor = new NotingStatCache(this.opts.root, store);
      this.vetted.clear();
    }
    return this.statsFor;
  }

  /** Before a run: watch the folders the last run looked into, read every event up to now,
   * and drop what cannot be trusted. */
  async beforeRun(): Promise<void> {
    const stats = this.statsFor;
    stats.filesHashed = 0;
    stats.bytesHashed = 0;
    // Judged: the paths stat'ed since the last look (one kept stays kept until an event
    // forgets it). Only folders watched before this look count: what the cache holds from a
    // folder watched from now on predates the watch. A path not kept is forgotten; if a run
    // needs it again it is stat'ed again, and judged again at the next look.
    const before = new Set(this.watched.keys());
    const judge = stats.fresh;
    stats.fresh = [];
    for (const rel of judge) {
      if (stats.peekStat(rel) === undefined) continue; // forgotten since, by an event
      const inside = this.inside(rel);
      const dir = path.posix.dirname(rel);
      if (inside && before.has(dir) && this.vet(rel, stats)) continue;
      if (inside && !this.watched.has(dir)) this.watchWithAncestors(dir);
      stats.forget(rel);
    }
    if (!(await this.sync())) {
      this.opts.log('file events did not arrive in time: checking every file in this run');
      stats.forgetAll();
    }
    // What changed since the last run (every input touched, a checkout) is stat'ed again by
    // helper threads while the run starts, when there is enough of it (StatCache.statAhead).
    stats.statAhead(stats.takeGone());
  }

  close(): void {
    for (const w of this.watched.values()) w.close();
    this.watched.clear();
    this.folderIds.clear();
    this.vetted.clear();
    this.cookieWatch?.close();
    this.cookieWatch = undefined;
    fs.rmSync(this.cookieDir, { recursive: true, force: true });
  }

  /** Whether events on the folder describe this path. Not for a symbolic link (its target
   * changes elsewhere), a file with other hard links (written through another folder), or a
   * folder (its entries change without an event on its parent): those are stat'ed every run.
   * Each path is vetted once, with one lstat. */
  private vet(rel: string, stats: StatCache): boolean {
    if (this.vetted.has(rel)) return true;
    const st = stats.peekStat(rel);
    if (st === undefined || (st !== null && (!st.isFile() || st.nlink > 1))) return false;
    const l = fs.lstatSync(path.join(this.opts.root, rel), { throwIfNoEntry: false });
    if (l ? !l.isFile() || l.nlink > 1 : st !== null) return false;
    this.vetted.add(rel);
    return true;
  }

  /** A normalised path inside the project (the only kind kept). */
  private inside(rel: string): boolean {
    return rel !== '' && rel !== '.' && !path.isAbsolute(rel) && !rel.startsWith('../') && rel !== '..' && !rel.includes('/../') && !rel.startsWith('.cache/');
  }

  /** Watches `dir` and every ancestor up to the root (an ancestor's event is how a renamed
   * or removed folder is seen). False if a folder could not be watched. */
  private watchWithAncestors(dir: string): boolean {
    const chain: string[] = [];
    for (let d = dir; ; d = path.posix.dirname(d)) {
      chain.push(d);
      if (d === '.') break;
    }
    for (const d of chain.reverse()) {
      if (this.watched.has(d)) continue;
      let w: fs.FSWatcher;
      try {
        w = fs.watch(d === '.' ? this.opts.root : path.join(this.opts.root, d), { persistent: false }, (_type, name) => this.onEvent(d, name));
      } catch {
        return false; // gone, or out of inotify watches: its files stay untrusted
      }
      w.on('error', () => this.lost(d));
      this.watched.set(d, w);
      this.folderIds.set(d, this.folderId(d) ?? '');
    }
    return true;
  }

  private folderId(dir: string): string | undefined {
    const st = fs.statSync(dir === '.' ? this.opts.root : path.join(this.opts.root, dir), { throwIfNoEntry: false });
    return st?.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
  }

  private sameFolder(dir: string): boolean {
    const id = this.folderId(dir);
    return id !== undefined && id === this.folderIds.get(dir);
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
    for (const [d, w] of this.watched) {
      if (under(d)) {
        w.close();
        this.watched.delete(d);
        this.folderIds.delete(d);
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
