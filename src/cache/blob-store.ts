import fs from 'node:fs';
import path from 'node:path';
import { hashFileSync } from '../fingerprint/hash.js';

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

/** Content-addressed files under `<dir>/blobs/<2 hex>/<xxh64>`: each distinct content is
 * stored once, whichever step and path wrote it. A blob appears under its final name only
 * by rename from `<dir>/tmp/`, after its bytes were checked against the name, so a kill at
 * any moment leaves either no blob or a whole one (plus a stray temp file, cleared later). */
export class BlobStore {
  readonly blobsDir: string;
  readonly tmpDir: string;

  constructor(readonly dir: string) {
    this.blobsDir = path.join(dir, 'blobs');
    this.tmpDir = path.join(dir, 'tmp');
  }

  pathOf(hash: string): string {
    return path.join(this.blobsDir, hash.slice(0, 2), hash);
  }

  /** Size of the blob, or undefined when it is absent. */
  sizeOf(hash: string): number | undefined {
    try {
      return fs.statSync(this.pathOf(hash)).size;
    } catch {
      return undefined;
    }
  }

  /** Stores `srcAbs` as the blob `hash` unless that blob exists. `changed`: the file's bytes
   * are not `hash` any more (it was edited after it was hashed); nothing is stored. */
  async put(srcAbs: string, hash: string): Promise<PutResult> {
    const final = this.pathOf(hash);
    if (fs.existsSync(final)) return 'present';
    fs.mkdirSync(this.tmpDir, { recursive: true });
    const tmp = path.join(this.tmpDir, `${hash}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`);
    try {
      await cloneFileAsync(srcAbs, tmp);
      if (hashFileSync(tmp) !== hash) return 'changed';
      fs.mkdirSync(path.dirname(final), { recursive: true });
      fs.renameSync(tmp, final);
      return 'stored';
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  remove(hash: string): void {
    fs.rmSync(this.pathOf(hash), { force: true });
  }

  /** Every blob on disk with its size (for sweeping blobs no entry refers to). */
  list(): Map<string, number> {
    const out = new Map<string, number>();
    let shards: string[];
    try {
      shards = fs.readdirSync(this.blobsDir);
    } catch {
      return out;
    }
    for (const shard of shards) {
      let names: string[];
      try {
        names = fs.readdirSync(path.join(this.blobsDir, shard));
      } catch {
        continue;
      }
      for (const name of names) {
        try {
          out.set(name, fs.statSync(path.join(this.blobsDir, shard, name)).size);
        } catch {
          // removed meanwhile
        }
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
