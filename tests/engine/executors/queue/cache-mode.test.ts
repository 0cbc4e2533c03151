// The Redis executor in file mode `cache` (mode 2): workers that share no disk with the
// coordinator. A real redis-server, the real turborepo-remote-cache server, and `batch worker`
// processes started in folders of their own, never told the project's path; under strace,
// the log of every path they touched must not name the project's folder.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../../rig.js';
import { startCacheServer, stopAllCacheServers, type CacheServer } from '../../cache/remote/servers.js';
import { RedisServer, startCacheWorker, stopCacheWorker, type CacheWorker } from './redis-rig.js';

const TOKEN = 'mode2-token';
const TEAM = 'mode2';

const PIPELINE = {
  'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    seed: { command: './steps/seed.sh build/seed.txt', outputs: ['build/seed.txt'] },
    upper: { run: 'steps/upper.ts', inputs: ['build/seed.txt', 'data/extra.txt'], outputs: ['build/upper.txt'] },
    count: { command: 'wc -l < build/seed.txt > build/count.txt', inputs: ['build/seed.txt'], outputs: ['build/count.txt'] },
    join: { run: 'steps/join.ts', inputs: ['build/upper.txt', 'build/count.txt'], outputs: ['out/final.txt', 'out/parts/'], params: { sep: '--' } },
  },
});
`,
  'steps/seed.sh': '#!/bin/sh\nprintf "alpha\\nbeta\\ngamma\\n" > "$1"\n',
  'steps/lib/shout.ts': `export const shout = (s: string): string => s.toUpperCase() + '!';\n`,
  'steps/upper.ts': `import fs from 'node:fs';
import { defineStep } from 'batchfile';
import { shout } from './lib/shout.js';
export default defineStep((ctx) => {
  const text = ctx.inputs.map((f) => fs.readFileSync(f, 'utf8')).join('');
  fs.writeFileSync(ctx.outputs[0]!, shout(text));
});
`,
  'steps/join.ts': `import fs from 'node:fs';
