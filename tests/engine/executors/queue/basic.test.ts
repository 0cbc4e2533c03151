// The Redis executor with a shared project folder (mode 1): one coordinator, two `batch
// worker` processes, a real redis-server. Outputs equal a local run's; records say where.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TempProject, type Running } from '../../rig.js';
import { RedisServer, startWorker, stopAll } from './redis-rig.js';

const PIPELINE = {
  'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    seed: { command: 'printf "alpha\\\\nbeta\\\\ngamma\\\\n" > build/seed.txt', outputs: ['build/seed.txt'] },
    upper: { run: 'steps/upper.ts', inputs: ['build/seed.txt'], outputs: ['build/upper.txt'] },
    count: { command: 'wc -l < build/seed.txt > build/count.txt', inputs: ['build/seed.txt'], outputs: ['build/count.txt'] },
    join: { run: 'steps/join.ts', inputs: ['build/upper.txt', 'build/count.txt'], outputs: ['out/final.txt'] },
  },
});
`,
  'steps/upper.ts': `import fs from 'node:fs';
export default function (ctx: { inputs: string[]; outputs: string[] }) {
  fs.writeFileSync(ctx.outputs[0]!, fs.readFileSync(ctx.inputs[0]!, 'utf8').toUpperCase());
}
`,
  'steps/join.ts': `import fs from 'node:fs';
