/** batchfile's remote-cache payload (format 1): the bytes stored under one artifact id.
 *
 *     offset  size  what
 *     0       4     magic "BFRC"
 *     4       1     format version (1)
 *     5       1     flags: bit 0 = signed
 *     6       2     zero
 *     8       4     manifest length M (unsigned, big-endian)
 *     12      M     manifest: UTF-8 JSON (see Manifest)
 *     12+M    …     each file's bytes, in the manifest's order, exactly `size` bytes each
 *     end-32  32    HMAC-SHA256 (signing.ts) over everything before it; zeros when unsigned
 *
 * The manifest comes first so that every path and mode is checked before a byte is written;
 * the signature comes last so that writer and reader both stream (a 250 MiB output is never
 * held in memory). Documented for users in docs/remote-cache.md. */
import fs from 'node:fs';
import path from 'node:path';
import type xxhash from 'xxhash-wasm';
import { SIGNATURE_BYTES, sameSignature, signer, type Signer } from './signing.js';
import { importEsm } from '../../util/import-esm.js';

export const MAGIC = 'BFRC';
export const FORMAT_VERSION = 1;
const HEADER_BYTES = 12;
/** A manifest bigger than this is garbage, not a step's outputs (about 200,000 files). */
export const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

export interface ManifestFile {
  /** Project-relative POSIX path, under one of the step's declared outputs. */
  path: string;
  size: number;
  /** st_mode: file type bits (always a regular file) and permission bits. */
  mode: number;
  /** XXH64 of the content (16 hex digits), batchfile's content hash. */
  hash: string;
}

export interface Manifest {
  format: 'batchfile-remote-cache';
  version: 1;
  /** The step's fingerprint (the cache key) the outputs belong to. */
  key: string;
  step: string;
  /** The run that produced the outputs (on whichever machine). */
  runId: string;
  /** Declared output folders to create even when empty. */
  dirs: string[];
  files: ManifestFile[];
}

let hasher: Promise<Awaited<ReturnType<typeof xxhash>>> | undefined;
/** xxhash-wasm's streaming XXH64: each instance keeps its own state, so hashing across awaits
 * (a download, an upload) never mixes with the engine's synchronous hasher. */
// Imported on first use: this file is in the chunk every run loads, and only a remote cache's
// upload or download hashes with it (~3 ms of every start otherwise).
const xxh = (): Promise<Awaited<ReturnType<typeof xxhash>>> => (hasher ??= importEsm<typeof import('xxhash-wasm')>('xxhash-wasm').then((m) => m.default()));
const hex64 = (n: bigint): string => n.toString(16).padStart(16, '0');

/** The payload's bytes for files under `root`, streamed. Each file is hashed as it is read;
 * one that no longer matches the manifest (rewritten after the step finished) throws, which
 * aborts the upload before the server has a whole body. */
export async function* writePayload(root: string, manifest: Manifest, artifactId: string, signingKey: string | undefined): AsyncGenerator<Uint8Array> {
  const x = await xxh();
  const sig: Signer | undefined = signingKey ? signer(signingKey, artifactId) : undefined;
  const json = Buffer.from(JSON.stringify(manifest), 'utf8');
  const head = Buffer.alloc(HEADER_BYTES);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt8(FORMAT_VERSION, 4);
  head.writeUInt8(sig ? 1 : 0, 5);
  head.writeUInt32BE(json.byteLength, 8);
  for (const c of [head, json]) {
    sig?.update(c);
    yield c;
  }
  for (const f of manifest.files) {
    const h = x.create64();
    let sent = 0;
    const fd = fs.openSync(path.resolve(root, f.path), 'r');
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(f.size - sent, 1)));
        const n = fs.readSync(fd, buf, 0, buf.byteLength, null);
        if (n === 0) break;
        if (sent + n > f.size) throw new Error(`${f.path} grew after the step finished`);
        const c = buf.subarray(0, n);
        h.update(c);
        sig?.update(c);
        sent += n;
        yield c;
      }
    } finally {
      fs.closeSync(fd);
    }
    if (sent !== f.size || hex64(h.digest()) !== f.hash) throw new Error(`${f.path} changed after the step finished`);
  }
  yield sig ? sig.digest() : Buffer.alloc(SIGNATURE_BYTES);
}

