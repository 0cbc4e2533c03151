// Faults of the Redis executor: a worker killed mid-step, a step that kills its workers,
// Ctrl-C on the coordinator, Redis killed mid-run. Real processes, real redis-server.
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { TempProject, waitForFile, type Running } from '../../rig.js';
import { jobKeys, queueKeys, RedisServer, startWorker, stopAll } from './redis-rig.js';

// Stall detection fast enough for a test: a dead worker's job is taken again within about
// lock + 2 × stall interval.
const FAST = { BATCH_QUEUE_LOCK_MS: '1000', BATCH_QUEUE_STALL_MS: '300' };

let redis: RedisServer;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(async () => {
  redis = await RedisServer.start();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await redis.stop();
});

function project(steps: string): TempProject {
  const p = TempProject.create({ 'Batchfile.ts': `import { defineBatch } from 'batchfile';\nexport default defineBatch({ steps: {\n${steps}\n} });\n` });
  cleanups.push(() => p.cleanup());
  return p;
}

async function workers(p: TempProject, n: number, queue: string): Promise<Running[]> {
  const ws: Running[] = [];
  for (let i = 0; i < n; i++) ws.push(await startWorker(p, redis, ['-j', '1', '--queue', queue]));
  cleanups.push(() => stopAll(ws));
  return ws;
}

async function counts(queue: string): Promise<Record<string, number>> {
  const q = new Queue(queue, { connection: { url: redis.url }, prefix: 'batch' });
  try {
    return await q.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed');
  } finally {
    await q.close();
  }
}

