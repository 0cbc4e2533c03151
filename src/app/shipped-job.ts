// A worker's side of file mode `cache` (docs/distributed.md, mode 2): the job names the files
// its step reads by content hash; they are fetched from the cache server into a job folder of
// the worker's own (never the project, whose path the job does not carry), the step runs
// there, and its declared outputs (and its log) are uploaded for the coordinator to place.
import type Crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecOutcome, ExecRequest } from '../executors/types.js';
import { unsafePath } from '../cache/remote/manifest.js';
import { RemoteError } from '../cache/remote/client.js';
import type { ShipList, StepJob, StepJobResult } from '../executors/queue/protocol.js';
import { BlobUploader, downloadBlob, outputManifest, outputsId, uploadOutputs, type Transfer } from '../executors/queue/transfer.js';
import { hashFileSync } from '../fingerprint/hash.js';
import { StatCache } from '../fingerprint/stat-cache.js';
import { currentOutputs } from '../plan/plan-step.js';
import { ENGINE_ENTRY } from '../util/engine.js';

/** node:crypto when first used: the engine chunk holding this file loads on every run, and a
 * no-op never needs it (~3 ms of start-up). */
const crypto = (): typeof Crypto => process.getBuiltinModule('node:crypto');

/** Downloads at once per job. */
const FETCHES_AT_ONCE = 8;

/** A worker's means for `cache`-mode jobs: the cache server, its work folder, and the blobs
 * it already fetched (kept for the life of the process, so a module or an input that many
 * steps read is downloaded once). */
export class ShippedWork {
  private readonly uploader: BlobUploader;
  private readonly blobs = new Map<string, Promise<string>>();
  readonly blobDir: string;
  readonly tmpDir: string;

  constructor(
    readonly transfer: Transfer,
    readonly workdir: string,
  ) {
    this.uploader = new BlobUploader(transfer);
    // Per process: two workers may share a work folder.
    this.blobDir = path.join(workdir, `blobs-${process.pid}`);
    this.tmpDir = path.join(workdir, `tmp-${process.pid}`);
    fs.mkdirSync(this.blobDir, { recursive: true });
    fs.mkdirSync(this.tmpDir, { recursive: true });
  }

  /** The blob's local copy (read-only), fetched once. */
  private blob(rel: string, hash: string, signal: AbortSignal): Promise<string> {
    let p = this.blobs.get(hash);
    if (!p) {
      const dest = path.join(this.blobDir, hash);
      p = downloadBlob(this.transfer, rel, hash, dest, this.tmpDir, signal).then(() => (fs.chmodSync(dest, 0o444), dest));
      this.blobs.set(hash, p);
      p.catch(() => this.blobs.delete(hash));
    }
    return p;
  }

  /** Puts every file the job names into `dir`, each with its permission bits. */
  async materialise(ship: ShipList, dir: string, signal: AbortSignal): Promise<void> {
    const entries = Object.entries(ship.files);
    for (const rel of [...entries.map(([r]) => r), ...ship.dirs]) {
      const bad = unsafePath(rel);
      if (bad) throw new Error(`the job names ${bad}`);
    }
    for (const d of ship.dirs) fs.mkdirSync(path.join(dir, d), { recursive: true });
    let next = 0;
    const one = async (): Promise<void> => {
      while (next < entries.length) {
        const [rel, f] = entries[next++]!;
        const src = await this.blob(rel, f.hash, signal);
        const dest = path.join(dir, rel);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.copyFileSync(src, dest);
        fs.chmodSync(dest, f.mode & 0o777);
      }
    };
    await Promise.all(Array.from({ length: Math.min(FETCHES_AT_ONCE, entries.length) }, one));
  }

  uploadBlob(root: string, rel: string, signal?: AbortSignal): Promise<string> {
    const hash = hashFileSync(path.join(root, rel));
    return this.uploader.ensure(root, rel, hash, signal).then(() => hash);
  }

