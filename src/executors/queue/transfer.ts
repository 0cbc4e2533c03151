// Mode 2 of the Redis executor (docs/distributed.md): files travel through the remote cache
// server, not a shared disk. Both sides use these: the coordinator uploads what a step reads
// as content-addressed blobs and later fetches the outputs; a worker downloads the blobs into
// its own work folder and uploads the outputs as one payload. Every transfer is batchfile's
// remote-cache payload (cache/remote/payload.ts): streamed, each file checked against its
// XXH64 hash, signed when BATCH_REMOTE_CACHE_SIGNING_KEY is set.
import type Crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RemoteCacheClient, RemoteError } from '../../cache/remote/client.js';
import { checkManifest, unsafePath } from '../../cache/remote/manifest.js';
import { readPayload, writePayload, type Manifest } from '../../cache/remote/payload.js';
import type { RemoteSettings } from '../../cache/remote/settings.js';
import type { FileHashes } from '../../store/types.js';

/** node:crypto when first used: the engine chunk holding this file loads on every run, and a
 * no-op never needs it (~3 ms of start-up). */
const crypto = (): typeof Crypto => process.getBuiltinModule('node:crypto');

/** The cache server a coordinator or a worker moves files through. */
export interface Transfer {
  client: RemoteCacheClient;
  signingKey: string | undefined;
}

export function transferOf(s: RemoteSettings): Transfer {
  return { client: new RemoteCacheClient({ url: s.url, team: s.team, timeoutMs: s.timeoutMs, ...(s.token ? { token: s.token } : {}) }), signingKey: s.signingKey };
}

/** A file a step reads, as the job names it: its content hash and permission bits. */
export interface ShippedFile {
  hash: string;
  mode: number;
}

/** The artifact id of a file's content (namespaced apart from step outputs and Turborepo). */
export function blobId(hash: string): string {
  return crypto().createHash('sha256').update(`batchfile-blob/1\0${hash}`).digest('hex').slice(0, 32);
}

/** The artifact id of one attempt's outputs: the job and a nonce of the worker's, so two
 * attempts of one job (a stalled one taken again) never write the same artifact. */
export function outputsId(jobId: string, nonce: string): string {
  return crypto().createHash('sha256').update(`batchfile-transfer/1\0${jobId}\0${nonce}`).digest('hex').slice(0, 32);
}

/** Uploads files by content, once each per process: a HEAD first, a PUT only when the
 * server lacks it. Concurrent requests for one blob share one upload. */
export class BlobUploader {
  private readonly present = new Map<string, Promise<void>>();

  constructor(private readonly t: Transfer) {}

  ensure(root: string, rel: string, hash: string, signal?: AbortSignal): Promise<void> {
    const id = blobId(hash);
    let p = this.present.get(id);
    if (!p) {
      p = this.upload(root, rel, hash, id, signal);
      this.present.set(id, p);
      p.catch(() => this.present.delete(id));
    }
    return p;
  }

  private async upload(root: string, rel: string, hash: string, id: string, signal?: AbortSignal): Promise<void> {
    try {
      if (await this.t.client.head(id, signal)) return;
    } catch (e) {
      throw new Error(`${rel}: ${(e as Error).message}`);
    }
    const st = fs.statSync(path.resolve(root, rel));
    const manifest: Manifest = { format: 'batchfile-remote-cache', version: 1, key: hash, step: '', runId: '', dirs: [], files: [{ path: rel, size: st.size, mode: 0o100000 | (st.mode & 0o777), hash }] };
    try {
      await this.t.client.put(id, writePayload(root, manifest, id, this.t.signingKey), signal ? { signal } : {});
    } catch (e) {
      if (e instanceof RemoteError) throw new Error(`${rel}: ${e.message}`);
      throw new Error(`${rel} changed since the run hashed it (${(e as Error).message})`);
    }
  }
}

/** Downloads a blob to `dest` (through a temp folder beside it, then a rename): the bytes
 * are checked against `hash` before the file appears. Throws naming `rel`. */
export async function downloadBlob(t: Transfer, rel: string, hash: string, dest: string, tmpBase: string, signal?: AbortSignal): Promise<void> {
  const id = blobId(hash);
  const body = await t.client.get(id, signal);
  if (!body) throw new Error(`${rel} (content ${hash}) is not on the cache server ${t.client.displayUrl}`);
  const tmp = fs.mkdtempSync(path.join(tmpBase, 'blob-'));
  try {
    await readPayload(body.chunks, {
      artifactId: id,
      signingKey: t.signingKey,
      tmpDir: tmp,
      check: (m) => {
        const c = checkManifest(m, hash, ['**']);
        if (c.ok && (c.manifest.files.length !== 1 || c.manifest.files[0]!.hash !== hash)) return { ok: false, error: `the blob of ${rel} does not hold content ${hash}` };
        return c;
      },
    });
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(path.join(tmp, '0'), dest);
  } finally {
    body.cancel();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The manifest of a step's outputs as hashed in `root` (sizes and modes as they are now). */
export function outputManifest(root: string, key: string, step: string, runId: string, specs: readonly string[], hashes: FileHashes): Manifest {
  const files = Object.entries(hashes)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([rel, hash]) => {
      const st = fs.statSync(path.resolve(root, rel));
      return { path: rel, size: st.size, mode: 0o100000 | (st.mode & 0o777), hash };
    });
  const dirs = specs.filter((s) => !(s in hashes) && unsafePath(s) === undefined && isDir(path.resolve(root, s)));
  return { format: 'batchfile-remote-cache', version: 1, key, step, runId, dirs, files };
}

export async function uploadOutputs(t: Transfer, root: string, id: string, manifest: Manifest, signal?: AbortSignal): Promise<void> {
  await t.client.put(id, writePayload(root, manifest, id, t.signingKey), signal ? { signal } : {});
}

/** Fetches one attempt's outputs into `tmpDir` (files named by manifest index), checking the
 * manifest against the step's declared outputs and `key`, and every file against its hash. */
export async function fetchOutputs(t: Transfer, id: string, key: string, outputs: readonly string[], tmpDir: string, signal?: AbortSignal): Promise<Manifest> {
  const body = await t.client.get(id, signal);
  if (!body) throw new Error(`the worker's upload of its outputs is not on the cache server ${t.client.displayUrl}`);
  try {
    return await readPayload(body.chunks, { artifactId: id, signingKey: t.signingKey, tmpDir, check: (m) => checkManifest(m, key, outputs) });
  } finally {
    body.cancel();
  }
}

function isDir(abs: string): boolean {
  try {
    return fs.statSync(abs).isDirectory();
  } catch {
    return false;
  }
}
