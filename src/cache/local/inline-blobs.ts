import fs from 'node:fs';
import path from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import type { Store } from '../../store/store.js';
import { Ticket, type WriteBatch } from '../../store/write-batch.js';
import { BatchError } from '../../util/errors.js';
import { INLINE_BLOBS_DIR, OUTPUT_CACHE_DIR } from '../../util/project-layout.js';

/** The database of the run store where versions before the blobs' own environment kept the
 * small blobs (content hash → bytes); still read, and emptied by eviction and prune. */
export const LEGACY_BLOB_DB = 'blobs';

/** Files up to this size are stored inside LMDB rather than as one file each. Creating a
 * file costs the main thread ~0.1–1.2 ms on ext4 whatever its size, an LMDB put ~0.03 ms (the
 * bytes are written by lmdb-js's writer thread); per byte LMDB costs more (~2–4 ms of CPU per
 * MB: its commits are fsync'ed). Around 256 KiB the total CPU is about even with the
 * per-file cost seen in real builds; the measurements are in docs/output-cache.md. */
export const INLINE_MAX = 256 * 1024;

/** The LMDB environment of the small blobs: `.cache/outputs/inline/`. */
export function inlineBlobsDir(cacheDir: string): string {
  return path.join(cacheDir, OUTPUT_CACHE_DIR, INLINE_BLOBS_DIR);
}

type BlobDb = Database<Uint8Array, string>;
type BlobEnv = RootDatabase<Uint8Array, string>;

/** The small blobs, in an LMDB environment of their own (`.cache/outputs/inline/`), not in
 * the run store: a first build writes hundreds of MB of them, and interleaved with the step
 * records they spread the records every run reads over the whole file (a daemon reading
 * 10,000 states then mapped ~150 MB of it). Writes go into the store's write batch, which
 * commits this environment before the store's transaction of the same flush (removals after
 * it), so an index entry is never committed before the blobs it names; an entry put also
 * names the tickets of those blobs' uncommitted puts (`ticketOf`) and is not made when one
 * failed. Reads see committed data only: `pending` remembers this instance's writes until
 * then, so a blob removed a moment ago is never taken as present, nor one just put as absent.
 * A store written by an earlier version keeps its small blobs in its own `blobs` database:
 * they are read from there (`legacy`) and removed from there, never written there again. */
export class InlineBlobs {
  private readonly pending = new Map<string, boolean>();
  /** Puts not committed yet (a failed one stays, so that entries naming it are not made). */
  private readonly tickets = new Map<string, Ticket>();

  private constructor(
    private readonly env: BlobEnv | undefined,
    private legacy: BlobDb | undefined,
    private readonly writes: WriteBatch,
  ) {}

  /** Opens (creating it if needed) the blob environment of a writable store. One whose header
   * is damaged is removed and made anew: it holds only copies (an entry naming a lost blob is
   * a miss, and its step runs). Undefined when it cannot be opened (`.cache/outputs` is not
   * a folder, say): the cache then keeps every blob as a file, and a save that cannot says
   * so in its warning. */
  static open(store: Store, cacheDir: string): InlineBlobs | undefined {
    const dir = inlineBlobsDir(cacheDir);
    let env: BlobEnv | undefined;
    try {
      env = store.side(dir) as BlobEnv | undefined;
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      try {
        fs.rmSync(dir, { recursive: true, force: true });
        env = store.side(dir) as BlobEnv | undefined;
      } catch {
        return undefined;
      }
    }
    return new InlineBlobs(env, legacyDb(store), store.writes);
  }

  /** For a read-only store: undefined when there are no small blobs anywhere (no run stored
   * one yet, or a store whose blobs are all files). */
  static openReadOnly(store: Store, cacheDir: string): InlineBlobs | undefined {
    let env: BlobEnv | undefined;
    try {
      env = store.side(inlineBlobsDir(cacheDir)) as BlobEnv | undefined;
    } catch (e) {
      if (e instanceof BatchError) throw new BatchError(`${e.message} \`batch clean --cache\` removes it (only cached copies are lost).`, 3);
      throw e;
    }
    const legacy = legacyDb(store);
    return env || legacy ? new InlineBlobs(env, legacy, store.writes) : undefined;
  }

  /** The blob's bytes, or undefined. A view of lmdb-js's shared read buffer: valid only until
   * the next read of that environment, so use it at once. */
  peek(hash: string): Uint8Array | undefined {
    if (this.pending.get(hash) === false) return undefined;
    // lmdb-js sets `length` (not `byteLength`) of its reused buffer to the value's size.
    const b = this.env?.getBinaryFast(hash) ?? this.legacy?.getBinaryFast(hash);
    return b === undefined ? undefined : b.subarray(0, b.length);
  }

  has(hash: string): boolean {
    return this.pending.get(hash) ?? (this.env?.doesExist(hash) === true || this.legacy?.doesExist(hash) === true);
  }

  /** The ticket of this instance's put of `hash` while it is not committed (or failed). */
  ticketOf(hash: string): Ticket | undefined {
    return this.tickets.get(hash);
  }

  /** Stores the bytes (not copied: `bytes` must not change afterwards). */
  put(hash: string, bytes: Uint8Array): void {
    const env = this.env;
    if (!env) throw new Error('InlineBlobs.put on a read-only store');
    this.pending.set(hash, true);
    const ticket = new Ticket();
    this.tickets.set(hash, ticket);
    this.writes.add(() => void env.put(hash, bytes), { env, ticket }).then(
      () => {
        if (this.tickets.get(hash) === ticket) this.tickets.delete(hash);
      },
      () => {
        if (this.tickets.get(hash) === ticket) this.pending.set(hash, false);
      },
    );
  }

  /** Removes the blob, after the store's transaction of the same flush (the index entries
   * that named it go first), unless this instance puts it again meanwhile. */
  remove(hash: string): void {
    this.pending.set(hash, false);
    this.tickets.delete(hash);
    const stillGone = (): boolean => this.pending.get(hash) === false;
    const env = this.env;
    if (env) this.writes.add(() => void (stillGone() && env.remove(hash)), { env, late: true }).catch(() => undefined);
    const legacy = this.legacy;
    if (legacy) this.writes.add(() => void (stillGone() && legacy.remove(hash))).catch(() => undefined);
  }

  /** Hashes of the committed blobs, and of this instance's puts. */
  hashes(): Set<string> {
    const out = new Set<string>();
    for (const db of [this.env, this.legacy]) {
      if (db) for (const k of db.getKeys()) if (this.pending.get(k) !== false) out.add(k);
    }
    for (const [k, present] of this.pending) if (present) out.add(k);
    return out;
  }

  /** Drops the store's old blob database once nothing is left in it (after a prune), so that
   * later runs no longer look there. */
  async dropLegacyIfEmpty(): Promise<void> {
    const legacy = this.legacy;
    if (!legacy) return;
    await this.writes.flush();
    if (legacy.getKeysCount({ limit: 1 }) > 0) return;
    await legacy.drop();
    this.legacy = undefined;
  }
}

/** The store's old blob database, when it exists (opened without creating it). */
function legacyDb(store: Store): BlobDb | undefined {
  // The root database's keys are the names of the store's databases. Read to the end before
  // opening one: opening a database while a cursor is live breaks that cursor's transaction
  // (lmdb-js crashes).
  const names = [...store.root.getKeys({ start: LEGACY_BLOB_DB, end: `${LEGACY_BLOB_DB}\0` })];
  if (!names.includes(LEGACY_BLOB_DB)) return undefined;
  return store.root.openDB<Uint8Array, string>({ name: LEGACY_BLOB_DB, encoding: 'binary' });
}
