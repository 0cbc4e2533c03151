import fs from 'node:fs';
import path from 'node:path';
import type { StatEntry, Store } from '../store/store.js';
import { poolStarted, sendBatch, startPool } from './hash-pool.js';
import { BatchView, hashOne, takeHashed, takeStat, type FileBatch, type Hashed } from './hash-slots.js';

/** Hashes kept in memory before they are written out in one transaction. */
const FLUSH_EVERY = 2000;

/** Files to hash or stat ahead before helper threads are started for them (or bytes to
 * hash: a few big files are worth a thread too). Below it the main thread does them as each
 * step needs them. Measured here: starting the helpers costs the main thread 4-7 ms (and
 * each helper ~30-60 ms of CPU to boot, on the other core), what it spends on ~400-600 small
 * files (~11 µs each: open, read, fstat, close); twice that, so a pass just above the line
 * still gains. */
const AHEAD_START_FILES = 1000;
const AHEAD_START_BYTES = 64 * 1024 * 1024;
/** With helpers already running (a daemon keeps them), a pass smaller than this is still
 * done on the main thread: a helper woken for a few files answers later than the main
 * thread would have read them. */
const AHEAD_WARM_FILES = 32;
/** Files per batch posted to a helper: each post wakes a helper that has caught up, and on
 * two busy cores every wake-up can cost the main thread its core for a moment. */
const AHEAD_BATCH = 256;
/** The epoch's recent moves kept by path (movedSince), and how many a check walks at most:
 * past that, rebuilding what rests on the stats is as cheap as checking each path. */
const MOVES_KEPT = 1024;
const MOVES_CHECKED = 64;

/** Whether `n` files (of `bytes` in all) are worth handing to the helper threads. */
export function worthAhead(n: number, bytes: number): boolean {
  return n >= (poolStarted() ? AHEAD_WARM_FILES : AHEAD_START_FILES) || bytes >= AHEAD_START_BYTES;
}

/** A file a helper does (or did) ahead: its batch and its slot in it. */
interface AheadSlot {
  view: BatchView;
  i: number;
}

/** A hash taken less than this long after the file's mtime is not trusted on its own: the
 * file may be rewritten within the same timestamp tick with the same size ("racy timestamp").
 * 2 s covers the coarsest common timestamps (FAT); BATCH_RACY_WINDOW_MS overrides it (tests
 * lower it so that files they just wrote can take the stat-only path). */
export const RACY_WINDOW_MS = racyWindow(process.env.BATCH_RACY_WINDOW_MS);

function racyWindow(v: string | undefined): number {
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 2000;
}

export interface FileState {
  hash: string;
  size: number;
  /** False when the file changed while it was read: the hash matches no stat of it. */
  stable: boolean;
  /** Wall clock when the hash was taken (this run, or the run that cached it). */
  hashedAt: number;
}

const { S_IFMT, S_IFREG, S_IFDIR } = fs.constants;

/** What a run keeps of a file's stat: the fields the checks read. An fs.Stats in Node 20
 * holds four Date objects and a dozen boxed numbers; the 110,000 a 10,000-step no-op keeps
 * were ~100 MB of heap, and copying them out of the young generation most of its GC time. */
export class FileStat {
  constructor(
    readonly size: number,
    readonly mtimeMs: number,
    readonly ctimeMs: number,
    readonly ino: number,
    readonly mode: number,
    /** Hard links: the daemon trusts folder events only for a file with one. */
    readonly nlink: number,
  ) {}

  static of(st: fs.Stats): FileStat {
    return new FileStat(st.size, st.mtimeMs, st.ctimeMs, st.ino, st.mode, st.nlink);
  }

  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }

  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
}

function sameStat(a: FileStat | null, b: FileStat | null): boolean {
  if (a === null || b === null) return a === b;
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.mode === b.mode && a.nlink === b.nlink;
}

/** Where a StatCache keeps the stats it holds: a Map by default; a tracker that keeps them from
 * run to run packs them (app/file-states/packed-stats.ts). */
export interface StatTable {
  get(rel: string): FileStat | null | undefined;
  has(rel: string): boolean;
  set(rel: string, st: FileStat | null): unknown;
  delete(rel: string): boolean;
  clear(): void;
  keys(): IterableIterator<string>;
}

/** Is `rel` a normalised path inside the project (no `..`, no `.` segment, not absolute), so
 * that root + '/' + rel names it? Every spec and listed file is. */
export function plainRel(rel: string): boolean {
  return !(rel === '.' || rel === '' || path.isAbsolute(rel) || rel.startsWith('..') || rel.includes('/.') || rel.includes('\\'));
}

