// Watch mode keeps one StatCache for the whole session and trusts file events to say what
// changed. End to end, on a real `batch --watch`: an edit, a deletion and re-creation, a
// renamed folder under an input glob, a folder input removed and re-created — each reruns
// exactly the affected step with the right output, and the final outputs equal a clean
// `batch --force` of a copy. Every wait is for the process's "cycle N:" lines, bounded.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fake, TempProject, type Running } from '../rig.js';

let p: TempProject | undefined;
let copy: TempProject | undefined;
let r: Running | undefined;
afterEach(async () => {
  if (r && r.child.exitCode === null && r.child.signalCode === null) {
    r.kill('SIGKILL');
    await r.exited;
  }
  r = undefined;
  p?.cleanup();
  copy?.cleanup();
  p = copy = undefined;
});

interface Cycle {
  n: number;
  status: string;
  changed: string[];
  ran: string[];
}

const CYCLE_RE = /cycle (\d+): (\w+) in [^|]+\| changed: ([^|]*?) \| (?:ran: ([^|]*?) \| failed: ([^|]*?) \||([^\n]*))/;
const names = (s: string | undefined): string[] =>
  !s || s === 'none' ? [] : s.split(', ').map((x) => x.replace(/ \((restored|\+\d+ more)\)$/, '').trim());

/** Reads cycle lines after output offset `from` until one satisfies `done`; returns them all. */
async function cyclesUntil(run: Running, from: number, done: (c: Cycle) => boolean): Promise<{ cycles: Cycle[]; end: number }> {
  const cycles: Cycle[] = [];
  let at = from;
  for (;;) {
    const m = await run.waitFor(CYCLE_RE, 30_000, at);
    at += m.index! + m[0].length;
    const c = { n: Number(m[1]), status: m[2]!, changed: names(m[3]), ran: names(m[4]) };
    cycles.push(c);
    if (done(c)) return { cycles, end: at };
  }
}

let sentinel = 0;
/** Does `action`, waits for the cycle it causes (`done`), then for a sentinel edit's cycle so
 * that trailing events (a folder's unlinks come ~100 ms late) have had their cycle too. Returns
 * the steps run in between (the sentinel's own step `z` left out) and the statuses seen. */
async function step(run: Running, action: () => void, done: (c: Cycle) => boolean): Promise<{ ran: string[]; statuses: string[] }> {
  const from = run.output.length;
  action();
  const first = await cyclesUntil(run, from, done);
  p!.write('sentinel.txt', `s${++sentinel}`);
  const rest = await cyclesUntil(run, first.end, (c) => c.changed.includes('sentinel.txt'));
  const all = [...first.cycles, ...rest.cycles];
  return { ran: [...new Set(all.flatMap((c) => c.ran))].filter((s) => s !== 'z').sort(), statuses: all.map((c) => c.status) };
}

const LIST = `import fs from 'node:fs';
// Names (last two path parts) and contents of every input file: the output shows which files
// the engine resolved and what it read.
export default async (ctx: { inputs: string[]; outputs: string[] }) => {
  const lines = ctx.inputs.map((f) => f.split('/').slice(-2).join('/') + '=' + fs.readFileSync(f, 'utf8'));
  fs.mkdirSync(ctx.outputs[0]!.replace(/\\/[^/]*$/, ''), { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, lines.join('\\n'));
};
`;

const BATCHFILE = `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  list: { run: 'steps/list.ts', inputs: ['data/**/*.csv'], outputs: ['out/list.txt'] },
  dir: { run: 'steps/list.ts', inputs: ['lib'], outputs: ['out/lib.txt'] },
  lit: { command: ${JSON.stringify(fake('--in', 'a.txt', '--out', 'out/a.txt'))}, inputs: ['a.txt'], outputs: ['out/a.txt'] },
  z: { command: ${JSON.stringify(fake('--in', 'sentinel.txt', '--out', 'out/z.txt'))}, inputs: ['sentinel.txt'], outputs: ['out/z.txt'] },
}});
`;

const ranStep = (name: string) => (c: Cycle) => c.ran.includes(name);

describe('batch --watch with file knowledge kept across runs', () => {
  it('reruns exactly the affected step after edits, deletions, re-creations and folder renames, with the outputs of a clean build', async () => {
    p = TempProject.create({
      'Batchfile.ts': BATCHFILE,
      'steps/list.ts': LIST,
      'sentinel.txt': 's0',
      'a.txt': 'A',
      'data/a.csv': 'a',
      'data/x/b.csv': 'b',
      'data/x/c.csv': 'c',
      'lib/m.txt': 'm',
    });
    r = p.start(['--watch', '--no-tests']);
    const first = await cyclesUntil(r, 0, () => true);
    expect(first.cycles[0]).toMatchObject({ n: 1, status: 'PASS' });
    expect(first.cycles[0]!.ran.sort()).toEqual(['dir', 'list', 'lit', 'z']);

    // A plain edit.
    expect((await step(r, () => p!.write('a.txt', 'A2'), ranStep('lit'))).ran).toEqual(['lit']);
    expect(p.read('out/a.txt')).toBe('A2');

    // Deleted, then re-created with new content: the new bytes are read, not the ones known
    // from before the deletion (the output cache holds the old result and would restore it).
    expect((await step(r, () => p!.remove('data/x/b.csv'), ranStep('list'))).ran).toEqual(['list']);
    expect(p.read('out/list.txt')).toBe('data/a.csv=a\nx/c.csv=c');
    expect((await step(r, () => p!.write('data/x/b.csv', 'b2'), ranStep('list'))).ran).toEqual(['list']);
    expect(p.read('out/list.txt')).toBe('data/a.csv=a\nx/b.csv=b2\nx/c.csv=c');

    // A folder under the glob renamed, then a file in it edited under its new name.
    expect((await step(r, () => fs.renameSync(p!.path('data/x'), p!.path('data/y')), ranStep('list'))).ran).toEqual(['list']);
    expect(p.read('out/list.txt')).toBe('data/a.csv=a\ny/b.csv=b2\ny/c.csv=c');
    expect((await step(r, () => p!.write('data/y/c.csv', 'c2'), ranStep('list'))).ran).toEqual(['list']);
    expect(p.read('out/list.txt')).toBe('data/a.csv=a\ny/b.csv=b2\ny/c.csv=c2');

    // A folder input removed: the run stops as a plain `batch` would (it does not exist and no
    // step writes it); re-created with other content, its step reruns.
    const gone = await step(r, () => p!.remove('lib'), (c) => c.status === 'ERROR');
    expect(gone.ran).toEqual([]);
    expect(r.output).toMatch(/"lib" does not exist and no step writes it/);
    expect((await step(r, () => p!.write('lib/m.txt', 'm2'), ranStep('dir'))).ran).toEqual(['dir']);
    expect(p.read('out/lib.txt')).toBe('lib/m.txt=m2');

    // The same sources built from scratch give the same outputs.
    copy = TempProject.create();
    fs.cpSync(p.dir, copy.dir, { recursive: true, filter: (src) => !/^(\.cache|logs|out|marks\.txt)$/.test(path.relative(p!.dir, src).split(path.sep)[0]!) });
    const clean = await copy.run(['--force', '--no-tests']);
    expect(clean.code).toBe(0);
    for (const f of ['out/list.txt', 'out/lib.txt', 'out/a.txt', 'out/z.txt']) expect(p.read(f), f).toBe(copy.read(f));
  }, 240_000);
});
