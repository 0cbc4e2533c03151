// `run` steps on the Piscina worker pool: what ctx holds, where their output goes, and what
// happens when a step throws, calls process.exit, ignores a timeout in a busy loop, or
// stops politely on ctx.signal. With -j 1 one thread serves them all, so a step after a
// killed worker shows the pool recovered.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, table } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

const CTX = `import fs from 'node:fs';
import path from 'node:path';
import type { StepContext } from 'batchfile';
export default async (ctx: StepContext) => {
  ctx.log('hello from ctx.log');
  console.log('hello from console.log', { n: 1 });
  console.error('and from console.error');
  const seen = {
    step: ctx.step, params: ctx.params, inputs: ctx.inputs, outputs: ctx.outputs, root: ctx.root, runId: ctx.runId,
    signal: ctx.signal instanceof AbortSignal, aborted: ctx.signal.aborted, cwd: process.cwd(),
  };
  fs.mkdirSync(path.dirname(ctx.outputs[0]!), { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, JSON.stringify(seen));
};
`;

describe('worker-pool steps', () => {
  it('ctx fields, logs, a throwing step, process.exit, a busy loop past its timeout, a polite abort', async () => {
    p = TempProject.create({
      'one.txt': '1',
      'data/b.txt': 'b',
      'data/a.txt': 'a',
      'steps/ctx.ts': CTX,
      'steps/throw.ts': `export default async () => { throw new Error('boom from the worker'); };\n`,
      'steps/exit.ts': `export default async () => { process.exit(3); };\n`,
      'steps/loop.ts': `export default async () => { for (;;) { /* busy, never checks ctx.signal */ } };\n`,
      'steps/polite.ts': `import fs from 'node:fs';
export default async (ctx: { root: string; signal: AbortSignal }) => {
  if (!ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
  fs.writeFileSync(ctx.root + '/polite.aborted', String((ctx.signal.reason as Error).message));
};
`,
      'steps/survivor.ts': `import fs from 'node:fs';
export default async (ctx: { outputs: string[] }) => { fs.writeFileSync(ctx.outputs[0]!, 'still here'); };
`,
      'Batchfile.ts': batchfile(`
  ctx: { run: 'steps/ctx.ts', inputs: ['one.txt', 'data/*.txt'], outputs: ['build/ctx.json', 'build/second.txt'], params: { n: 1, nested: { list: [1, 'two', null] } } },
  thrower: { run: 'steps/throw.ts' },
  exiter: { run: 'steps/exit.ts' },
  looper: { run: 'steps/loop.ts', timeout: '300ms' },
  polite: { run: 'steps/polite.ts', timeout: '300ms' },
  survivor: { run: 'steps/survivor.ts', outputs: ['survivor.txt'] },
`),
    });
    const r = await p.run(['-j', '1', '--keep-going']);
    expect(r.code).toBe(1);
    // ctx declares two outputs and writes one: it fails for the missing one, after running.
    expect(table(r.steps)).toEqual({
      ctx: 'FAIL ran',
      thrower: 'FAIL ran',
      exiter: 'FAIL ran',
      looper: 'FAIL ran',
      polite: 'FAIL ran',
      survivor: 'PASS ran',
    });
    const reason = Object.fromEntries(r.steps.map((s) => [s.name, s.reason]));
    expect(reason.ctx).toBe('the step finished but did not write its declared output: build/second.txt');
    expect(reason.thrower).toBe('boom from the worker');
    expect(reason.exiter).toMatch(/exit.*\b3\b/);
    expect(reason.looper).toBe('timed out after 300 ms');
    expect(reason.polite).toBe('timed out after 300 ms');
    expect(p.read('polite.aborted')).toBe('step aborted (timeout or interrupt)');
    expect(p.read('survivor.txt')).toBe('still here');

    // A failed step's partial outputs are moved aside (docs/cli.md), where ctx's can be read.
    expect(p.exists('build/ctx.json')).toBe(false);
    const seen = JSON.parse(p.read('.cache/failed/ctx/build/ctx.json')) as Record<string, unknown>;
    expect(seen).toEqual({
      step: 'ctx',
      params: { n: 1, nested: { list: [1, 'two', null] } },
      inputs: [p.path('data/a.txt'), p.path('data/b.txt'), p.path('one.txt')],
      outputs: [p.path('build/ctx.json'), p.path('build/second.txt')],
      root: p.dir,
      runId: r.runId,
      signal: true,
      aborted: false,
      // -C made the project root batch's cwd, which worker threads share.
      cwd: p.dir,
    });
    const log = p.read(`logs/runs/${r.runId}/ctx.log`);
    expect(log).toContain('hello from ctx.log\n');
    expect(log).toContain('hello from console.log { n: 1 }\n');
    expect(log).toContain('and from console.error\n');
    expect(p.read(`logs/runs/${r.runId}/thrower.log`)).toMatch(/Error: boom from the worker\n\s+at /);
  });

  it('-j N bounds run and command steps together, and runs N at once', async () => {
    // Each step appends "+name" when it starts and "-name" when it ends. c1 and c2 each wait
    // for the other to have started: they finish only if two steps really run at once.
    const HOLD = `import fs from 'node:fs';
const [name, waitFor] = process.argv.slice(2);
fs.appendFileSync('events.txt', '+' + name + '\\n');
while (waitFor && !fs.readFileSync('events.txt', 'utf8').includes('+' + waitFor + '\\n')) await new Promise((r) => setTimeout(r, 10));
await new Promise((r) => setTimeout(r, 100));
fs.appendFileSync('events.txt', '-' + name + '\\n');
`;
    const RUN = `import fs from 'node:fs';
export default async (ctx: { step: string }) => {
  fs.appendFileSync('events.txt', '+' + ctx.step + '\\n');
  await new Promise((r) => setTimeout(r, 100));
  fs.appendFileSync('events.txt', '-' + ctx.step + '\\n');
};
`;
    p = TempProject.create({
      'tools/hold.mjs': HOLD,
      'steps/hold.ts': RUN,
      'Batchfile.ts': batchfile(`
  c1: { command: 'node tools/hold.mjs c1 c2' },
  c2: { command: 'node tools/hold.mjs c2 c1' },
  r1: { run: 'steps/hold.ts' },
  c3: { command: 'node tools/hold.mjs c3' },
  r2: { run: 'steps/hold.ts' },
  r3: { run: 'steps/hold.ts' },
`),
    });
    const r = await p.run(['-j', '2']);
    expect(r.code, r.stderr).toBe(0);
    const events = p.read('events.txt').split('\n').filter(Boolean);
    expect(events).toHaveLength(12);
    let running = 0;
    let most = 0;
    for (const e of events) {
      running += e.startsWith('+') ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(most).toBe(2);
  });
});
