// Steps that go wrong: a worker over its memory limit, a command killed by a signal (with or
// without a shell in between), a command that leaves a grandchild running. Each is a clear
// FAIL of that step; the worker pool serves a later run step in the same run; no process of
// the run is left. (A worker that throws, calls process.exit or loops past its timeout:
// tests/engine/executors/worker.test.ts.)
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, cmd, killWithEnv, pidsWithEnv, readStore, table } from './helpers.js';

let p: TempProject | undefined;
afterEach(async () => {
  if (p) await killWithEnv('BATCH_ROOT', p.dir);
  p?.cleanup();
});

const SURVIVOR = `import fs from 'node:fs';
import path from 'node:path';
export default async (ctx: { outputs: string[] }) => {
  fs.mkdirSync(path.dirname(ctx.outputs[0]!), { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, 'still serving');
};
`;

describe('steps that crash', () => {
  it('out of memory, killed by a signal, a grandchild left behind: each FAILs clearly, the pool recovers, nothing is left running', async () => {
    p = TempProject.create({
      'steps/hog.ts': `export default async () => {
  const keep: number[][] = [];
  for (;;) keep.push(new Array(1_000_000).fill(keep.length));
};
`,
      'steps/survivor.ts': SURVIVOR,
      // Declared first so that with -j 1 the hog takes the only worker first.
      'Batchfile.ts': batchfile(`
  hog: { run: 'steps/hog.ts' },
  survivor: { run: 'steps/survivor.ts', outputs: ['out/survivor.txt'] },
  shellKilled: { command: 'kill -KILL $$' },
  segv: { command: ['node', '-e', "process.kill(process.pid, 'SIGSEGV')"] },
  orphan: { command: ${cmd('--spawn-orphan', '--out', 'out/orphan.txt')}, outputs: ['out/orphan.txt'] },
`),
    });
    const r = await p.run(['-j', '1', '-k', '--worker-memory', '64']);
    expect(r.code, r.stderr).toBe(1);
    expect(table(r.steps)).toEqual({
      hog: 'FAIL ran',
      survivor: 'PASS ran',
      shellKilled: 'FAIL ran',
      segv: 'FAIL ran',
      orphan: 'FAIL ran',
    });
    const step = Object.fromEntries(r.steps.map((s) => [s.name, s]));
    expect(step.hog?.reason).toBe('worker ran out of memory (limit 64 MB)');
    expect(step.shellKilled?.reason).toBe('killed by SIGKILL');
    expect(step.segv?.reason).toBe('killed by SIGSEGV');
    expect(step.orphan?.reason).toBe('the command left processes running after it exited (they were killed)');
    // One worker thread at a time (-j 1): the survivor ran after the hog lost its worker.
    const started = Object.fromEntries((await readStore(p)).results.map((x) => [x.key[1], x.value.startedAt as number]));
    expect(started.survivor).toBeGreaterThanOrEqual(started.hog!);
    expect(p.read('out/survivor.txt')).toBe('still serving');
    // The orphan's grandchild carries the run's environment; it was killed with its group.
    expect(pidsWithEnv('BATCH_ROOT', p.dir)).toEqual([]);
    // A failed step is not recorded as done: it runs again.
    const again = await p.run(['-j', '1', '-k', '--worker-memory', '64']);
    expect(table(again.steps)).toMatchObject({ hog: 'FAIL ran', survivor: 'PASS up-to-date', orphan: 'FAIL ran' });
    expect(pidsWithEnv('BATCH_ROOT', p.dir)).toEqual([]);
  });
});