/** Content hashes of files, read only when a file's stat (size, mtime, ctime, inode) changed
 * since it was last hashed. One instance per run: within a run each file is stat'ed once
 * unless `forget` is called (after a step wrote it). */
export class StatCache {
  private readonly memo = new Map<string, FileState | null>();

  /** Bumped by every `forget`: a verdict drawn from stats stays valid while it is unchanged. */
  epoch = 0;
  /** The path of each recent move of the epoch: moves[i] took it from movesFrom + i to
   * movesFrom + i + 1. A drop of many paths at once (forgetWhere, forgetAll) names none, and
   * starts the list again. */
  private moves: string[] = [];
  private movesFrom = 0;
  bytesHashed = 0;
  filesHashed = 0;
  /** Paths stat'ed (here or by a helper thread) rather than answered from what was held. */
  filesStatted = 0;

  private readonly prefix: string;

  constructor(
    readonly root: string,
    private readonly store: Store | undefined,
    private readonly stats: StatTable = new Map<string, FileStat | null>(),
  ) {
    this.prefix = root.endsWith(path.sep) ? root : root + path.sep;
  }

  /** Files wanted ahead (hashAhead) whose stored hash did not hold: the helper slot of each,
   * or null while it waits to be sent (or when there are no helpers). */
  private readonly ahead = new Map<string, AheadSlot | null>();
  /** Wanted files not sent to a helper yet, in the order wanted. */
  private queued: string[] = [];
  private queuedBytes = 0;
  /** Paths a helper stats ahead (statAhead): the slot of each. */
  private readonly statSlots = new Map<string, AheadSlot>();

  /** Hash of a project-relative file, or null when it does not exist or is not a file. */
  get(rel: string): FileState | null {
    const known = this.memo.get(rel);
    if (known !== undefined) return known;
    const state = this.compute(rel);
    this.memo.set(rel, state);
    return state;
  }

  /** Absolute path of a project-relative one: a plain join when rel is a normalised path
   * inside the project (every spec and listed file is), as path.resolve per stat showed up
   * in no-op profiles at 100,000 files. */
  private abs(rel: string): string {
    return plainRel(rel) ? this.prefix + rel : path.resolve(this.root, rel);
  }

  private unsaved: [string, StatEntry][] = [];
  /** Every hash this instance took, as it is (or soon will be) in the store, and checked the
   * same way before the store is asked: a file hashed earlier in the run and looked at again
   * after a step (its inputs, once it ran) is not read again while its entry waits in the
   * unsaved batch (a first build of 1,000 steps read ~110 inputs twice: those of the steps
   * whose hashes were still unsaved when they finished). `forget` leaves it: like
   * a store entry, it is trusted only while the file's stat is the one it was taken with. */
  private readonly taken = new Map<string, StatEntry>();

  /** Writes the hashes taken since the last flush to the store, in one transaction: one put
   * per file woke lmdb's writer thread each time (~6 futex calls a file, most of a first hash
   * pass over 10,000 small files). Not awaited: losing them only costs a rehash next time, so
   * a failed commit (a full disk) is ignored rather than crashing the process. */
  flush(): void {
    if (this.unsaved.length === 0 || !this.store) {
      this.unsaved = [];
      return;
    }
    const batch = this.unsaved;
    this.unsaved = [];
    this.store.stat.putMany(batch).catch(() => {});
  }

  /** What this run hashed of a file, without hashing it. */
  peek(rel: string): FileState | null | undefined {
    return this.memo.get(rel);
  }

  /** The stat of a project-relative path (following links), or null when nothing is there.
   * Memoised like `get`, and never reads the file. */
  stat(rel: string): FileStat | null {
    let st = this.stats.get(rel);
    if (st === undefined) {
      const slot = this.statSlots.get(rel);
      const ahead = slot && takeStat(slot.view, slot.i);
      if (slot) this.statSlots.delete(rel);
      if (ahead !== undefined) {
        st = ahead && new FileStat(ahead.size, ahead.mtimeMs, ahead.ctimeMs, ahead.ino, ahead.mode, ahead.nlink);
      } else {
        const full = fs.statSync(this.abs(rel), { throwIfNoEntry: false });
        st = full ? FileStat.of(full) : null;
      }
      this.stats.set(rel, st);
      this.filesStatted++;
    }
    return st;
  }

  /** Counts paths stat'ed by other means (the no-op record's helper process). */
  countStatted(n: number): void {
    this.filesStatted += n;
  }

