// A sample of the example pipeline (FLIGHTS_SAMPLE rows) through the Redis executor in file
// mode `cache` (mode 2) with two worker processes in folders of their own (each with its own
// install of the packages the steps import, never the project): every file the run writes
// equals a local `--force` run's, byte for byte. Both kinds run there: `run` steps (worker
// threads) and the Python `command` step.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO, type BatchResult } from '../../rig.js';
import { startCacheServer, stopAllCacheServers, type CacheServer } from '../../cache/remote/servers.js';
import { batchIn, copyExample, outputFiles } from './example-rig.js';
import { RedisServer, startCacheWorker, stopCacheWorker, type CacheWorker } from './redis-rig.js';

const TOKEN = 'example-mode2';
let redis: RedisServer;
let cache: CacheServer;
let base: string;
beforeAll(async () => {
  [redis, cache] = await Promise.all([RedisServer.start(), startCacheServer({ token: TOKEN })]);
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-dist-example-cache-'));
});
afterAll(async () => {
  await redis?.stop();
  await stopAllCacheServers();
  fs.rmSync(base, { recursive: true, force: true });
});

const batch = (dir: string, args: string[]): Promise<BatchResult> => batchIn(dir, args, { BATCH_REMOTE_CACHE_TOKEN: TOKEN });
const files = outputFiles;

it('the example pipeline on a sample: two workers that share no disk write the same bytes as a local --force run', async () => {
  const local = path.join(base, 'local');
  copyExample(local);
  const l = await batch(local, ['--force', '--no-tests', '--no-cache', '--json']);
  expect(l.code, l.stderr).toBe(0);

  // The distributed copy starts from the local one after ingest (which reads all three
  // million rows to sample them): every later step runs on the workers.
  const dist = path.join(base, 'dist');
  execFileSync('cp', ['-a', local, dist]);
  for (const f of fs.readdirSync(path.join(dist, 'build'))) if (f !== 'raw' && f !== 'ingest.json') fs.rmSync(path.join(dist, 'build', f), { recursive: true });
  fs.rmSync(path.join(dist, 'output'), { recursive: true });

  const workers: CacheWorker[] = [];
  try {
    for (let i = 0; i < 2; i++) workers.push(await startCacheWorker(redis, { url: cache.url, team: 'example', token: TOKEN }, 'example-q', { jobs: 1, nodeModules: path.join(REPO, 'node_modules') }));
    const flags = ['--executor', redis.url, '--queue', 'example-q', '--worker-files', 'cache', '--remote-cache', cache.url, '--remote-cache-team', 'example'];
    const d = await batch(dist, [...flags, '--no-tests', '--no-cache', '--json']);
    expect(d.code, d.stderr).toBe(0);
    const summary = JSON.parse(d.stdout) as { steps: { name: string; action: string; worker?: string }[] };
    const ran = summary.steps.filter((s) => s.action === 'ran');
    expect(summary.steps.find((s) => s.name === 'ingest')!.action).toBe('up-to-date');
    expect(ran.map((s) => s.name).sort()).toEqual(summary.steps.map((s) => s.name).filter((n) => n !== 'ingest').sort());
    expect(ran.map((s) => s.name)).toContain('hourly');
    // Both workers took steps, and only they did.
    const used = new Set(ran.map((s) => s.worker!.split(':').pop()));
    expect(used).toEqual(new Set(workers.map((w) => String(w.pid))));
  } finally {
    for (const w of workers) await stopCacheWorker(w);
  }
  const want = files(local);
  const got = files(dist);
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [rel, bytes] of want) expect(got.get(rel)!.equals(bytes), rel).toBe(true);
}, 300_000);
