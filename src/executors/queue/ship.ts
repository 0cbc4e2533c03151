// The coordinator's side of file mode `cache` (docs/distributed.md, mode 2): before a job is
// sent, what its step reads is uploaded by content hash and the job names it by path → hash
// (never the project's folder); after the worker answers, its log and outputs are fetched,
// checked and placed in the project all or nothing, through the remote cache's own restore
// code (cache/remote/place.ts), before the step runner verifies and records them.
import fs from 'node:fs';
import path from 'node:path';
import { newTmpDir, placeOutputs } from '../../cache/remote/place.js';
import { isGlob } from '../../fingerprint/files.js';
import { hashFileSync } from '../../fingerprint/hash.js';
import { ENGINE_ENTRY } from '../../util/engine.js';
import { isInside, toRel } from '../../util/paths.js';
import type { ExecRequest } from '../types.js';
import type { StepJob, StepJobResult } from './protocol.js';
import { BlobUploader, downloadBlob, fetchOutputs, type Transfer } from './transfer.js';

/** The job's fields that differ in file mode `cache`. */
export type ShippedFields = Pick<StepJob, 'root' | 'inputs' | 'outputs' | 'logFile' | 'ship'> & { compiled?: string };

/** Code files under node_modules are packages: a worker imports its own install of them. */
const isPackageFile = (rel: string): boolean => rel === 'node_modules' || rel.startsWith('node_modules/') || rel.includes('/node_modules/');

export class Shipper {
  private readonly uploader: BlobUploader;

  constructor(
    private readonly t: Transfer,
    /** The project's cache folder: downloads wait in `remote/tmp/` there, on the project's disk. */
    private readonly cacheDir: string,
  ) {
    this.uploader = new BlobUploader(t);
  }

  get displayUrl(): string {
    return this.t.client.displayUrl;
  }

  /** Uploads the step's inputs, code and compiled module (those the server lacks), and
   * returns the job's paths, all relative to the project. Throws naming the file. */
  async send(req: ExecRequest, jobId: string): Promise<ShippedFields> {
    const { root, ship } = req;
    if (!ship) throw new Error('the step runner gave no file list (ExecRequest.ship)');
    const files: Record<string, { hash: string; mode: number }> = {};
    const add = (rel: string, hash: string): void => {
      const st = ship.stats.peekStat(rel) ?? fs.statSync(path.resolve(root, rel));
      files[rel] = { hash, mode: st.mode & 0o777 };
    };
    for (const [rel, hash] of Object.entries(ship.inputs)) add(rel, hash);
    for (const [rel, hash] of Object.entries(ship.code)) if (!isPackageFile(rel)) add(rel, hash);
    let compiled: string | undefined;
    if (req.compiled) {
      compiled = toRel(root, req.compiled);
      if (!isInside(compiled)) throw new Error(`the compiled module ${req.compiled} is outside the project`);
      files[compiled] = { hash: hashFileSync(req.compiled), mode: 0o644 };
    }
    await Promise.all(Object.entries(files).map(([rel, f]) => this.uploader.ensure(root, rel, f.hash, req.signal)));
    return {
      root: '.',
      inputs: req.inputs.map((a) => toRel(root, a)),
      outputs: [...req.step.outputs],
      logFile: path.basename(req.logFile),
      ...(compiled ? { compiled } : {}),
      ship: { files, dirs: outputFolders(root, req.step.outputs), engineEntry: ENGINE_ENTRY, key: jobId },
    };
  }

  /** Brings back what the worker uploaded: its log (appended to the step's log), and when the
   * step passed, its outputs, placed in the project. Returns why the step must fail, or
   * undefined. */
  async receive(req: ExecRequest, key: string, r: StepJobResult): Promise<string | undefined> {
    if (r.log) await this.appendLog(req, r.log);
    if (!r.ok) return undefined;
    const step = req.step.name;
    if (!r.outputs) return `step "${step}": the worker reported no outputs`;
    const stats = req.ship!.stats;
    const tmp = newTmpDir(this.cacheDir);
    try {
      const manifest = await fetchOutputs(this.t, r.outputs.id, key, req.step.outputs, tmp, req.signal);
      const told = r.outputs.files;
      for (const f of manifest.files) {
        if (told[f.path] !== f.hash) return `step "${step}": output ${f.path}: the uploaded file's hash ${f.hash} is not the ${told[f.path] ?? '(none)'} its worker reported; nothing placed`;
      }
      const missing = Object.keys(told).filter((p) => !manifest.files.some((f) => f.path === p));
      if (missing.length > 0) return `step "${step}": output ${missing.join(', ')} is missing from the worker's upload; nothing placed`;
      placeOutputs(req.root, req.step, tmp, manifest, stats);
      return undefined;
    } catch (e) {
      return `step "${step}": could not bring its outputs back from the cache server ${this.displayUrl}: ${(e as Error).message}; nothing placed`;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  private async appendLog(req: ExecRequest, hash: string): Promise<void> {
    const tmp = newTmpDir(this.cacheDir);
    try {
      const file = path.join(tmp, 'log');
      await downloadBlob(this.t, 'the step log', hash, file, tmp, req.signal);
      fs.mkdirSync(path.dirname(req.logFile), { recursive: true });
      fs.appendFileSync(req.logFile, fs.readFileSync(file));
    } catch (e) {
      fs.mkdirSync(path.dirname(req.logFile), { recursive: true });
      fs.appendFileSync(req.logFile, `# batch: the worker's log could not be fetched: ${(e as Error).message}\n`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/** The folders above each literal output that exist in the project now (the outputs were
 * removed before the attempt, so an output folder itself is not among them). */
function outputFolders(root: string, outputs: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const spec of outputs) {
    if (isGlob(spec)) continue;
    for (let d = path.posix.dirname(spec); d !== '.' && d !== '/' && !dirs.has(d); d = path.posix.dirname(d)) {
      if (isDir(path.resolve(root, d))) dirs.add(d);
    }
  }
  return [...dirs].sort();
}

function isDir(abs: string): boolean {
  try {
    return fs.statSync(abs).isDirectory();
  } catch {
    return false;
  }
}
