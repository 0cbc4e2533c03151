// What the two example-pipeline tests of the Redis executor share (mode 1, example.test.ts;
// mode 2, example-cache.test.ts): a sample of the example's rows, a `batch` process in a
// folder, a local copy of the example and the bytes it writes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, REPO, type BatchResult } from '../../rig.js';

export const SAMPLE = { FLIGHTS_SAMPLE: '20000' };

/** `batch -C dir ...args`, CI mode, the sample, plus `env`. */
export function batchIn(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<BatchResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '-C', dir, ...args], { env: { ...process.env, NO_COLOR: '1', CI: '1', ...SAMPLE, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Every file under `dir`'s build/ and output/, relative path → bytes. */
export function outputFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, d.name);
      if (d.isDirectory()) walk(r);
      else out.set(r, fs.readFileSync(path.join(dir, r)));
    }
  };
  for (const top of ['build', 'output']) if (fs.existsSync(path.join(dir, top))) walk(top);
  return out;
}

/** The example pipeline (Batchfile and steps; the repository's packages linked) in `dir`. */
export function copyExample(dir: string): void {
  fs.mkdirSync(dir);
  fs.cpSync(path.join(REPO, 'Batchfile.ts'), path.join(dir, 'Batchfile.ts'));
  fs.cpSync(path.join(REPO, 'steps'), path.join(dir, 'steps'), { recursive: true });
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
}
