// Done-when of issue 17: two checkouts of the repository's example pipeline, in folders with
// different absolute paths, share results through a real turborepo-remote-cache server: the
// second checkout's first run restores every step from the remote, and its outputs equal the
// first's byte for byte. A sample of the flights keeps it to seconds per run.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO } from '../../rig.js';
import { startCacheServer, stopAllCacheServers, type CacheServer } from './servers.js';

const TOKEN = 'tok-example-SECRET-0c9d2b';
let server: CacheServer;
const dirs: string[] = [];
beforeAll(async () => {
  server = await startCacheServer({ token: TOKEN });
});
afterAll(async () => {
  await stopAllCacheServers();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of the example project (sources copied, node_modules linked: its data file is 60 MB). */
function checkout(parent: string): string {
  const dir = path.join(parent, 'example');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['Batchfile.ts', 'package.json', 'tsconfig.json']) fs.copyFileSync(path.join(REPO, f), path.join(dir, f));
  fs.cpSync(path.join(REPO, 'steps'), path.join(dir, 'steps'), { recursive: true });
  fs.cpSync(path.join(REPO, 'tests/integrity'), path.join(dir, 'tests/integrity'), { recursive: true });
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

interface Doc {
  status: string;
  steps: { name: string; action: string; source?: string }[];
  remoteCache?: { hits: number; uploads: unknown[] };
}

function batch(dir: string): Doc {
  const env = { ...process.env, CI: '1', NO_COLOR: '1', FLIGHTS_SAMPLE: '3000', BATCH_REMOTE_CACHE_TOKEN: TOKEN };
  const out = execFileSync(process.execPath, [BIN, '-C', dir, '--no-tests', '--json', '--remote-cache', server.url, '--remote-cache-team', 'example'], { env, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out) as Doc;
}

/** path → sha256 of every file under the pipeline's output folders. */
function outputs(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (rel: string): void => {
    const abs = path.join(dir, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else m.set(r, crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, r))).digest('hex'));
    }
  };
  walk('build');
  walk('output');
  return m;
}

describe('remote cache: the example pipeline in two checkouts', () => {
  it('the second checkout restores every step from the remote, byte-equal to the first', { timeout: 600_000 }, () => {
    const pa = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-rc-ex-a-'));
    const pb = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-rc-ex-b-'));
    dirs.push(pa, pb);
    // Different depths too: nothing of the absolute path may reach a key.
    const a = checkout(pa);
    const b = checkout(path.join(pb, 'deeper', 'still'));
    const first = batch(a);
    expect(first.status).toBe('PASS');
    expect(first.steps.every((s) => s.action === 'ran')).toBe(true);
    expect(first.remoteCache?.uploads).toHaveLength(first.steps.length);
    const second = batch(b);
    expect(second.status).toBe('PASS');
    expect(second.steps.map((s) => `${s.name}:${s.action}:${s.source}`)).toEqual(first.steps.map((s) => `${s.name}:restored:remote`));
    const oa = outputs(a);
    expect(oa.size).toBeGreaterThan(10);
    expect(outputs(b)).toEqual(oa);
  });
});
