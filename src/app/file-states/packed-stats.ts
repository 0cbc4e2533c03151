import { FileStat, type StatTable } from '../../fingerprint/stat-cache.js';

/** Numbers per row: size, mtimeMs, ctimeMs, ino, mode, nlink. */
const W = 6;
/** The mode of a row that holds "nothing there" (a real mode is never negative). */
const NONE = -1;

/**
 * The stats a tracker holds from run to run, packed: one row of six doubles per path in one
 * Float64Array, found through one Map from the path to its row (a small integer). A FileStat
 * object per path (a Map entry, the object, its boxed doubles) was ~143 B a path that lived as
 * long as the daemon; a row and its Map entry are ~70 B, and nothing per path for the garbage
 * collector to trace. `get` makes a FileStat for its caller (short-lived: it dies young, which
 * is cheap). Freed rows are reused.
 */
export class PackedStats implements StatTable {
  private readonly index = new Map<string, number>();
  private rows = new Float64Array(W * 1024);
  private free: number[] = [];
  private next = 0;

  get size(): number {
    return this.index.size;
  }

  get(rel: string): FileStat | null | undefined {
    const i = this.index.get(rel);
    if (i === undefined) return undefined;
    const r = this.rows;
    const o = i * W;
    const mode = r[o + 4]!;
    return mode === NONE ? null : new FileStat(r[o]!, r[o + 1]!, r[o + 2]!, r[o + 3]!, mode, r[o + 5]!);
  }

  has(rel: string): boolean {
    return this.index.has(rel);
  }

  set(rel: string, st: FileStat | null): this {
    let i = this.index.get(rel);
    if (i === undefined) {
      i = this.free.pop() ?? this.grow();
      this.index.set(rel, i);
    }
    const r = this.rows;
    const o = i * W;
    if (st === null) {
      r[o + 4] = NONE;
      return this;
    }
    r[o] = st.size;
    r[o + 1] = st.mtimeMs;
    r[o + 2] = st.ctimeMs;
    r[o + 3] = st.ino;
    r[o + 4] = st.mode;
    r[o + 5] = st.nlink;
    return this;
  }

  delete(rel: string): boolean {
    const i = this.index.get(rel);
    if (i === undefined) return false;
    this.index.delete(rel);
    this.free.push(i);
    return true;
  }

  clear(): void {
    this.index.clear();
    this.free = [];
    this.next = 0;
  }

  keys(): IterableIterator<string> {
    return this.index.keys();
  }

  /** A new row at the end, doubling the array when it is full. */
  private grow(): number {
    if ((this.next + 1) * W > this.rows.length) {
      const bigger = new Float64Array(this.rows.length * 2);
      bigger.set(this.rows);
      this.rows = bigger;
    }
    return this.next++;
  }
}
