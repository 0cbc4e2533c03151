// A sample of the example pipeline (FLIGHTS_SAMPLE rows) through the Redis executor with two
// worker processes (mode 1, shared files): every file it writes equals a local run's, byte
// for byte.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BIN, Running, type BatchResult } from '../../rig.js';
import { batchIn, copyExample, outputFiles } from './example-rig.js';
import { RedisServer, stopAll } from './redis-rig.js';

let redis: RedisServer;
let base: string;
beforeAll(async () => {
  redis = await RedisServer.start();
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-dist-example-'));
});
afterAll(async () => {
  await redis?.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

const batch = (dir: string, args: string[]): Promise<BatchResult> => batchIn(dir, args);
const files = outputFiles;

it('the example pipeline on a sample: one coordinator and two workers write the same bytes as a local run', async () => {
  const local = path.join(base, 'local');
  copyExample(local);
  const l = await batch(local, ['--no-tests', '--no-cache', '--json']);
  expect(l.code, l.stderr).toBe(0);

  // The distributed copy starts from the local one after ingest (which reads all three
  // million rows to sample them): every later step runs on the workers.
  const dist = path.join(base, 'dist');
  execFileSync('cp', ['-a', local, dist]);
  for (const f of fs.readdirSync(path.join(dist, 'build'))) if (f !== 'raw' && f !== 'ingest.json') fs.rmSync(path.join(dist, 'build', f), { recursive: true });
  fs.rmSync(path.join(dist, 'output'), { recursive: true });

  const workers: Running[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const w = new Running(spawn(process.execPath, [BIN, '-C', dist, 'worker', '--redis', redis.url, '-j', '1'], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }));
      await w.waitFor(/serving queue|waiting for a coordinator/, 20_000);
      workers.push(w);
    }
    const d = await batch(dist, ['--executor', redis.url, '--no-tests', '--no-cache', '--json']);
    expect(d.code, d.stderr).toBe(0);
    const summary = JSON.parse(d.stdout) as { steps: { name: string; action: string; worker?: string }[] };
    const ran = summary.steps.filter((s) => s.action === 'ran');
    expect(summary.steps.find((s) => s.name === 'ingest')!.action).toBe('up-to-date');
    expect(ran.map((s) => s.name).sort()).toEqual(summary.steps.map((s) => s.name).filter((n) => n !== 'ingest').sort());
    expect(ran.every((s) => s.worker !== undefined)).toBe(true);
    // Both workers took steps.
    const used = new Set(ran.map((s) => s.worker!.split(':').pop()));
    expect(used).toEqual(new Set(workers.map((w) => String(w.child.pid))));
  } finally {
    await stopAll(workers);
  }
  const want = files(local);
  const got = files(dist);
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [rel, bytes] of want) expect(got.get(rel)!.equals(bytes), rel).toBe(true);
}, 240_000);
