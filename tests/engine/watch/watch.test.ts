// Watch mode end to end: a real `batch --watch` process on a temp project, driven by real
// file writes. Every wait is for the process's output (its "cycle N:" lines) or a file, with a
// bounded timeout; "nothing else happened" is proved by a later edit whose cycle number is
// exactly the next one.
import fs from 'node:fs';
import { isAlive } from '../helpers.js';
import { afterEach, describe, expect, it } from 'vitest';
import { fake, TempProject, waitForFile, type Running } from '../rig.js';

let p: TempProject | undefined;
let r: Running | undefined;
afterEach(async () => {
  if (r && r.child.exitCode === null && r.child.signalCode === null) {
    r.kill('SIGKILL');
    await r.exited;
  }
  r = undefined;
  p?.cleanup();
  p = undefined;
});


/** The pid a fake step wrote with --started: the file can exist a moment before it has content. */
async function readPid(file: string, timeoutMs = 30_000): Promise<number> {
  await waitForFile(file, timeoutMs);
  const read = (): number => Number(fs.readFileSync(file, 'utf8'));
  if (read() > 0) return read();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (w.close(), reject(new Error(`no pid in ${file}`))), timeoutMs);
    const w = fs.watch(file, () => {
      if (read() > 0) {
        clearTimeout(timer);
        w.close();
        resolve(read());
      }
    });
    if (read() > 0) {
      clearTimeout(timer);
      w.close();
      resolve(read());
    }
  });
}

interface Cycle {
  n: number;
  status: string;
  changed: string[];
  ran: string[];
  failed: string[];
}

const CYCLE_RE = /cycle (\d+): (\w+) in [^|]+\| changed: ([^|]*?) \| (?:ran: ([^|]*?) \| failed: ([^|]*?) \||([^\n]*))/;

const names = (s: string | undefined): string[] =>
  !s || s === 'none' ? [] : s.split(', ').map((x) => x.replace(/ \((restored|\+\d+ more)\)$/, '').trim());

/** Waits for the next cycle line printed after output offset `from`. */
async function cycleAfter(run: Running, from: number): Promise<Cycle> {
  const m = await run.waitFor(CYCLE_RE, 30_000, from);
  return { n: Number(m[1]), status: m[2]!, changed: names(m[3]), ran: names(m[4]), failed: names(m[5]) };
}

/** Writes files, then returns the cycle they caused. */
async function edit(run: Running, files: Record<string, string>): Promise<Cycle> {
  const from = run.output.length;
  for (const [rel, content] of Object.entries(files)) p!.write(rel, content);
  return cycleAfter(run, from);
}

const step = (args: string[], inputs: string[], outputs: string[], extra = ''): string =>
  `{ command: ${JSON.stringify(fake(...args, '--mark', 'marks.txt'))}, inputs: ${JSON.stringify(inputs)}, outputs: ${JSON.stringify(outputs)}${extra} }`;

function batchfile(steps: Record<string, string>): string {
  return `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
${Object.entries(steps)
  .map(([n, s]) => `  ${n}: ${s},`)
  .join('\n')}
}});
`;
}

/** An unrelated step `z` on sentinel.txt: an edit to it is the positive signal that the loop is
 * idle and counting right. */
const SENTINEL = { z: step(['--in', 'sentinel.txt', '--out', 'out/z.txt'], ['sentinel.txt'], ['out/z.txt']) };

function project(steps: Record<string, string>, files: Record<string, string> = {}): TempProject {
  return TempProject.create({ 'sentinel.txt': 's0', ...files, 'Batchfile.ts': batchfile({ ...steps, ...SENTINEL }) });
}

