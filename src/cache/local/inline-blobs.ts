import type { Database } from 'lmdb';
import type { Store } from '../../store/store.js';
import type { WriteBatch } from '../../store/write-batch.js';

/** LMDB database of the cache's small blobs (content hash → bytes), in the run store. */
export const BLOB_DB = 'blobs';

/** Files up to this size are stored inside LMDB rather than as one file each. Creating a
 * file costs the main thread ~0.1–1.2 ms on ext4 whatever its size, an LMDB put ~0.03 ms (the
 * bytes are written by lmdb-js's writer thread); per byte LMDB costs more (~2–4 ms of CPU per
 * MB: its commits are fsync'ed). Around 256 KiB the total CPU is about even with the
 * per-file cost seen in real builds; the measurements are in docs/output-cache.md. */
export const INLINE_MAX = 256 * 1024;

type BlobDb = Database<Uint8Array, string>;

/** The small blobs inside LMDB. Writes go into the store's write batch (never awaited per
 * step), which commits them in the order they were made, so a blob put before an index
 * entry is committed with it or before it. Reads see committed data
 * only: `pending` remembers this instance's writes until then, so a blob removed a moment
 * ago is never taken as present, nor one just put as absent. */
export class InlineBlobs {
  private readonly pending = new Map<string, boolean>();

  private constructor(
    private readonly db: BlobDb,
    private readonly writes: WriteBatch,
  ) {}

  /** Opens (creating it if needed) the blob database of a writable store. */
  static open(store: Store): InlineBlobs {
    return new InlineBlobs(store.root.openDB<Uint8Array, string>({ name: BLOB_DB, encoding: 'binary' }), store.writes);
  }

  /** For a read-only store: undefined when the database does not exist (a store written
   * before blobs were kept inline, or before any run stored one). */
  static openReadOnly(store: Store): InlineBlobs | undefined {
    try {
      const db = store.root.openDB<Uint8Array, string>({ name: BLOB_DB, encoding: 'binary' });
      db.getKeysCount({ limit: 1 }); // throws when the database does not exist
      return new InlineBlobs(db, store.writes);
    } catch {
      return undefined;
    }
  }

  /** The blob's bytes, or undefined. A view of lmdb-js's shared read buffer: valid only until
   * the next read of the store, so use it at once. */
  peek(hash: string): Uint8Array | undefined {
    if (this.pending.get(hash) === false) return undefined;
    const b = this.db.getBinaryFast(hash);
    // lmdb-js sets `length` (not `byteLength`) of its reused buffer to the value's size.
    return b === undefined ? undefined : b.subarray(0, b.length);
  }

  has(hash: string): boolean {
    return this.pending.get(hash) ?? this.db.doesExist(hash);
  }

  /** Stores the bytes (not copied: `bytes` must not change afterwards). */
  put(hash: string, bytes: Uint8Array): void {
    this.pending.set(hash, true);
    // A failed commit fails the index entry put after it too (same or later transaction);
    // should the entry survive anyway, a restore finds its blob missing and drops it.
    this.writes.add(() => void this.db.put(hash, bytes)).catch(() => this.pending.set(hash, false));
  }

  remove(hash: string): void {
    this.pending.set(hash, false);
    this.writes.add(() => void this.db.remove(hash)).catch(() => undefined);
  }

  /** Hashes of the committed blobs, and of this instance's puts. */
  hashes(): Set<string> {
    const out = new Set<string>();
    for (const k of this.db.getKeys()) if (this.pending.get(k) !== false) out.add(k);
    for (const [k, present] of this.pending) if (present) out.add(k);
    return out;
  }
}