/** Reads exact byte counts from a stream of chunks. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  private async more(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.byteLength === 0 ? Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength) : Buffer.concat([this.buf, r.value]);
    return true;
  }

  async read(n: number): Promise<Buffer> {
    while (this.buf.byteLength < n) if (!(await this.more())) throw new PayloadError('truncated');
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Hands the next `n` bytes to `sink` piece by piece, without gathering them. */
  async pipe(n: number, sink: (c: Buffer) => void): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buf.byteLength === 0 && !(await this.more())) throw new PayloadError('truncated');
      const c = this.buf.subarray(0, Math.min(left, this.buf.byteLength));
      this.buf = this.buf.subarray(c.byteLength);
      left -= c.byteLength;
      sink(c);
    }
  }

  async atEnd(): Promise<boolean> {
    return this.buf.byteLength === 0 && !(await this.more());
  }
}

/** A payload that is not what it claims (truncated, garbage, tampered, unsafe). */
export class PayloadError extends Error {
  override name = 'PayloadError';
}

export interface ReadOptions {
  artifactId: string;
  /** When set, only a payload signed with this key is accepted. */
  signingKey: string | undefined;
  /** Checks the manifest before any file is written; returns why it is refused. */
  check: (m: unknown) => { ok: true; manifest: Manifest } | { ok: false; error: string };
  /** Empty folder that receives the files, named by their index in the manifest (never by
   * their paths: nothing is written by a name the payload chose). */
  tmpDir: string;
}

/** Reads a payload into `tmpDir`, checking the header, the manifest (`check`), each file's
 * size and hash, and the signature; throws PayloadError for anything wrong. On success
 * `tmpDir/<i>` holds manifest.files[i]. */
export async function readPayload(chunks: AsyncIterable<Uint8Array>, opts: ReadOptions): Promise<Manifest> {
  const x = await xxh();
  const r = new ByteReader(chunks[Symbol.asyncIterator]());
  const head = await r.read(HEADER_BYTES);
  if (head.toString('latin1', 0, 4) !== MAGIC) throw new PayloadError('not a batchfile payload (bad magic)');
  if (head.readUInt8(4) !== FORMAT_VERSION) throw new PayloadError(`payload format ${head.readUInt8(4)} is not supported`);
  const signed = (head.readUInt8(5) & 1) === 1;
  if (opts.signingKey && !signed) throw new PayloadError('entry is not signed (BATCH_REMOTE_CACHE_SIGNING_KEY is set)');
  const sig = opts.signingKey ? signer(opts.signingKey, opts.artifactId) : undefined;
  sig?.update(head);
  const mlen = head.readUInt32BE(8);
  if (mlen > MAX_MANIFEST_BYTES) throw new PayloadError(`manifest of ${mlen} bytes is too large`);
  const mbytes = await r.read(mlen);
  sig?.update(mbytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(mbytes.toString('utf8'));
  } catch {
    throw new PayloadError('manifest is not JSON');
  }
  const checked = opts.check(parsed);
  if (!checked.ok) throw new PayloadError(checked.error);
  const manifest = checked.manifest;
  for (const [i, f] of manifest.files.entries()) {
    const h = x.create64();
    // 'wx': the folder is new and empty; never follow or reuse anything already there.
    const fd = fs.openSync(path.join(opts.tmpDir, String(i)), 'wx', 0o600);
    try {
      await r.pipe(f.size, (c) => {
        h.update(c);
        sig?.update(c);
        let off = 0;
        while (off < c.byteLength) off += fs.writeSync(fd, c, off);
      });
    } finally {
      fs.closeSync(fd);
    }
    if (hex64(h.digest()) !== f.hash) throw new PayloadError(`${f.path} does not match its hash in the manifest`);
  }
  const trailer = await r.read(SIGNATURE_BYTES);
  if (!(await r.atEnd())) throw new PayloadError('unexpected bytes after the signature');
  if (sig && !sameSignature(trailer, sig.digest())) throw new PayloadError('bad signature (wrong BATCH_REMOTE_CACHE_SIGNING_KEY, or the entry was altered)');
  return manifest;
}