describe('batch --watch', () => {
  it('reruns just the steps an edit affects, and only once (outputs it writes cause no loop)', async () => {
    p = project(
      {
        a: step(['--in', 'a.txt', '--out', 'out/a.txt'], ['a.txt'], ['out/a.txt']),
        b: step(['--in', 'out/a.txt', '--text', '!', '--out', 'out/b.txt'], ['out/a.txt'], ['out/b.txt']),
        c: step(['--in', 'c.txt', '--out', 'out/c.txt'], ['c.txt'], ['out/c.txt']),
        // Reads every output in out/ that a and b write: their writes land in its input glob.
        report: step(['--in', 'out/b.txt', '--out', 'report/all.txt'], ['out/[ab].txt'], ['report/all.txt']),
      },
      { 'a.txt': 'A', 'c.txt': 'C' },
    );
    r = p.start(['--watch', '--no-tests']);
    const first = await cycleAfter(r, 0);
    expect(first).toMatchObject({ n: 1, status: 'PASS', failed: [] });
    expect(first.ran.sort()).toEqual(['a', 'b', 'c', 'report', 'z']);

    const second = await edit(r, { 'a.txt': 'A2' });
    expect(second).toMatchObject({ n: 2, status: 'PASS', changed: ['a.txt'], failed: [] });
    expect(second.ran.sort()).toEqual(['a', 'b', 'report']);
    expect(p.read('report/all.txt')).toBe('A2!');

    // The run above rewrote out/a.txt, out/b.txt and report/all.txt; none of it may start a
    // cycle. The next cycle is the sentinel's, and it is number 3.
    const third = await edit(r, { 'sentinel.txt': 's1' });
    expect(third).toMatchObject({ n: 3, changed: ['sentinel.txt'], ran: ['z'] });

    // A hand edit of an output while idle reruns (or restores) its producer.
    const fourth = await edit(r, { 'out/c.txt': 'edited by hand' });
    expect(fourth).toMatchObject({ n: 4, changed: ['out/c.txt'], ran: ['c'] });
    expect(p.read('out/c.txt')).toBe('C');
    const fifth = await edit(r, { 'sentinel.txt': 's2' });
    expect(fifth).toMatchObject({ n: 5, changed: ['sentinel.txt'], ran: ['z'] });
    expect(p.marks().filter((m) => m === 'a')).toHaveLength(2);
  });

  it('reruns a run step when a module it imports changes, and exits 130 on Ctrl-C while idle', async () => {
    p = project(
      { mod: `{ run: 'steps/mod.ts', inputs: ['a.txt'], outputs: ['out/mod.txt'] }` },
      {
        'a.txt': 'A',
        'steps/lib.ts': `export const suffix = '1';\n`,
        'steps/mod.ts': `import fs from 'node:fs';
import { suffix } from './lib';
export default async (ctx: { inputs: string[]; outputs: string[] }) => {
  fs.mkdirSync(ctx.outputs[0]!.replace(/\\/[^/]*$/, ''), { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, fs.readFileSync(ctx.inputs[0]!, 'utf8') + suffix);
};
`,
      },
    );
    r = p.start(['--watch', '--no-tests']);
    expect((await cycleAfter(r, 0)).ran.sort()).toEqual(['mod', 'z']);
    expect(p.read('out/mod.txt')).toBe('A1');
    const second = await edit(r, { 'steps/lib.ts': `export const suffix = '2';\n` });
    expect(second).toMatchObject({ n: 2, changed: ['steps/lib.ts'], ran: ['mod'] });
    expect(p.read('out/mod.txt')).toBe('A2');
    r.kill('SIGINT');
    expect((await r.exited).code).toBe(130);
    expect(r.output).toMatch(/stopped watching/);
  });

  it('turns a burst of 50 writes into one run', async () => {
    const inputs: Record<string, string> = {};
    for (let i = 0; i < 50; i++) inputs[`data/f${i}.txt`] = `${i}`;
    p = project({ all: step(['--in', 'data/f0.txt', '--out', 'out/all.txt'], ['data/*.txt'], ['out/all.txt']) }, inputs);
    // A longer quiet time than the default: on a loaded 2-core CI machine the 50 events of one
    // burst can reach the process spread over more than 100 ms.
    r = p.start(['--watch', '--no-tests', '--debounce', '300']);
    await cycleAfter(r, 0);
    const burst: Record<string, string> = {};
    for (let i = 0; i < 50; i++) burst[`data/f${i}.txt`] = `${i} changed`;
    const second = await edit(r, burst);
    expect(second).toMatchObject({ n: 2, status: 'PASS', ran: ['all'] });
    expect(r.output).toMatch(/changed: data\/f\d+\.txt, data\/f\d+\.txt, data\/f\d+\.txt \(\+47 more\)/);
    const third = await edit(r, { 'sentinel.txt': 's1' });
    expect(third).toMatchObject({ n: 3, changed: ['sentinel.txt'] });
    expect(p.marks().filter((m) => m === 'all')).toHaveLength(2);
  });

  it('turns an editor\'s atomic save into one run with the default debounce', async () => {
    p = project({ a: step(['--in', 'a.txt', '--out', 'out/a.txt'], ['a.txt'], ['out/a.txt']) }, { 'a.txt': 'A' });
    r = p.start(['--watch', '--no-tests']);
    await cycleAfter(r, 0);
    // JetBrains/VS Code "safe write": a temp file renamed over the original.
    let from = r.output.length;
    p.write('a.txt.tmp', 'A2');
    fs.renameSync(p.path('a.txt.tmp'), p.path('a.txt'));
    expect(await cycleAfter(r, from)).toMatchObject({ n: 2, changed: ['a.txt'], ran: ['a'] });
    expect(p.read('out/a.txt')).toBe('A2');
    // Vim (backupcopy=no): the original renamed to a backup, the new file written, the backup deleted.
    from = r.output.length;
    fs.renameSync(p.path('a.txt'), p.path('a.txt~'));
    p.write('a.txt', 'A3');
    fs.rmSync(p.path('a.txt~'));
    expect(await cycleAfter(r, from)).toMatchObject({ n: 3, changed: ['a.txt'], ran: ['a'] });
    expect(p.read('out/a.txt')).toBe('A3');
    expect(await edit(r, { 'sentinel.txt': 's1' })).toMatchObject({ n: 4, changed: ['sentinel.txt'], ran: ['z'] });
  });

  it('picks up a new file that matches an input glob, and ignores one that does not', async () => {
    p = project({ csv: step(['--in', 'data/a.csv', '--out', 'out/csv.txt'], ['data/*.csv'], ['out/csv.txt']) }, { 'data/a.csv': '1' });
    r = p.start(['--watch', '--no-tests']);
    await cycleAfter(r, 0);
    const added = await edit(r, { 'data/b.csv': '2' });
    expect(added).toMatchObject({ n: 2, changed: ['data/b.csv'], ran: ['csv'] });
    expect(r.output).toMatch(/input added: data\/b\.csv/);
    // Same folder, not matched by the glob (nor in a subfolder the glob cannot reach): no cycle.
    const from = r.output.length;
    p.write('data/notes.txt', 'x');
    p.write('data/sub/c.csv', 'x');
    p.write('sentinel.txt', 's1');
    expect(await cycleAfter(r, from)).toMatchObject({ n: 3, changed: ['sentinel.txt'], ran: ['z'] });
  });

  it('queues exactly one follow-up run for changes made while a step runs', async () => {
    p = project(
      {
        hold: step(['--in', 'h.txt', '--started', 'ctl/started', '--wait-for', 'ctl/release', '--out', 'out/h.txt'], ['h.txt'], ['out/h.txt']),
        other: step(['--in', 'o.txt', '--out', 'out/o.txt'], ['o.txt'], ['out/o.txt']),
      },
      { 'h.txt': 'h0', 'o.txt': 'o0', 'ctl/release': '' },
    );
    r = p.start(['--watch', '--no-tests']);
    await cycleAfter(r, 0);
    p.remove('ctl/release');
    p.remove('ctl/started');
    const from = r.output.length;
    p.write('h.txt', 'h1');
    await waitForFile(p.path('ctl/started'));
    // Cycle 2 is holding: change the running step's input and another step's, several times.
    for (let i = 0; i < 5; i++) {
      p.write('o.txt', `o${i + 1}`);
      p.write('h.txt', `h${i + 2}`);
    }
    p.write('ctl/release', '');
    const second = await cycleAfter(r, from);
    expect(second).toMatchObject({ n: 2, changed: ['h.txt'], ran: ['hold'] });
    const third = await cycleAfter(r, r.output.indexOf('cycle 2:') + 'cycle 2:'.length);
    expect(third.n).toBe(3);
    expect(third.changed.sort()).toEqual(['h.txt', 'o.txt']);
    expect(third.ran.sort()).toEqual(['hold', 'other']);
    expect(p.read('out/h.txt')).toBe('h6');
    const fourth = await edit(r, { 'sentinel.txt': 's1' });
    expect(fourth).toMatchObject({ n: 4, changed: ['sentinel.txt'], ran: ['z'] });
  });

  it('pauses a step that keeps rewriting a file it reads without declaring it', async () => {
    // `feed` reads loop.txt and appends to it (an undeclared write): each run changes its own input.
    p = project({ feed: step(['--in', 'loop.txt', '--text', 'x', '--out', 'loop.txt', '--out', 'out/f.txt'], ['loop.txt'], ['out/f.txt']) }, { 'loop.txt': '' });
    r = p.start(['--watch', '--no-tests']);
    await r.waitFor(/paused: loop\.txt changed during each of the last 3 runs/);
    const cycles = [...r.output.matchAll(/cycle (\d+):/g)].map((m) => Number(m[1]));
    expect(cycles).toEqual([1, 2, 3, 4]);
    // Held, not dropped: the next edit runs again, with loop.txt among the changes.
    const next = await edit(r, { 'sentinel.txt': 's1' });
    expect(next.n).toBe(5);
    expect(next.changed.sort()).toEqual(['loop.txt', 'sentinel.txt']);
    expect(next.ran.sort()).toEqual(['feed', 'z']);
  });

  it('prints a broken Batchfile\'s error, keeps watching, and recovers when it is fixed', async () => {
    const good = { a: step(['--in', 'a.txt', '--out', 'out/a.txt'], ['a.txt'], ['out/a.txt']) };
    p = project(good, { 'a.txt': 'A' });
    r = p.start(['--watch', '--no-tests']);
    await cycleAfter(r, 0);
    const broken = await edit(r, { 'Batchfile.ts': 'export default defineBatch({ steps: { oops: { command: \n' });
    expect(broken).toMatchObject({ n: 2, status: 'ERROR', changed: ['Batchfile.ts'] });
    expect(r.output).toMatch(/error:.*Batchfile\.ts/s);
    // While broken, an input edit waits for the fix instead of starting a cycle.
    p.write('a.txt', 'A2');
    const fixed = await edit(r, {
      'Batchfile.ts': batchfile({ ...good, ...SENTINEL, d: step(['--in', 'a.txt', '--out', 'out/d.txt'], ['a.txt'], ['out/d.txt']) }),
    });
    expect(fixed.n).toBe(3);
    expect(fixed.status).toBe('PASS');
    expect(fixed.changed.sort()).toEqual(['Batchfile.ts', 'a.txt']);
    expect(fixed.ran.sort()).toEqual(['a', 'd']);
    // The new step's input is watched.
    const after = await edit(r, { 'a.txt': 'A3' });
    expect(after).toMatchObject({ n: 4, changed: ['a.txt'] });
    expect(after.ran.sort()).toEqual(['a', 'd']);
  });

  it('on Ctrl-C stops the running step, records the run as interrupted, releases the lock and exits 130', async () => {
    p = project({ hang: step(['--in', 'h.txt', '--started', 'ctl/pid', '--hang', '--out', 'out/h.txt'], ['h.txt'], ['out/h.txt']) }, { 'h.txt': 'h' });
    r = p.start(['--watch', '--no-tests']);
    const pid = await readPid(p.path('ctl/pid'));
    expect(isAlive(pid)).toBe(true);
    r.kill('SIGINT');
    const exit = await r.exited;
    expect(exit.code).toBe(130);
    expect(isAlive(pid)).toBe(false);
    expect(r.output).toMatch(/cycle 1: INTERRUPTED/);
    expect(p.read('logs/execution_logs.csv')).toMatch(/INTERRUPTED/);
    // The lock is free: a plain run works at once (the step is replaced by one that finishes).
    p.write('Batchfile.ts', batchfile({ hang: step(['--in', 'h.txt', '--out', 'out/h.txt'], ['h.txt'], ['out/h.txt']), ...SENTINEL }));
    const after = await p.run(['--no-tests']);
    expect(after.code).toBe(0);
  });
});
