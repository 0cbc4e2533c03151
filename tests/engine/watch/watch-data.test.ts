// Watch mode follows every file a run's steps are made from: a file matching a forEach glob
// runs its new instance within one cycle, a params file edit reruns what reads the changed key
// within one cycle, and a Batchfile that reads files is warned about (as the daemon does) and
// loaded again when one of them changes.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject, type Running } from '../rig.js';
import { batchfile, cmd } from '../helpers.js';

let p: TempProject | undefined;
let r: Running | undefined;
afterEach(async () => {
  if (r) {
    r.kill('SIGINT');
    await r.exited;
  }
  r = undefined;
  p?.cleanup();
  p = undefined;
});

const CYCLE_RE = /cycle (\d+): (\w+) in [^|]+\| changed: ([^|]*?) \| (?:ran: ([^|]*?) \| failed: ([^|]*?) \||([^\n]*))/;
const names = (s: string | undefined): string[] => (!s || s === 'none' ? [] : s.split(', ').map((x) => x.replace(/ \((restored|\+\d+ more)\)$/, '').trim()).sort());

async function cycleAfter(run: Running, from: number): Promise<{ n: number; status: string; changed: string[]; ran: string[] }> {
  const m = await run.waitFor(CYCLE_RE, 30_000, from);
  return { n: Number(m[1]), status: m[2]!, changed: names(m[3]), ran: names(m[4]) };
}

async function edit(run: Running, files: Record<string, string>): Promise<{ n: number; status: string; changed: string[]; ran: string[] }> {
  const from = run.output.length;
  for (const [rel, content] of Object.entries(files)) p!.write(rel, content);
  return cycleAfter(run, from);
}

describe('watch mode and the files a run is made from', () => {
  it('a new file matching a forEach glob runs its instance (and the merge) in the next cycle', async () => {
    p = TempProject.create({
      'data/raw/a.csv': 'a',
      'data/raw/b.csv': 'b',
      'Batchfile.ts': batchfile(`
  tidy: { forEach: 'data/raw/*.csv', command: ${cmd('--in', '{path}', '--out', 'build/tidy/{stem}.csv')}, inputs: ['{path}'], outputs: ['build/tidy/{stem}.csv'] },
  merge: { command: 'cat build/tidy/*.csv > build/all.csv', inputs: ['build/tidy/*.csv'], outputs: ['build/all.csv'] },
`),
    });
    r = p.start(['--watch', '--no-tests']);
    const first = await cycleAfter(r, 0);
    expect(first).toMatchObject({ n: 1, status: 'PASS', ran: ['merge', 'tidy:a', 'tidy:b'] });
    const second = await edit(r, { 'data/raw/c.csv': 'c' });
    expect(second, r.output).toMatchObject({ n: 2, status: "PASS", changed: ["data/raw/c.csv"], ran: ["merge", "tidy:c"] });
    expect(p.read('build/all.csv')).toBe('abc');
    const third = await edit(r, { 'data/raw/a.csv': 'A' });
    expect(third, r.output).toMatchObject({ n: 3, status: "PASS", ran: ["merge", "tidy:a"] });
    expect(p.read('build/all.csv')).toBe('Abc');
  });

  it("the output of a step the run added (a new match) is the engine's write, not an input change for the next cycle", async () => {
    // merge reads what the new instance writes: while the run goes, the watch set is the one
    // from before it, where build/tidy/c.csv is merge's input and no step's output. That event
    // started a cycle that ran nothing ("changed: build/tidy/c.csv | ran: none").
    p = TempProject.create({
      'data/raw/a.csv': 'a',
      'Batchfile.ts': batchfile(`
  tidy: { forEach: 'data/raw/*.csv', command: 'mkdir -p build/tidy && cp {path} build/tidy/{stem}.csv', inputs: ['{path}'], outputs: ['build/tidy/{stem}.csv'] },
  merge: { command: 'cat build/tidy/*.csv > build/all.csv', inputs: ['build/tidy/*.csv'], outputs: ['build/all.csv'] },
`),
    });
    r = p.start(['--watch', '--no-tests']);
    expect(await cycleAfter(r, 0)).toMatchObject({ n: 1, status: 'PASS', ran: ['merge', 'tidy:a'] });
    expect(await edit(r, { 'data/raw/c.csv': 'c' })).toMatchObject({ n: 2, changed: ['data/raw/c.csv'], ran: ['merge', 'tidy:c'] });
    expect(await edit(r, { 'data/raw/d.csv': 'd' }), r.output).toMatchObject({ n: 3, changed: ['data/raw/d.csv'], ran: ['merge', 'tidy:d'] });
    // A hand edit of such an output is still one.
    expect(await edit(r, { 'build/tidy/c.csv': 'X' }), r.output).toMatchObject({ n: 4, changed: ['build/tidy/c.csv'], ran: ['tidy:c'] });
    expect(p.read('build/all.csv')).toBe('acd');
  });

  it('a params file edit reruns the steps reading the changed key in the next cycle; a comment edit runs nothing', async () => {
    p = TempProject.create({
      'params.yaml': 'train:\n  n_est: 60\nprepare:\n  split: 0.2\n',
      'Batchfile.ts': batchfile(`
  prepare: { command: 'echo "$BATCH_PARAM_PREPARE_SPLIT" > out/prepare.txt', outputs: ['out/prepare.txt'], paramsFrom: { 'params.yaml': ['prepare.split'] } },
  train: { command: 'echo "$BATCH_PARAM_TRAIN_N_EST" > out/model.txt', outputs: ['out/model.txt'], paramsFrom: { 'params.yaml': ['train.n_est'] } },
`),
      'out/.keep': '',
    });
    r = p.start(['--watch', '--no-tests']);
    expect(await cycleAfter(r, 0)).toMatchObject({ n: 1, status: 'PASS', ran: ['prepare', 'train'] });
    const second = await edit(r, { 'params.yaml': 'train:\n  n_est: 70\nprepare:\n  split: 0.2\n' });
    expect(second).toMatchObject({ n: 2, status: 'PASS', changed: ['params.yaml'], ran: ['train'] });
    expect(p.read('out/model.txt')).toBe('70\n');
    const third = await edit(r, { 'params.yaml': '# tuned\ntrain:\n  n_est: 70\nprepare:\n  split: 0.2\n' });
    expect(third).toMatchObject({ n: 3, status: 'PASS', changed: ['params.yaml'], ran: [] });
  });

  it("a Batchfile that reads a file gets the daemon's warning, and is loaded again when that file changes", async () => {
    p = TempProject.create({
      'conf.json': '{ "n": 60 }',
      'Batchfile.ts': batchfile(`
  train: { command: 'echo ' + JSON.parse(readFileSync('conf.json', 'utf8')).n + ' > model.txt', outputs: ['model.txt'] },
`, `import { readFileSync } from 'node:fs';`),
    });
    r = p.start(['--watch', '--no-tests']);
    expect(await cycleAfter(r, 0)).toMatchObject({ n: 1, status: 'PASS', ran: ['train'] });
    expect(r.output).toMatch(/warning: Batchfile\.ts may define other steps each time it is loaded \(it imports node:fs\): watch mode loads it again when a file it read changes \(conf\.json\)/);
    const from = r.output.length;
    const second = await edit(r, { 'conf.json': '{ "n": 70 }' });
    expect(second).toMatchObject({ n: 2, status: 'PASS', changed: ['conf.json'], ran: ['train'] });
    expect(r.output.slice(from)).toMatch(/loading Batchfile\.ts again: it read conf\.json, which changed/);
    expect(p.read('model.txt')).toBe('70\n');
  });
});
