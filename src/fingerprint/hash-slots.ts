import fs from 'node:fs';
import { hashFileAndStatSync } from './hash.js';

/**
 * A batch of files to hash (or stat) ahead of need, in shared memory: one slot per file that
 * a helper thread (hash-worker.ts) fills and the main thread reads without a message. Each
 * slot's state is claimed with a compare-and-swap, so whichever thread gets to a file first
 * does it: the main thread never waits for a file no helper has started (it does it itself),
 * and waits only for one a helper is reading now.
 */

/** Nobody has started it. */
export const QUEUED = 0;
/** A helper is on it. */
export const CLAIMED = 1;
/** Done: the slot holds the result. */
export const DONE = 2;
/** The helper's system call failed: the main thread does it again itself, and gets the same
 * error in the same place a serial pass would. */
export const FAILED = 3;
/** The main thread took it over (does it itself, or gave up waiting). */
export const TAKEN = 4;

/** Numbers per slot. A hash: when it was taken (wall clock, before the open), then the fstat
 * of the open file after its last read (size, mtime, ctime, inode). A stat: found (1 or 0),
 * size, mtime, ctime, inode, mode, link count. */
const NUMS = 7;
const HEX = 16;

/** What is posted to a helper: the paths (absolute), with for a hash the size their stat
 * gave, and the shared memory for their states and results. */
export interface FileBatch {
  op: 'hash' | 'stat';
  paths: string[];
  sizes: number[];
  shared: SharedArrayBuffer;
}

/** A batch's shared memory, laid out as states (int32), numbers (float64), digests (hex). */
export class BatchView {
  readonly state: Int32Array;
  readonly nums: Float64Array;
  readonly hex: Buffer;

  constructor(readonly batch: FileBatch) {
    const n = batch.paths.length;
    const stateBytes = Math.ceil((n * 4) / 8) * 8;
    this.state = new Int32Array(batch.shared, 0, n);
    this.nums = new Float64Array(batch.shared, stateBytes, n * NUMS);
    this.hex = Buffer.from(batch.shared, stateBytes + n * NUMS * 8, batch.op === 'hash' ? n * HEX : 0);
  }

  static create(op: FileBatch['op'], paths: string[], sizes: number[]): BatchView {
    const n = paths.length;
    const bytes = Math.ceil((n * 4) / 8) * 8 + n * NUMS * 8 + (op === 'hash' ? n * HEX : 0);
    return new BatchView({ op, paths, sizes, shared: new SharedArrayBuffer(bytes) });
  }
}

/** The hash of one file and the stat of the open file after it was read, as the serial path
 * takes them. */
export interface Hashed {
  hash: string;
  hashedAt: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** The fields of a stat the stat cache keeps (FileStat's). */
export interface StatFields {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  mode: number;
  nlink: number;
}

/** A helper's side: does every slot of the batch that nobody claimed yet. */
export function workBatch(view: BatchView): void {
  const { state, nums, hex, batch } = view;
  for (let i = 0; i < batch.paths.length; i++) {
    if (Atomics.compareExchange(state, i, QUEUED, CLAIMED) !== QUEUED) continue;
    let outcome = FAILED;
    const o = i * NUMS;
    try {
      if (batch.op === 'hash') {
        const h = hashOne(batch.paths[i]!, batch.sizes[i]!);
        nums[o] = h.hashedAt;
        nums[o + 1] = h.size;
        nums[o + 2] = h.mtimeMs;
        nums[o + 3] = h.ctimeMs;
        nums[o + 4] = h.ino;
        hex.write(h.hash, i * HEX, HEX, 'latin1');
      } else {
        const st = fs.statSync(batch.paths[i]!, { throwIfNoEntry: false });
        nums[o] = st ? 1 : 0;
        if (st) {
          nums[o + 1] = st.size;
          nums[o + 2] = st.mtimeMs;
          nums[o + 3] = st.ctimeMs;
          nums[o + 4] = st.ino;
          nums[o + 5] = st.mode;
          nums[o + 6] = st.nlink;
        }
      }
      outcome = DONE;
    } catch {
      // FAILED: the main thread repeats it and reports the error as a serial pass would.
    }
    // compareExchange, not store: the main thread may have stopped waiting (TAKEN).
    Atomics.compareExchange(state, i, CLAIMED, outcome);
    Atomics.notify(state, i);
  }
}

/** How long the main thread waits for a file a helper is on before it does the file itself:
 * only a helper that died or hangs in a system call takes this long, and doing it again is
 * always correct. */
const GIVE_UP_MS = 5000;

/** The main thread's side: true when slot `i` holds a helper's result; false when the caller
 * must do the file itself (nobody had started it, or the helper failed). */
function claimResult(view: BatchView, i: number): boolean {
  const { state } = view;
  let waited = 0;
  for (;;) {
    const s = Atomics.compareExchange(state, i, QUEUED, TAKEN);
    if (s === DONE) return true;
    if (s !== CLAIMED) return false;
    // A helper is on it now.
    const t = performance.now();
    Atomics.wait(state, i, CLAIMED, 100);
    waited += performance.now() - t;
    if (waited > GIVE_UP_MS && Atomics.compareExchange(state, i, CLAIMED, TAKEN) === CLAIMED) return false;
  }
}

/** A helper's hash of slot `i`, or undefined: hash it yourself. */
export function takeHashed(view: BatchView, i: number): Hashed | undefined {
  if (!claimResult(view, i)) return undefined;
  const o = i * NUMS;
  const n = view.nums;
  return { hash: view.hex.toString('latin1', i * HEX, i * HEX + HEX), hashedAt: n[o]!, size: n[o + 1]!, mtimeMs: n[o + 2]!, ctimeMs: n[o + 3]!, ino: n[o + 4]! };
}

/** A helper's stat of slot `i` (null: nothing there), or undefined: stat it yourself. */
export function takeStat(view: BatchView, i: number): StatFields | null | undefined {
  if (!claimResult(view, i)) return undefined;
  const o = i * NUMS;
  const n = view.nums;
  if (n[o] === 0) return null;
  return { size: n[o + 1]!, mtimeMs: n[o + 2]!, ctimeMs: n[o + 3]!, ino: n[o + 4]!, mode: n[o + 5]!, nlink: n[o + 6]! };
}

/** A helper's work on one file, done on the calling thread: the serial path. */
export function hashOne(abs: string, size: number): Hashed {
  const hashedAt = Date.now();
  const { hash, after } = hashFileAndStatSync(abs, size);
  return { hash, hashedAt, size: after.size, mtimeMs: after.mtimeMs, ctimeMs: after.ctimeMs, ino: after.ino };
}