export default function (ctx: { inputs: string[]; outputs: string[] }) {
  fs.mkdirSync('out', { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, ctx.inputs.map((f) => fs.readFileSync(f, 'utf8')).join('--\\n'));
}
`,
  'build/.keep': '',
};

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});

describe('the Redis executor, shared files', () => {
  it('runs a pipeline on two worker processes with outputs equal to a local run, records the worker and queue wait, and a no-op sends nothing', async () => {
    const local = TempProject.create(PIPELINE);
    const dist = TempProject.create(PIPELINE);
    const workers: Running[] = [];
    try {
      expect((await local.run(['--no-cache'])).status).toBe('PASS');
      workers.push(await startWorker(dist, redis, ['-j', '2']), await startWorker(dist, redis, ['-j', '2']));
      const r = await dist.run(['--executor', redis.url, '--no-cache']);
      expect(r.status, r.stderr).toBe('PASS');
      expect(r.steps.every((s) => s.action === 'ran')).toBe(true);
      for (const f of ['build/seed.txt', 'build/upper.txt', 'build/count.txt', 'out/final.txt']) {
        expect(fs.readFileSync(dist.path(f)), f).toEqual(fs.readFileSync(local.path(f)));
      }
      // Each step ran on one of the two workers, and says which.
      const pids = workers.map((w) => String(w.child.pid));
      const steps = r.steps as (typeof r.steps[number] & { worker?: string; queueWaitMs?: number; logFile?: string })[];
      for (const s of steps) {
        expect(s.worker, s.name).toMatch(/^.+:\d+$/);
        expect(pids).toContain(s.worker!.split(':').pop());
        expect(s.queueWaitMs).toBeGreaterThanOrEqual(0);
        expect(s.queueWaitMs).toBeLessThanOrEqual(s.durationMs);
      }
      const ranOn = (w: Running): number => (w.output.match(/: start /g) ?? []).length;
      expect(ranOn(workers[0]!) + ranOn(workers[1]!)).toBe(4);
      // The worker process wrote the step's log, header first.
      expect(dist.read(steps.find((s) => s.name === 'upper')!.logFile!)).toMatch(/# batch: step upper, attempt 1\/1/);

      const hist = await dist.batch(['history', 'upper', '--json']);
      const execs = (JSON.parse(hist.stdout) as { executions: { worker?: string; queueWaitMs?: number }[] }).executions;
      expect(execs).toHaveLength(1);
      expect(execs[0]!.worker).toBe(steps.find((s) => s.name === 'upper')!.worker);
      expect(typeof execs[0]!.queueWaitMs).toBe('number');
      const text = await dist.batch(['history', 'upper']);
      expect(text.stdout).toMatch(/WORKER/);
      expect(text.stdout).toContain(execs[0]!.worker!);

      const noop = await dist.run(['--executor', redis.url]);
      expect(noop.status).toBe('PASS');
      expect(noop.steps.every((s) => s.action === 'up-to-date')).toBe(true);
      expect(ranOn(workers[0]!) + ranOn(workers[1]!)).toBe(4);
    } finally {
      await stopAll(workers);
      local.cleanup();
      dist.cleanup();
    }
  }, 120_000);

  it('keeps scheduling as a local run: timeouts stop the step on its worker, retries, FAIL and BLOCKED downstream with --keep-going', async () => {
    const p = TempProject.create({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    slow: { command: 'echo started > slow.started; sleep 30; echo done > slow.txt', outputs: ['slow.txt'], timeout: '1500ms' },
    flaky: { command: 'if [ -f flaky.once ]; then echo ok > flaky.txt; else touch flaky.once; exit 3; fi', outputs: ['flaky.txt'], retries: 1 },
    after: { command: 'cp slow.txt after.txt', inputs: ['slow.txt'], outputs: ['after.txt'] },
  },
});
`,
    });
    const workers: Running[] = [];
    try {
      workers.push(await startWorker(p, redis, ['-j', '2', '--queue', 'sched'], {}));
      const r = await p.run(['--executor', redis.url, '--queue', 'sched', '--keep-going']);
      expect(r.code).toBe(1);
      const by = new Map(r.steps.map((s) => [s.name, s]));
      expect(by.get('slow')!.status).toBe('FAIL');
      expect(by.get('slow')!.reason).toMatch(/timed out after 1500 ms/);
      expect(p.exists('slow.started')).toBe(true);
      expect(p.exists('slow.txt')).toBe(false);
      expect(by.get('flaky')!.status).toBe('PASS');
      expect(by.get('flaky')!.attempts).toBe(2);
      expect(by.get('after')!.status).toBe('BLOCKED');
      // The worker stopped the timed-out step's process (its group was killed).
      await workers[0]!.waitFor(/end slow: failed/, 10_000);
    } finally {
      await stopAll(workers);
      p.cleanup();
    }
  }, 120_000);

  it("gives each step the coordinator's values of its declared env variables, not the worker's", async () => {
    const p = TempProject.create({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    shell: { command: 'printf "%s|%s" "$GREETING" "\${NOT_SET_HERE-unset}" > shell.txt', env: ['GREETING', 'NOT_SET_HERE'], outputs: ['shell.txt'] },
    module: { run: 'greet.ts', env: ['GREETING', 'NOT_SET_HERE'], outputs: ['module.txt'] },
  },
});
`,
      'greet.ts': `import fs from 'node:fs';
export default function () { fs.writeFileSync('module.txt', \`\${process.env.GREETING}|\${process.env.NOT_SET_HERE ?? 'unset'}\`); }
`,
    });
    const workers: Running[] = [];
    try {
      workers.push(await startWorker(p, redis, ['-j', '2', '--queue', 'envs'], { GREETING: 'from-worker', NOT_SET_HERE: 'from-worker' }));
      const r = await p.run(['--executor', redis.url, '--queue', 'envs'], { env: { GREETING: 'from-coordinator' } });
      expect(r.status, r.stderr).toBe('PASS');
      expect(p.read('shell.txt')).toBe('from-coordinator|unset');
      expect(p.read('module.txt')).toBe('from-coordinator|unset');
    } finally {
      await stopAll(workers);
      p.cleanup();
    }
  }, 60_000);

  it("a second coordinator with its own queue never sees the first one's jobs", async () => {
    const a = TempProject.create(PIPELINE);
    const b = TempProject.create(PIPELINE);
    const workers: Running[] = [];
    try {
      // Default queue names come from each project's folder: they differ.
      const wa = await startWorker(a, redis, ['-j', '2']);
      const wb = await startWorker(b, redis, ['-j', '2']);
      workers.push(wa, wb);
      const qa = /serving queue "([^"]+)"|settings of queue "([^"]+)"/.exec(wa.output)!;
      const qb = /serving queue "([^"]+)"|settings of queue "([^"]+)"/.exec(wb.output)!;
      expect(qa[1] ?? qa[2]).not.toBe(qb[1] ?? qb[2]);
      const [ra, rb] = await Promise.all([a.run(['--executor', redis.url, '--no-cache']), b.run(['--executor', redis.url, '--no-cache'])]);
      expect(ra.status).toBe('PASS');
      expect(rb.status).toBe('PASS');
      expect(wa.output).toContain(`run ${ra.runId}`);
      expect(wa.output).not.toContain(`run ${rb.runId}`);
      expect(wb.output).toContain(`run ${rb.runId}`);
      expect(wb.output).not.toContain(`run ${ra.runId}`);
    } finally {
      await stopAll(workers);
      a.cleanup();
      b.cleanup();
    }
  }, 120_000);

  it('a worker of another batchfile or Node version refuses the job, naming both', async () => {
    const p = TempProject.create({ 'Batchfile.ts': `import { defineBatch } from 'batchfile';\nexport default defineBatch({ steps: { a: { command: 'true' } } });\n` });
    const workers: Running[] = [];
    // The test plays a coordinator of another version: it adds a job as one would.
    const queue = new Queue('refuse', { connection: { url: redis.url }, prefix: 'batch' });
    try {
      workers.push(await startWorker(p, redis, ['--queue', 'refuse']));
      // Settings published as a coordinator would, so the worker starts serving.
      const settings = JSON.stringify({ lockDurationMs: 5000, stalledIntervalMs: 1000, maxStalledCount: 1 });
      const r = new Redis(redis.url);
      await r.set('batch:refuse:batch-settings', settings);
      await r.publish('batch:refuse:batch-settings', settings);
      r.disconnect();
      await workers[0]!.waitFor(/serving queue "refuse"/);
      const { QueueEvents } = await import('bullmq');
      const events = new QueueEvents('refuse', { connection: { url: redis.url }, prefix: 'batch' });
      await events.waitUntilReady();
      const job = await queue.add('step', {
        protocol: 1, engine: '0.0.1-other', node: 18, files: 'shared', runId: 'r1', root: p.dir, inputs: [], outputs: [], logFile: path.join(p.dir, 'a.log'),
        step: { name: 'a', kind: 'command', spec: { command: 'touch ran.txt' }, inputs: [], outputs: [], dependsOn: [], params: {}, env: [], retries: 0, cache: true },
      });
      const result = (await job.waitUntilFinished(events, 20_000)) as { ok: boolean; error: string };
      await events.close();
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(/batchfile 0\.0\.1-other on Node 18/);
      expect(result.error).toMatch(new RegExp(`batchfile \\d+\\.\\d+\\.\\d+\\S* on Node ${process.versions.node.split('.')[0]}`));
      expect(p.exists('ran.txt')).toBe(false);
    } finally {
      await queue.close();
      await stopAll(workers);
      p.cleanup();
    }
  }, 60_000);

  it("authenticates with the URL's password and says clearly when Redis cannot be reached", async () => {
    const secured = await RedisServer.start({ password: 's3cret' });
    const p = TempProject.create(PIPELINE);
    const workers: Running[] = [];
    try {
      const noPass = await p.batch(['--executor', `redis://127.0.0.1:${secured.port}`]);
      expect(noPass.code).toBe(3);
      expect(noPass.stderr).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+.*(NOAUTH|Authentication)/s);
      workers.push(await startWorker(p, secured, ['-j', '2']));
      const r = await p.run(['--executor', secured.url, '--no-cache']);
      expect(r.status, r.stderr).toBe('PASS');
      // The password never shows in messages.
      expect(workers[0]!.output).not.toContain('s3cret');
      await stopAll(workers);
      await secured.stop();
      const down = await p.batch(['--executor', secured.url, '--force']);
      expect(down.code).toBe(3);
      expect(down.stderr).toMatch(/Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
    } finally {
      await stopAll(workers);
      await secured.stop();
      p.cleanup();
    }
  }, 120_000);

  it('takes the executor from the Batchfile, and rejects bad URLs and options with clear errors', async () => {
    const p = TempProject.create({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ executor: process.env.TEST_REDIS_URL ?? 'local', steps: { a: { command: 'echo a > a.txt', outputs: ['a.txt'] } } });
`,
    });
    const workers: Running[] = [];
    try {
      workers.push(await startWorker(p, redis, ['--queue', 'fromfile']));
      const r = await p.run(['--queue', 'fromfile'], { env: { TEST_REDIS_URL: redis.url } });
      expect(r.status, r.stderr).toBe('PASS');
      expect((r.steps[0] as { worker?: string }).worker).toMatch(new RegExp(`:${workers[0]!.child.pid}$`));
      // --executor local overrides the Batchfile: runs here.
      const here = await p.run(['--executor', 'local', '--force'], { env: { TEST_REDIS_URL: redis.url } });
      expect((here.steps[0] as { worker?: string }).worker).toBeUndefined();

      const badFlag = await p.batch(['--executor', 'http://127.0.0.1:1']);
      expect(badFlag.code).toBe(2);
      expect(badFlag.stderr).toMatch(/--executor: "http:\/\/127\.0\.0\.1:1" must start with redis:\/\/ or rediss:\/\/ \(TLS\)/);
      const badFile = await p.batch([], { env: { TEST_REDIS_URL: 'tcp://nowhere' } });
      expect(badFile.code).toBe(2);
      expect(badFile.stderr).toMatch(/Batchfile\.ts: executor: "tcp:\/\/nowhere" must be "local" or a Redis URL/);
      const noRedis = await p.batch(['worker']);
      expect(noRedis.code).toBe(2);
      expect(noRedis.stderr).toMatch(/`batch worker` needs --redis/);
      const badQueue = await p.batch(['worker', '--redis', redis.url, '--queue', 'a:b']);
      expect(badQueue.code).toBe(2);
      expect(badQueue.stderr).toMatch(/--queue: queue name "a:b" must be/);
    } finally {
      await stopAll(workers);
      p.cleanup();
    }
  }, 60_000);
});
