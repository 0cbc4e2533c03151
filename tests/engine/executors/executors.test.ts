// The executors' plumbing: command steps start through spawn helpers (the native forkserver,
// or small Node processes that fork cheaply) and die with a killed batch; a helper that cannot start or keeps dying
// falls back to starting steps directly, never running one twice; steps that start together
// share one worker pool.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HelperSpawner } from '../../../src/executors/spawner.js';
import { nodeHelper } from '../../../src/executors/helper-kinds.js';
import type { ChildSpec } from '../../../src/executors/child-run.js';
import { REPO, TempProject, waitForFile } from '../rig.js';
import { batchfile, isAlive, killQuietly, pidsIn, waitDead } from '../helpers.js';

let p: TempProject | undefined;
let leftovers: number[] = [];
let tmp: string | undefined;
afterEach(() => {
  killQuietly(leftovers);
  leftovers = [];
  p?.cleanup();
  p = undefined;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

const HELPER = nodeHelper(path.join(REPO, 'dist/executors/spawn-helper.js'));

function tempDir(): string {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'executors-'));
  return tmp;
}

function shell(dir: string, script: string): ChildSpec {
  return { file: '/bin/sh', args: ['-c', script], cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, logFile: path.join(dir, 'step.log') };
}

describe('command steps and the spawn helper', () => {
  it('a command step is started by the native forkserver; BATCH_SPAWN_HELPER=node by the Node helper, =0 from batch itself', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`parent: { command: "tr '\\\\0' ' ' < /proc/$PPID/cmdline > parent.txt", outputs: ['parent.txt'] },`),
    });
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(p.read('parent.txt').trim()).toBe(path.join(REPO, 'dist/forkserver'));
    const node = await p.run(['--force'], { env: { BATCH_SPAWN_HELPER: 'node' } });
    expect(node.code, node.stderr).toBe(0);
    expect(p.read('parent.txt')).toContain('spawn-helper.js');
    const direct = await p.run(['--force'], { env: { BATCH_SPAWN_HELPER: '0' } });
    expect(direct.code, direct.stderr).toBe(0);
    expect(p.read('parent.txt')).not.toContain('spawn-helper.js');
    expect(p.read('parent.txt')).toContain('batch.js');
  });

  it("each attempt's log starts with batch's header, written before the command's output; each step sees its own BATCH_ variables, with and without the helper", async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(
        [
          // Fails on its first attempt, passes on its second.
          `flaky: { command: 'echo "run $BATCH_STEP $BATCH_RUN_ID $BATCH_ROOT"; if [ -e tried ]; then echo ok > flaky.txt; else touch tried; echo boom; exit 3; fi', outputs: ['flaky.txt'], retries: 1 },`,
          `other: { command: 'echo "$BATCH_STEP" > other.txt; echo "other says $BATCH_STEP"', outputs: ['other.txt'] },`,
        ].join('\n'),
      ),
    });
    for (const env of [{}, { BATCH_SPAWN_HELPER: 'node' }, { BATCH_SPAWN_HELPER: '0' }]) {
      p.remove('tried');
      const r = await p.run(['--force'], { env });
      expect(r.code, r.stderr).toBe(0);
      const log = (step: string): string => p!.read(`logs/runs/${r.runId}/${step}.log`);
      const root = fs.realpathSync(p.dir);
      expect(log('flaky').split('\n').filter((l) => !l.startsWith('# reason:'))).toEqual([
        `# batch: step flaky, attempt 1/2, run ${r.runId}`,
        `run flaky ${r.runId} ${root}`,
        'boom',
        '# batch: FAIL: exit code 3',
        `# batch: step flaky, attempt 2/2, run ${r.runId}`,
        `run flaky ${r.runId} ${root}`,
        '',
      ]);
      expect(log('other')).toMatch(new RegExp(`^# batch: step other, attempt 1/1, run ${r.runId}\n# reason: .*\nother says other\n$`));
      expect(p.read('other.txt')).toBe('other\n');
    }
  });

  it('kill -9 of batch ends the running step and what it started (its process group)', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`hold: { command: 'sleep 60 & echo $$ $! > pids.tmp && mv pids.tmp pids.txt; wait', outputs: ['never.txt'] },`),
    });
    const run = p.start([]);
    await waitForFile(p.path('pids.txt'));
    const pids = pidsIn(p, 'pids.txt');
    leftovers = pids;
    expect(pids).toHaveLength(2);
    expect(pids.every(isAlive)).toBe(true);
    run.kill('SIGKILL');
    await run.exited;
    // Without the helper both would live on for a minute.
    await waitDead(pids, 10_000);
  });
});