import path from 'node:path';
export default function (ctx: { root: string; inputs: string[]; outputs: string[]; params: { sep: string } }) {
  fs.mkdirSync(path.join(ctx.root, 'out/parts'), { recursive: true });
  const parts = ctx.inputs.map((f) => fs.readFileSync(f, 'utf8'));
  parts.forEach((p, i) => fs.writeFileSync(path.join(ctx.root, 'out/parts', i + '.txt'), p));
  fs.writeFileSync(ctx.outputs[0]!, parts.join(ctx.params.sep + '\\n'));
}
`,
  'data/extra.txt': 'delta\n',
  'build/.keep': '',
};

let redis: RedisServer;
let cache: CacheServer;
beforeAll(async () => {
  [redis, cache] = await Promise.all([RedisServer.start(), startCacheServer({ token: TOKEN })]);
});
afterAll(async () => {
  await redis?.stop();
  await cache?.kill();
  await stopAllCacheServers();
});

const cacheOf = (): { url: string; team: string; token: string } => ({ url: cache.url, team: TEAM, token: TOKEN });
const coordinatorFlags = (queue: string): string[] => ['--executor', redis.url, '--queue', queue, '--worker-files', 'cache', '--remote-cache', cache.url, '--remote-cache-team', TEAM];
const ENV = { BATCH_REMOTE_CACHE_TOKEN: TOKEN };

function project(files: Record<string, string>): TempProject {
  const p = TempProject.create(files);
  if (files['steps/seed.sh']) fs.chmodSync(p.path('steps/seed.sh'), 0o755);
  return p;
}

/** Every file under `rels` of a project, relative path → bytes. */
function filesOf(root: string, rels: string[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    if (fs.statSync(abs).isDirectory()) for (const d of fs.readdirSync(abs)) walk(path.join(rel, d));
    else out.set(rel, fs.readFileSync(abs));
  };
  for (const r of rels) walk(r);
  return out;
}

describe('the Redis executor, files through the remote cache', () => {
  it('runs command and run steps on a worker that never sees the project, with outputs equal to a local run', async () => {
    const local = project(PIPELINE);
    const dist = project(PIPELINE);
    let w: CacheWorker | undefined;
    try {
      expect((await local.run(['--no-cache'])).status).toBe('PASS');
      w = await startCacheWorker(redis, cacheOf(), 'q-basic', { trace: true });
      const r = await dist.run([...coordinatorFlags('q-basic'), '--no-cache'], { env: ENV });
      expect(r.status, r.stderr).toBe('PASS');
      expect(r.steps.map((s) => s.action)).toEqual(['ran', 'ran', 'ran', 'ran']);
      const want = filesOf(local.dir, ['build', 'out']);
      const got = filesOf(dist.dir, ['build', 'out']);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [rel, bytes] of want) expect(got.get(rel)!.equals(bytes), rel).toBe(true);
      // Every step ran on the worker, whose log came back into the project's log.
      const steps = r.steps as (typeof r.steps[number] & { worker?: string; logFile?: string })[];
      for (const s of steps) expect(s.worker?.split(':').pop(), s.name).toBe(String(w.pid));
      expect(dist.read(steps.find((s) => s.name === 'upper')!.logFile!)).toMatch(/# batch: step upper, attempt 1\/1/);
      // No-op: nothing sent.
      const again = await dist.run(coordinatorFlags('q-basic'), { env: ENV });
      expect(again.steps.every((s) => s.action === 'up-to-date')).toBe(true);
      expect((w.running.output.match(/: start /g) ?? []).length).toBe(4);
      await stopCacheWorker(w);
      // strace saw the worker work in its own folder, and never touch the project's.
      const trace = fs.readFileSync(w.traceFile!, 'utf8');
      expect(trace).toContain(path.join(w.dir, 'work'));
      expect(trace).not.toContain(dist.dir);
      expect(trace).not.toContain(fs.realpathSync(dist.dir));
    } finally {
      if (w) await stopCacheWorker(w);
      if (w?.traceFile) fs.rmSync(w.traceFile, { force: true });
      local.cleanup();
      dist.cleanup();
    }
  }, 120_000);

  it('a step that does not write its declared output fails naming it, and leaves nothing of it in the project', async () => {
    const files = {
      ...PIPELINE,
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    good: { command: 'echo ok > build/good.txt', outputs: ['build/good.txt'] },
    half: { command: 'echo partial > build/a.txt', outputs: ['build/a.txt', 'build/b.txt'] },
  },
});
`,
    };
    const dist = project(files);
    let w: CacheWorker | undefined;
    try {
      w = await startCacheWorker(redis, cacheOf(), 'q-missing');
      const r = await dist.run([...coordinatorFlags('q-missing'), '--no-cache', '--keep-going'], { env: ENV });
      expect(r.code).toBe(1);
      const half = r.steps.find((s) => s.name === 'half')!;
      expect(half.status).toBe('FAIL');
      expect((half as { error?: string }).error).toMatch(/did not write its declared output: build\/b\.txt/);
      expect(dist.exists('build/a.txt')).toBe(false);
      expect(dist.exists('build/b.txt')).toBe(false);
      expect(r.steps.find((s) => s.name === 'good')!.status).toBe('PASS');
      expect(dist.read('build/good.txt')).toBe('ok\n');
    } finally {
      if (w) await stopCacheWorker(w);
      dist.cleanup();
    }
  }, 120_000);

  it('a worker killed mid-step: another takes the job, and the step is recorded once', async () => {
    const files = {
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    slow: { command: 'echo "slow-started $BATCH_WORKER_PID"; sleep 2; echo done > build/slow.txt', outputs: ['build/slow.txt'] },
  },
});
`,
      'build/.keep': '',
    };
    const dist = project(files);
    const stall = { BATCH_QUEUE_LOCK_MS: '1000', BATCH_QUEUE_STALL_MS: '200' };
    const workers: CacheWorker[] = [];
    try {
      workers.push(await startCacheWorker(redis, cacheOf(), 'q-kill', { jobs: 1 }), await startCacheWorker(redis, cacheOf(), 'q-kill', { jobs: 1 }));
      const run = dist.run(coordinatorFlags('q-kill'), { env: { ...ENV, ...stall }, timeoutMs: 90_000 });
      // The first worker to start the step is killed at once.
      const first = await Promise.any(workers.map((w) => w.running.waitFor(/: start slow/, 30_000).then(() => w)));
      process.kill(first.pid, 'SIGKILL');
      const r = await run;
      expect(r.status, r.stderr).toBe('PASS');
      const other = workers.find((w) => w !== first)!;
      expect((r.steps[0] as { worker?: string }).worker?.split(':').pop()).toBe(String(other.pid));
      expect(dist.read('build/slow.txt')).toBe('done\n');
      const hist = await dist.batch(['history', 'slow', '--json']);
      expect((JSON.parse(hist.stdout) as { executions: unknown[] }).executions).toHaveLength(1);
    } finally {
      for (const w of workers) await stopCacheWorker(w);
      dist.cleanup();
    }
  }, 120_000);

  it('a coordinator without a cache server for file mode cache stops before any step, naming what to set', async () => {
    const dist = project(PIPELINE);
    try {
      const r = await dist.batch(['--executor', redis.url, '--queue', 'q-none', '--worker-files', 'cache', '--no-cache']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--worker-files cache.*--remote-cache URL/);
      const bad = await dist.batch(['--executor', redis.url, '--worker-files', 'nfs']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--worker-files: "nfs" is not a file mode/);
    } finally {
      dist.cleanup();
    }
  }, 60_000);
});