describe('faults of the Redis executor', () => {
  it('a worker killed with SIGKILL mid-step: another worker takes the step, which is recorded once', async () => {
    const p = project(`
    long: { command: 'if [ ! -f long.first ]; then echo $BATCH_WORKER_PID > long.tmp; mv long.tmp long.first; sleep 60; fi; echo done > long.txt', outputs: ['long.txt'] },
    next: { command: 'cp long.txt next.txt', inputs: ['long.txt'], outputs: ['next.txt'] },`);
    const ws = await workers(p, 2, 'kill9');
    const coord = p.start(['--executor', redis.url, '--queue', 'kill9', '--json'], { env: FAST });
    await waitForFile(p.path('long.first'));
    const pid = Number(fs.readFileSync(p.path('long.first'), 'utf8').trim());
    const victim = ws.find((w) => w.child.pid === pid)!;
    const survivor = ws.find((w) => w !== victim)!;
    expect(victim).toBeDefined();
    victim.kill('SIGKILL');
    const end = await Promise.race([coord.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`coordinator did not finish:\n${coord.output}`)), 60_000))]);
    expect(end.code, coord.output).toBe(0);
    const summary = JSON.parse(coord.output.slice(coord.output.indexOf('{'), coord.output.lastIndexOf('}') + 1)) as { steps: { name: string; status: string; attempts?: number; worker?: string }[] };
    const long = summary.steps.find((s) => s.name === 'long')!;
    expect(long.status).toBe('PASS');
    expect(long.attempts).toBe(1);
    expect(long.worker).toBe(`${long.worker!.split(':')[0]}:${survivor.child.pid}`);
    expect(p.read('next.txt')).toBe('done\n');
    const hist = JSON.parse((await p.batch(['history', 'long', '--json'])).stdout) as { executions: { worker?: string }[] };
    expect(hist.executions).toHaveLength(1);
    expect(jobKeys(await queueKeys(redis, 'kill9'), 'kill9')).toEqual([]);
  }, 120_000);

  it('every worker dead: the coordinator says so, and a worker started then takes the step', async () => {
    const p = project(`
    long: { command: 'if [ ! -f long.first ]; then echo $BATCH_WORKER_PID > long.tmp; mv long.tmp long.first; sleep 60; fi; echo done > long.txt', outputs: ['long.txt'] },`);
    const [w] = await workers(p, 1, 'alldead');
    const coord = p.start(['--executor', redis.url, '--queue', 'alldead', '--json'], { env: { ...FAST, BATCH_QUEUE_WORKER_CHECK_MS: '300' } });
    await waitForFile(p.path('long.first'));
    expect(Number(fs.readFileSync(p.path('long.first'), 'utf8'))).toBe(w!.child.pid);
    w!.kill('SIGKILL');
    await coord.waitFor(/no worker serves queue "alldead" at redis:\/\/127\.0\.0\.1:\d+: 1 step wait; start one with: batch worker/, 30_000);
    const [fresh] = await workers(p, 1, 'alldead');
    const end = await Promise.race([coord.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`coordinator did not finish:\n${coord.output}`)), 60_000))]);
    expect(end.code, coord.output).toBe(0);
    const summary = JSON.parse(coord.output.slice(coord.output.indexOf('{'), coord.output.lastIndexOf('}') + 1)) as { steps: { name: string; worker?: string }[] };
    expect(summary.steps[0]!.worker).toMatch(new RegExp(`:${fresh!.child.pid}$`));
  }, 120_000);

  it('a step that keeps killing its workers ends as FAIL with a clear message', async () => {
    const p = project(`
    killer: { command: 'kill -9 $BATCH_WORKER_PID; sleep 30', outputs: ['never.txt'] },`);
    // Two die; the third runs the stall check that gives up on the job.
    await workers(p, 3, 'killer');
    const r = await p.run(['--executor', redis.url, '--queue', 'killer'], { env: { ...FAST, BATCH_QUEUE_MAX_STALLS: '1' }, timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    const s = r.steps.find((x) => x.name === 'killer')!;
    expect(s.status).toBe('FAIL');
    expect(s.reason).toMatch(/abandoned 2 times: each worker that took it died or lost Redis while running it/);
    expect(jobKeys(await queueKeys(redis, 'killer'), 'killer')).toEqual([]);
  }, 120_000);

  it('Ctrl-C on the coordinator removes its queued jobs and stops the running ones: no job is left behind', async () => {
    const steps = ['s1', 's2', 's3', 's4'].map((n) => `    ${n}: { command: 'echo > ${n}.started; sleep 60; echo > ${n}.txt', outputs: ['${n}.txt'] },`).join('\n');
    const p = project(steps);
    const [w] = await workers(p, 1, 'ctrlc');
    const coord = p.start(['--executor', redis.url, '--queue', 'ctrlc'], { env: FAST });
    const m = await w!.waitFor(/start (s\d)/);
    await waitForFile(p.path(`${m[1]}.started`));
    expect((await counts('ctrlc')).wait).toBe(3);
    coord.kill('SIGINT');
    const end = await coord.exited;
    expect(end.code, coord.output).toBe(130);
    await w!.waitFor(new RegExp(`end ${m[1]}: failed`), 10_000);
    const c = await counts('ctrlc');
    expect(Object.values(c).every((n) => n === 0), JSON.stringify(c)).toBe(true);
    expect(jobKeys(await queueKeys(redis, 'ctrlc'), 'ctrlc')).toEqual([]);
    // Only the one that was running had started, and it was stopped before it finished.
    expect(['s1', 's2', 's3', 's4'].filter((n) => p.exists(`${n}.started`))).toEqual([m[1]]);
    expect(['s1', 's2', 's3', 's4'].some((n) => p.exists(`${n}.txt`))).toBe(false);
  }, 120_000);

  it('Redis killed mid-run: a clear error, exit 1, and no step recorded as done that did not finish', async () => {
    const p = project(`
    first: { command: 'echo one > first.txt', outputs: ['first.txt'] },
    second: { command: 'if [ -f go ]; then echo two > second.txt; else echo > second.started; sleep 60; fi', inputs: ['first.txt'], outputs: ['second.txt'] },`);
    await workers(p, 1, 'dies');
    const coord = p.start(['--executor', redis.url, '--queue', 'dies'], { env: FAST });
    await waitForFile(p.path('second.started'));
    await redis.kill();
    const end = await Promise.race([coord.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`coordinator did not finish:\n${coord.output}`)), 30_000))]);
    expect(end.code, coord.output).toBe(1);
    expect(coord.output).toMatch(/lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+/);
    // The store: `first` finished and is up to date; `second` did not and runs again.
    p.write('go', '');
    const again = await p.run(['--executor', 'local']);
    expect(again.status).toBe('PASS');
    const by = new Map(again.steps.map((s) => [s.name, s.action]));
    expect(by.get('first')).toBe('up-to-date');
    expect(by.get('second')).toBe('ran');
    const { runs } = JSON.parse((await p.batch(['history', '--json'])).stdout) as { runs: { status: string }[] };
    expect(runs.map((r) => r.status)).toEqual(['PASS', 'FAIL']);
  }, 120_000);
});
