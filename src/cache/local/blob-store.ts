import fs from 'node:fs';
import path from 'node:path';
import { hashBytes, hashFileSync } from '../../fingerprint/hash.js';
import { INLINE_MAX, type InlineBlobs } from './inline-blobs.js';

/** Copy-on-write clone where the file system has it (btrfs, XFS, APFS), a plain copy
 * otherwise. Never a hard link: a later in-place edit of an output would then edit the
 * cached bytes too. */
export function cloneFile(src: string, dst: string): void {
  fs.copyFileSync(src, dst, fs.constants.COPYFILE_FICLONE);
}

async function cloneFileAsync(src: string, dst: string): Promise<void> {
  await fs.promises.copyFile(src, dst, fs.constants.COPYFILE_FICLONE);
}

export type PutResult = 'stored' | 'present' | 'changed';

/** Files up to this size are read once into memory, hashed and written: fewer system calls
 * than a copy and a re-read, which is what thousands of small outputs cost. Bigger files are
 * cloned (or copied by the kernel) and hashed from disk. */
export const SMALL_FILE = 1024 * 1024;

/** Content-addressed blobs, each distinct content stored once whichever step and path wrote
 * it. Files up to `INLINE_MAX` live in LMDB (`inline`: an environment of their own, see
 * inline-blobs.ts), bigger ones as files under `<dir>/blobs/<2 hex>/<xxh64>`. A file blob appears under its
 * final name only by rename from `<dir>/tmp/`, after its bytes were checked against the
 * name, so a kill at any moment leaves either no blob or a whole one (plus a stray temp
 * file, cleared later); an inline blob is checked before it is put, and LMDB commits are
 * atomic. A blob is looked up inline first, then as a file: stores written before blobs were
 * kept inline hold files only. Without `inline` (a read-only store that has no small
 * blobs), only files are seen. */
export class BlobStore {
  readonly blobsDir: string;
  readonly tmpDir: string;
  /** Folders known to exist, so each is created once per process, not once per file. */
  private readonly made = new Set<string>();

  /** `inline`: the small blobs, or how to open them at their first use (a run that stores and
   * restores nothing, a no-op, never opens their LMDB environment: ~2-3 ms of CPU). */
  constructor(
    readonly dir: string,
    inline?: InlineBlobs | (() => InlineBlobs | undefined),
  ) {
    this.blobsDir = path.join(dir, 'blobs');
    this.tmpDir = path.join(dir, 'tmp');
    this.openInline = typeof inline === 'function' ? inline : () => inline;
  }

  private readonly openInline: () => InlineBlobs | undefined;
  private opened: { inline: InlineBlobs | undefined } | undefined;

  get inline(): InlineBlobs | undefined {
    return (this.opened ??= { inline: this.openInline() }).inline;
  }

  pathOf(hash: string): string {
    return path.join(this.blobsDir, hash.slice(0, 2), hash);
  }

  /** Size of the blob, or undefined when it is absent. */
  sizeOf(hash: string): number | undefined {
    const bytes = this.inline?.peek(hash);
    if (bytes) return bytes.byteLength;
    try {
      return fs.statSync(this.pathOf(hash)).size;
    } catch {
      return undefined;
    }
  }

  private mkdir(dir: string): void {
    if (this.made.has(dir)) return;
    fs.mkdirSync(dir, { recursive: true });
    this.made.add(dir);
  }

  /** Stores `srcAbs` (of `size` bytes) as the blob `hash` unless that blob exists.
   * `changed`: the file's bytes are not `hash` any more (edited after it was hashed);
   * nothing is stored. An inline blob's write is not awaited (see InlineBlobs). */
  async put(srcAbs: string, hash: string, size: number): Promise<PutResult> {
    const final = this.pathOf(hash);
    if (this.inline?.has(hash) || fs.existsSync(final)) return 'present';
    if (this.inline && size <= INLINE_MAX) {
      const bytes = fs.readFileSync(srcAbs);
      if (hashBytes(bytes) !== hash) return 'changed';
      this.inline.put(hash, bytes);
      return 'stored';
    }
    this.mkdir(this.tmpDir);
    const tmp = path.join(this.tmpDir, `${hash}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`);
    let renamed = false;
    try {
      if (size <= SMALL_FILE) {
        const bytes = fs.readFileSync(srcAbs);
        if (hashBytes(bytes) !== hash) return 'changed';
        fs.writeFileSync(tmp, bytes);
      } else {
        await cloneFileAsync(srcAbs, tmp);
        if (hashFileSync(tmp) !== hash) return 'changed';
      }
      this.mkdir(path.dirname(final));
      fs.renameSync(tmp, final);
      renamed = true;
      return 'stored';
    } finally {
      if (!renamed) fs.rmSync(tmp, { force: true });
    }
  }

  /** Writes the blob `hash` to `dstAbs` (which must not exist) and returns the hash of the
   * bytes written: small files are read once and hashed from memory, big ones are cloned
   * (copied where the file system cannot clone) and hashed from the new file. */
  copyOut(hash: string, size: number, dstAbs: string, mode: number): string {
    this.mkdir(path.dirname(dstAbs));
    if (size <= SMALL_FILE) {
      // Written and hashed before anything else reads the store (the view is lmdb-js's
      // shared buffer).
      const bytes = this.inline?.peek(hash) ?? fs.readFileSync(this.pathOf(hash));
      fs.writeFileSync(dstAbs, bytes, { mode });
      fs.chmodSync(dstAbs, mode);
      return hashBytes(bytes);
    }
    cloneFile(this.pathOf(hash), dstAbs);
    fs.chmodSync(dstAbs, mode);
    return hashFileSync(dstAbs, size);
  }

  /** Removes the blob from both places (index entries naming it must be gone first). */
  remove(hash: string): void {
    this.inline?.remove(hash);
    fs.rmSync(this.pathOf(hash), { force: true });
  }

  /** Every stored blob's hash, inline and file (for sweeping blobs no entry refers to);
   * sizes only on demand (`sizeOf`), as most blobs are referenced and their sizes known. */
  hashes(): Set<string> {
    const out = this.inline?.hashes() ?? new Set<string>();
    let shards: string[];
    try {
      shards = fs.readdirSync(this.blobsDir);
    } catch {
      return out;
    }
    for (const shard of shards) {
      try {
        for (const name of fs.readdirSync(path.join(this.blobsDir, shard))) out.add(name);
      } catch {
        // removed meanwhile
      }
    }
    return out;
  }

  /** Removes temp files a killed process left. Only under the project lock: a running
   * save of another process would lose its temp file. */
  clearTmp(): number {
    let n = 0;
    try {
      for (const e of fs.readdirSync(this.tmpDir)) {
        fs.rmSync(path.join(this.tmpDir, e), { recursive: true, force: true });
        n++;
      }
    } catch {
      // no temp folder yet
    }
    return n;
  }
}