  close(): void {
    fs.rmSync(this.blobDir, { recursive: true, force: true });
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

/** The request to run a `cache`-mode job in `dir`, its paths made absolute there. */
function requestIn(job: StepJob, dir: string, logFile: string): Omit<ExecRequest, 'signal' | 'runEnv'> {
  return {
    step: job.step,
    runId: job.runId,
    root: dir,
    inputs: job.inputs.map((r) => path.join(dir, r)),
    outputs: job.outputs.map((r) => path.join(dir, r)),
    logFile,
    ...(job.env && Object.keys(job.env).length > 0 ? { env: job.env } : {}),
    ...(job.compiled ? { compiled: path.join(dir, job.compiled) } : {}),
    ...(job.command ? { command: job.command } : {}),
    ...(job.logHeader ? { logHeader: job.logHeader } : {}),
  };
}

/** A compiled module imports `batchfile` by the coordinator's path to its engine: this
 * worker's own engine takes its place. */
function pointAtOwnEngine(file: string, theirs: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const out = text.split(JSON.stringify(theirs)).join(JSON.stringify(ENGINE_ENTRY));
  if (out !== text) fs.writeFileSync(file, out);
}

export type Execute = (req: Omit<ExecRequest, 'signal' | 'runEnv'>) => Promise<ExecOutcome>;

/** Runs one `cache`-mode job: fetch, run, check and upload the outputs. What the result says
 * beyond the executor's outcome: the outputs' artifact and hashes, the log's hash. */
export async function runShippedJob(job: StepJob, work: ShippedWork, jobId: string, signal: AbortSignal, execute: Execute): Promise<{ out: ExecOutcome; extra: Pick<StepJobResult, 'outputs' | 'log'> }> {
  const ship = job.ship;
  const name = job.step.name;
  if (!ship) return { out: { ok: false, error: 'a job of file mode "cache" without its file list' }, extra: {} };
  const url = work.transfer.client.displayUrl;
  const dir = fs.mkdtempSync(path.join(work.workdir, 'job-'));
  const extra: Pick<StepJobResult, 'outputs' | 'log'> = {};
  try {
    try {
      await work.materialise(ship, dir, signal);
      if (job.compiled) pointAtOwnEngine(path.join(dir, job.compiled), ship.engineEntry);
    } catch (e) {
      return { out: { ok: false, error: `step "${name}": could not fetch its files from the cache server ${url}: ${(e as Error).message}` }, extra };
    }
    const logRel = path.join('.batch-log', path.basename(job.logFile));
    fs.mkdirSync(path.join(dir, '.batch-log'));
    let out = await execute(requestIn(job, dir, path.join(dir, logRel)));
    if (out.ok && !signal.aborted) {
      const outs = currentOutputs({ root: dir, stats: new StatCache(dir, undefined) }, job.step);
      if (outs.missing.length > 0) {
        out = { ...out, ok: false, error: `the step finished but did not write its declared output${outs.missing.length > 1 ? 's' : ''}: ${outs.missing.join(', ')}` };
      } else {
        const id = outputsId(jobId, crypto().randomUUID());
        try {
          await uploadOutputs(work.transfer, dir, id, outputManifest(dir, ship.key, name, job.runId, job.step.outputs, outs.hashes), signal);
          extra.outputs = { id, files: outs.hashes };
        } catch (e) {
          const why = e instanceof RemoteError ? e.message : `${(e as Error).message}`;
          out = { ...out, ok: false, error: `step "${name}": could not upload its outputs to the cache server ${url}: ${why}` };
        }
      }
    }
    if (fs.existsSync(path.join(dir, logRel))) {
      // A log that cannot be uploaded costs the log, not the step.
      extra.log = await work.uploadBlob(dir, logRel, signal).catch(() => undefined);
      if (extra.log === undefined) delete extra.log;
    }
    return { out, extra };
  } finally {
    if (process.env.BATCH_KEEP_WORKDIR !== '1') fs.rmSync(dir, { recursive: true, force: true });
  }
}