  /** Drops what this run knows about a file, so the next `get` stats it again. The epoch moves
   * only when something was held: no verdict can rest on a path this cache never answered for
   * (watch mode forgets every path an event names, most of them never asked for). */
  forget(rel: string): void {
    const dropped = [this.memo.delete(rel), this.stats.delete(rel), this.ahead.delete(rel), this.statSlots.delete(rel)];
    if (dropped.includes(true)) this.moved(rel);
  }

  /** Moves the epoch on for a change to `rel` (undefined: to paths not named one by one). */
  private moved(rel: string | undefined): void {
    this.epoch++;
    if (rel === undefined) {
      this.moves = [];
      this.movesFrom = this.epoch;
      return;
    }
    this.moves.push(rel);
    if (this.moves.length > 2 * MOVES_KEPT) {
      const cut = this.moves.length - MOVES_KEPT;
      this.moves = this.moves.slice(cut);
      this.movesFrom += cut;
    }
  }

  /** Whether a path `touches` says yes to may have been dropped or replaced since `epoch`:
   * true for one that was, and when that is not known (too many moves since, or one that
   * named no path). A verdict drawn from the stats of some paths at an earlier epoch still
   * stands when this is false. */
  movedSince(epoch: number, touches: (rel: string) => boolean): boolean {
    if (epoch === this.epoch) return false;
    if (epoch < this.movesFrom || epoch > this.epoch || this.epoch - epoch > MOVES_CHECKED) return true;
    for (let i = epoch - this.movesFrom; i < this.moves.length; i++) if (touches(this.moves[i]!)) return true;
    return false;
  }

  /** Files `get` will be asked for soon (the inputs and outputs of the steps a run checks in
   * full): those whose stored hash does not hold are hashed by helper threads, in this order,
   * while the main thread goes on, once there are enough of them to pay for the threads.
   * `get` then takes each result exactly as if it had hashed the file itself (the same stat,
   * the same racy-timestamp and "changed while read" rules), or hashes the file itself if no
   * helper has started on it. Stats each file (memoised), as `get` would. */
  hashAhead(rels: readonly string[]): void {
    for (const rel of rels) {
      if (this.memo.has(rel) || this.ahead.has(rel)) continue;
      const st = this.stat(rel);
      if (!st?.isFile()) continue;
      const known = this.trusted(rel, st);
      if (known) {
        this.memo.set(rel, known);
        continue;
      }
      this.ahead.set(rel, null);
      this.queued.push(rel);
      this.queuedBytes += st.size;
    }
    if (this.queued.length >= (poolStarted() ? AHEAD_BATCH : AHEAD_START_FILES) || this.queuedBytes >= AHEAD_START_BYTES) this.sendAhead();
  }

  /** Sends what hashAhead queued to the helpers (started if it is worth it); call after the
   * last hashAhead of a pass. */
  sendAhead(): void {
    const worth = worthAhead(this.queued.length, this.queuedBytes);
    const queued = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    if (queued.length === 0 || !worth || !startPool()) return;
    // Not those taken by `get` or forgotten meanwhile, nor one wanted twice.
    const todo = new Set<string>();
    for (const rel of queued) if (this.ahead.get(rel) === null && this.stats.get(rel)) todo.add(rel);
    this.post('hash', [...todo], this.ahead);
  }

  /** Paths `stat` will be asked for soon, none of them known now (a daemon's files that
   * changed since its last run): helper threads stat them, in this order, when there are
   * enough of them to pay for the threads; `stat` takes each result, or stats the path
   * itself if no helper has started on it. */
  statAhead(rels: readonly string[]): void {
    const todo = rels.filter((rel) => !this.stats.has(rel) && !this.statSlots.has(rel));
    if (!worthAhead(todo.length, 0) || !startPool()) return;
    this.post('stat', todo, this.statSlots);
  }

  /** Posts `rels` to the helpers in batches, noting each one's slot in `slots`. */
  private post(op: FileBatch['op'], rels: readonly string[], slots: Map<string, AheadSlot | null>): void {
    for (let at = 0; at < rels.length; at += AHEAD_BATCH) {
      const part = rels.slice(at, at + AHEAD_BATCH);
      const sizes = op === 'hash' ? part.map((r) => this.stats.get(r)?.size ?? 0) : [];
      const view = BatchView.create(
        op,
        part.map((r) => this.abs(r)),
        sizes,
      );
      for (let i = 0; i < part.length; i++) slots.set(part[i]!, { view, i });
      sendBatch(view);
    }
  }

