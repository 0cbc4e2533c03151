import fs from 'node:fs';
import path from 'node:path';

/** A folder's watch, the folder it was set on (device and inode, to tell a replaced folder),
 * and how many runs had begun when it was set (a stat taken by a later run postdates it). */
interface Watch {
  w: fs.FSWatcher;
  id: string;
  run: number;
  /** The folder's own path is a symbolic link (the watch follows it). */
  isLink: boolean;
  /** It or a folder above it is a symbolic link: its files' events are told (watch mode) but
   * never trusted (daemon): the link's target can be renamed, swapped or edited with no event
   * in any folder watched here. */
  linked: boolean;
}

export interface FolderWatchesOptions {
  root: string;
  /** A change in a watched folder: `name` is the entry, null when the kernel could not say
   * (the watch overflowed: anything in the folder may have changed). */
  onEvent: (dir: string, name: string | null) => void;
  /** A folder's watch failed (an error, the kernel dropped it). */
  onError: (dir: string) => void;
  log: (line: string) => void;
  /** Whether the watches keep the process alive (watch mode: they are what it waits on). */
  persistent?: boolean;
  /** Folders watched at most, as if the kernel refused more (tests; the kernel's own limit,
   * fs.inotify.max_user_watches, is met the same way). */
  maxWatches?: number;
}

/**
 * One plain `fs.watch` per folder (inotify on Linux), keyed by project-relative folder ('.' is
 * the root). Node reads every one of them from a single inotify descriptor, so events arrive in
 * the order the changes happened and none is delayed or merged on the way: what the cookie rule
 * (cookies.ts) needs to prove that every change made before a moment has been read.
 */
export class FolderWatches {
  private readonly watched = new Map<string, Watch>();
  private warnedFull = false;
  /** Events read so far (the tracker compares it with the kernel's queue length). */
  events = 0;

  constructor(private readonly opts: FolderWatchesOptions) {}

  get size(): number {
    return this.watched.size;
  }

  has(dir: string): boolean {
    return this.watched.has(dir);
  }

  /** The run count when `dir`'s watch was set (undefined: not watched). */
  since(dir: string): number | undefined {
    return this.watched.get(dir)?.run;
  }

  /** Whether `dir`'s watch goes through a symbolic link (see Watch.linked). */
  linked(dir: string): boolean {
    return this.watched.get(dir)?.linked ?? false;
  }

  /** Watched folders (for the "watching …" line and tests). */
  folders(): IterableIterator<string> {
    return this.watched.keys();
  }

  abs(rel: string): string {
    return rel === '.' ? this.opts.root : path.join(this.opts.root, rel);
  }

  /** Watches `dir` and every ancestor up to the root (an ancestor's event is how a renamed or
   * removed folder is seen), stamped with `run`. False if a folder could not be watched (it is
   * added to `failed`, and not tried again while that set lives). */
  watchWithAncestors(dir: string, run: number, failed: Set<string>): boolean {
    const chain: string[] = [];
    for (let d = dir; ; d = path.posix.dirname(d)) {
      chain.push(d);
      if (d === '.' || d === '..' || d.endsWith('/..') || d === '/') break;
    }
    for (const d of chain.reverse()) {
      if (this.watched.has(d)) continue;
      if (failed.has(d) || !this.watch(d, run)) {
        failed.add(d);
        return false;
      }
    }
    return true;
  }

  /** Watches one folder. False when it cannot be (gone, not a folder, out of watches). */
  private watch(d: string, run: number): boolean {
    // The folder's identity is read before the watch is set: were it replaced in between, the
    // parent's event (watched first) finds another folder there and drops this one.
    const id = this.folderId(d) ?? '';
    let w: fs.FSWatcher;
    try {
      if (this.watched.size >= (this.opts.maxWatches ?? Infinity)) throw Object.assign(new Error('watch limit'), { code: 'ENOSPC' });
      w = fs.watch(this.abs(d), { persistent: this.opts.persistent === true }, (_type, name) => {
        this.events++;
        this.opts.onEvent(d, name === null ? null : String(name));
      });
    } catch (e) {
      // Gone, or out of inotify watches: its files stay untrusted (stat'ed by every run).
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC' && !this.warnedFull) {
        this.warnedFull = true;
        this.opts.log(`out of inotify watches after ${this.watched.size} folders (fs.inotify.max_user_watches): files in the other folders are checked by every run`);
      }
      return false;
    }
    w.on('error', () => this.opts.onError(d));
    const isLink = this.isLink(d);
    const linked = isLink || (d !== '.' && this.linked(path.posix.dirname(d)));
    this.watched.set(d, { w, id, run, isLink, linked });
    return true;
  }

  folderId(dir: string): string | undefined {
    try {
      const st = fs.statSync(this.abs(dir), { throwIfNoEntry: false });
      return st?.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether `dir` is still the folder its watch was set on (the same folder, reached the same
   * way: a folder replaced by a link to itself is not). */
  sameFolder(dir: string): boolean {
    const id = this.folderId(dir);
    const w = this.watched.get(dir);
    return id !== undefined && id === w?.id && this.isLink(dir) === w.isLink;
  }

  private isLink(dir: string): boolean {
    if (dir === '.') return false;
    try {
      return fs.lstatSync(this.abs(dir), { throwIfNoEntry: false })?.isSymbolicLink() === true;
    } catch {
      return false;
    }
  }

  /** Stops watching every folder `under` says yes to. */
  unwatchWhere(under: (dir: string) => boolean): void {
    for (const [d, { w }] of this.watched) {
      if (!under(d)) continue;
      w.close();
      this.watched.delete(d);
    }
  }

  close(): void {
    for (const { w } of this.watched.values()) w.close();
    this.watched.clear();
  }
}
