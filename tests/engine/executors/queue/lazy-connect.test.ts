// The Redis executor connects only when a step may run: a no-op run sends nothing and does
// not even connect (redis-server's own count of connections received stays the same), so it
// succeeds with Redis down; a run with work still fails clearly when Redis cannot be reached.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { TempProject, type Running } from '../../rig.js';
import { RedisServer, startWorker, stopAll } from './redis-rig.js';

const PIPELINE = {
  'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    seed: { command: 'echo seed > build/seed.txt', outputs: ['build/seed.txt'] },
    upper: { run: 'steps/upper.ts', inputs: ['build/seed.txt'], outputs: ['build/upper.txt'] },
  },
});
`,
  'steps/upper.ts': `import fs from 'node:fs';
export default function (ctx: { inputs: string[]; outputs: string[] }) {
  fs.writeFileSync(ctx.outputs[0]!, fs.readFileSync(ctx.inputs[0]!, 'utf8').toUpperCase());
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

/** Connections redis-server has accepted so far, asked over one connection of the test's
 * own (opened before the first count), so asking adds nothing. */
function counter(): { received: () => Promise<number>; close: () => void } {
  const r = new Redis(redis.url);
  return {
    received: async () => Number(/total_connections_received:(\d+)/.exec(await r.info('stats'))![1]),
    close: () => r.disconnect(),
  };
}

it('a no-op run through the queue never connects to Redis; a run with work connects, and fails clearly when it cannot', async () => {
  const p = TempProject.create(PIPELINE);
  const workers: Running[] = [];
  const count = counter();
  const connectionsReceived = count.received;
  try {
    workers.push(await startWorker(p, redis, ['-j', '1']));
    const atStart = await connectionsReceived();
    const first = await p.run(['--executor', redis.url]);
    expect(first.status, first.stderr).toBe('PASS');
    // The count moves when a run connects (its control connection, the queue's, the events').
    expect(await connectionsReceived()).toBeGreaterThanOrEqual(atStart + 3);
    // Snapshots are recorded once the outputs are older than the racy window; the second
    // run proves the steps up to date by stat (and may hash), the third by stat alone.
    await p.run(['--executor', redis.url], { env: { BATCH_RACY_WINDOW_MS: '0' } });
    // The worker's own connections come and go (BullMQ's blocking reads): it is stopped, so
    // only the coordinator could connect now.
    await stopAll(workers);
    const before = await connectionsReceived();
    const noop = await p.run(['--executor', redis.url], { env: { BATCH_RACY_WINDOW_MS: '0' } });
    expect(noop.status).toBe('PASS');
    expect(noop.steps.every((s) => s.action === 'up-to-date')).toBe(true);
    expect(await connectionsReceived()).toBe(before);
    count.close();

    // Redis down: the no-op still succeeds; a step that must run stops the run, exit 3.
    const deadUrl = redis.url;
    await redis.stop();
    const down = await p.run(['--executor', deadUrl], { env: { BATCH_RACY_WINDOW_MS: '0' } });
    expect(down.code, down.stderr).toBe(0);
    const forced = await p.batch(['--executor', deadUrl, '--force']);
    expect(forced.code).toBe(3);
    expect(forced.stderr).toMatch(/Cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
    // Nothing was recorded as run by the failed attempt.
    const hist = await p.batch(['history', 'seed', '--json']);
    expect((JSON.parse(hist.stdout) as { executions: unknown[] }).executions).toHaveLength(1);
  } finally {
    count.close();
    await stopAll(workers);
    p.cleanup();
    redis = await RedisServer.start();
  }
}, 120_000);