describe('HelperSpawner', () => {
  it('a helper that cannot start: steps start directly, each exactly once', async () => {
    const dir = tempDir();
    const s = new HelperSpawner(2, [nodeHelper(path.join(dir, 'no-such-helper.js'))]);
    const pids: number[] = [];
    const ends = await Promise.all([1, 2, 3].map((i) => s.start(shell(dir, `echo x >> runs-${i}.txt`), (pid) => pids.push(pid))));
    await s.close();
    expect(ends.map((e) => e.code)).toEqual([0, 0, 0]);
    expect(pids).toHaveLength(3);
    for (const i of [1, 2, 3]) expect(fs.readFileSync(path.join(dir, `runs-${i}.txt`), 'utf8')).toBe('x\n');
  });

  it('a helper that dies after saying ready fails the step it was given (it may have started it), then steps start directly', async () => {
    const dir = tempDir();
    const bad = path.join(dir, 'bad-helper.mjs');
    fs.writeFileSync(bad, `process.stdout.write(JSON.stringify({ t: 'ready' }) + '\\n', () => process.exit(3));\n`);
    const s = new HelperSpawner(1, [nodeHelper(bad)]);
    const first = await s.start(shell(dir, 'echo 1 >> runs.txt'), () => undefined);
    expect(first.error).toMatch(/spawn helper exited \(code 3\)/);
    const second = await s.start(shell(dir, 'echo 2 >> runs.txt'), () => undefined);
    expect(second.error).toMatch(/spawn helper exited/);
    // Two deaths: from now on batch starts steps itself.
    const third = await s.start(shell(dir, 'echo 3 >> runs.txt'), () => undefined);
    await s.close();
    expect(third).toMatchObject({ code: 0, leftBehind: false });
    expect(fs.readFileSync(path.join(dir, 'runs.txt'), 'utf8')).toBe('3\n');
  });

  it('the environment reaches the helper once per distinct object; each step gets its extra variables, header and log folder', async () => {
    const dir = tempDir();
    const s = new HelperSpawner(1, [HELPER]);
    const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', WHO: 'base' };
    const spec = (name: string, env: Record<string, string>): ChildSpec => ({
      file: '/bin/sh',
      args: ['-c', 'echo "$WHO $STEP"'],
      cwd: dir,
      env,
      extraEnv: { STEP: name },
      // A folder that does not exist yet: the first open creates it.
      logFile: path.join(dir, 'logs', 'run1', `${name}.log`),
      header: `# header of ${name}\n`,
    });
    const ends = await Promise.all([s.start(spec('a', base), () => undefined), s.start(spec('b', base), () => undefined)]);
    const changed = await s.start(spec('c', { ...base, WHO: 'changed' }), () => undefined);
    const again = await s.start(spec('d', base), () => undefined);
    await s.close();
    expect([...ends, changed, again].map((e) => e.code)).toEqual([0, 0, 0, 0]);
    const log = (n: string): string => fs.readFileSync(path.join(dir, 'logs', 'run1', `${n}.log`), 'utf8');
    expect(log('a')).toBe('# header of a\nbase a\n');
    expect(log('b')).toBe('# header of b\nbase b\n');
    expect(log('c')).toBe('# header of c\nchanged c\n');
    expect(log('d')).toBe('# header of d\nbase d\n');
  });

  it('one helper per step running at once, reused; exit codes, signals, leftovers and metrics come back', async () => {
    const dir = tempDir();
    const s = new HelperSpawner(4, [HELPER]);
    const both = await Promise.all([s.start(shell(dir, 'exit 0'), () => undefined), s.start(shell(dir, 'exit 7'), () => undefined)]);
    expect(both.map((e) => e.code)).toEqual([0, 7]);
    expect(s.helperPids).toHaveLength(2);
    const helpers = s.helperPids;
    const killed = await s.start(shell(dir, 'kill -TERM $$'), () => undefined);
    expect(killed.signal).toBe('SIGTERM');
    const left = await s.start(shell(dir, 'sleep 60 & echo started'), () => undefined);
    expect(left.leftBehind).toBe(true);
    const busy = await s.start(shell(dir, 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'), () => undefined);
    expect(busy.cpuMs).toBeGreaterThan(0);
    expect(busy.peakRssBytes).toBeGreaterThan(0);
    // Sequential steps reuse the idle helpers.
    expect(s.helperPids).toEqual(helpers);
    await s.close();
    await waitDead(helpers, 5000);
    expect(fs.readFileSync(path.join(dir, 'step.log'), 'utf8')).toContain('started');
  });
});

describe('worker pool', () => {
  it('warm starts the pool in the same turn (its threads boot while the run plans), and steps use that pool', async () => {
    const { PoolExecutor } = await import(path.join(REPO, 'dist/executors/pool-executor.js'));
    const dir = tempDir();
    const mod = path.join(dir, 'step.mjs');
    fs.writeFileSync(mod, `import fs from 'node:fs';\nexport default async (ctx) => fs.writeFileSync(ctx.outputs[0], ctx.step);\n`);
    const ex = new PoolExecutor({ threads: 2 });
    ex.warm();
    // No await in between: through import() the pool was made several turns later.
    expect(ex.created).toBe(1);
    expect(ex.started).toBe(true);
    const out = await ex.execute({
      step: { name: 'a', kind: 'run', run: 'step.mjs', inputs: [], outputs: ['a.txt'], dependsOn: [], params: {}, env: [], retries: 0, cache: false },
      runId: 'r',
      root: dir,
      inputs: [],
      outputs: [path.join(dir, 'a.txt')],
      compiled: mod,
      logFile: path.join(dir, 'a.log'),
      signal: new AbortController().signal,
      runEnv: process.env,
    });
    await ex.close();
    expect(out.ok).toBe(true);
    expect(ex.created).toBe(1);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('a');
  });

  it('steps that start together share one pool', async () => {
    const { PoolExecutor } = await import(path.join(REPO, 'dist/executors/pool-executor.js'));
    const dir = tempDir();
    const mod = path.join(dir, 'step.mjs');
    fs.writeFileSync(mod, `import fs from 'node:fs';\nexport default async (ctx) => fs.writeFileSync(ctx.outputs[0], ctx.step);\n`);
    const ex = new PoolExecutor({ threads: 2 });
    const req = (name: string) => ({
      step: { name, kind: 'run', run: 'step.mjs', inputs: [], outputs: [`${name}.txt`], dependsOn: [], params: {}, env: [], retries: 0, cache: false },
      runId: 'r',
      root: dir,
      inputs: [],
      outputs: [path.join(dir, `${name}.txt`)],
      compiled: mod,
      logFile: path.join(dir, `${name}.log`),
      signal: new AbortController().signal,
    });
    const outs = await Promise.all(['a', 'b', 'c'].map((n) => ex.execute(req(n))));
    await ex.close();
    expect(outs.map((o: { ok: boolean }) => o.ok)).toEqual([true, true, true]);
    expect(ex.created).toBe(1);
    expect(fs.readFileSync(path.join(dir, 'c.txt'), 'utf8')).toBe('c');
  });
});