  /** Holds `st` as the stat of a path whose stat is held (a daemon's stat taken again once
   * the path's folder is watched, trusted-stats.ts). The hash this instance took of the file
   * (if any) was read before that and is dropped: the next `get` goes by the stored hash and
   * its racy-timestamp rule, as a new run would. */
  replaceStat(rel: string, st: FileStat | null): void {
    const held = this.stats.get(rel);
    if (held === undefined) return;
    this.memo.delete(rel);
    this.ahead.delete(rel);
    this.statSlots.delete(rel);
    // The same: the held object stays (long-lived, it is not garbage for the next collection).
    if (sameStat(held, st)) return;
    this.moved(rel);
    this.stats.set(rel, st);
  }

  /** Forgets the hashes this instance took, once they are in the store: a tracker keeps one
   * instance from run to run (app/file-states/), and from the next run on the store answers
   * for them, checked the same way. Kept, they were ~220 B a file (22 MB of heap for 100,000
   * files hashed once). Without a store they are all there is, and stay. */
  dropTaken(): void {
    if (!this.store) return;
    this.flush();
    this.taken.clear();
  }

  /** Drops the stats helpers took ahead that the run did not use: taken before this point,
   * they must not be taken as stats of a later run (a daemon's folder watched since). */
  dropStatsAhead(): void {
    this.statSlots.clear();
  }

  /** The stat held for a path, without taking one (undefined: none held). */
  peekStat(rel: string): FileStat | null | undefined {
    return this.stats.get(rel);
  }

  /** Drops every path `drop` says yes to (watch mode: what is under a removed folder, and
   * files it gets no events for). Returns how many were dropped. */
  forgetWhere(drop: (rel: string) => boolean): number {
    let n = 0;
    for (const rel of this.stats.keys()) {
      if (!drop(rel)) continue;
      this.stats.delete(rel);
      this.memo.delete(rel);
      n++;
    }
    for (const rel of this.memo.keys()) {
      if (!drop(rel)) continue;
      this.memo.delete(rel);
      n++;
    }
    for (const rel of this.ahead.keys()) if (drop(rel)) this.ahead.delete(rel);
    for (const rel of this.statSlots.keys()) if (drop(rel)) this.statSlots.delete(rel);
    if (n > 0) this.moved(undefined);
    return n;
  }

  forgetAll(): void {
    this.memo.clear();
    this.stats.clear();
    this.ahead.clear();
    this.statSlots.clear();
    this.queued = [];
    this.queuedBytes = 0;
    this.moved(undefined);
  }

  /** The hash this instance or the store holds for the file, if it is still the file's: the
   * same stat, and taken more than the racy window after the file's last change. The change
   * time counts as well as the modification time: `cp -a`, `touch -d` or an unpacked archive
   * write the content now and set an old mtime, and a second such write within the same
   * timestamp tick would leave every field of the stat as it was. */
  private trusted(rel: string, st: FileStat): FileState | undefined {
    const cached = this.taken.get(rel) ?? this.store?.stat.get(rel);
    if (
      cached &&
      cached.size === st.size &&
      cached.mtimeMs === st.mtimeMs &&
      cached.ctimeMs === st.ctimeMs &&
      cached.ino === st.ino &&
      cached.hashedAt - Math.max(st.mtimeMs, st.ctimeMs) > RACY_WINDOW_MS
    ) {
      return { hash: cached.hash, size: st.size, stable: true, hashedAt: cached.hashedAt };
    }
    return undefined;
  }

  private compute(rel: string): FileState | null {
    const st = this.stat(rel);
    if (!st?.isFile()) return null;
    let hashed: Hashed | undefined;
    const slot = this.ahead.get(rel);
    if (slot !== undefined) {
      // hashAhead found no stored hash that holds (and none was stored since: only this
      // method stores one, and it takes the slot first); a helper may have hashed it already.
      this.ahead.delete(rel);
      if (slot) hashed = takeHashed(slot.view, slot.i);
    } else {
      const known = this.trusted(rel, st);
      if (known) return known;
    }
    // The fstat of the open file after its last read: if it changed while it was read (or
    // the path named another file by the time it was opened), this hash is not remembered.
    const { hash, hashedAt, ...after } = hashed ?? hashOne(this.abs(rel), st.size);
    this.bytesHashed += st.size;
    this.filesHashed++;
    const stable = after.ino === st.ino && after.size === st.size && after.mtimeMs === st.mtimeMs && after.ctimeMs === st.ctimeMs;
    if (stable) {
      const entry: StatEntry = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, hash, hashedAt };
      this.unsaved.push([rel, entry]);
      this.taken.set(rel, entry);
      if (this.unsaved.length >= FLUSH_EVERY) this.flush();
    }
    return { hash, size: st.size, stable, hashedAt };
  }
}
