// Races: two batch processes started at the same moment (exactly one runs, the other exits 2
// naming it), also when both find a stale lock to take over; and an input edited while the
// step that reads it runs (the result is not recorded as matching the new bytes), including
// an edit that keeps size and mtime, and an edit that is undone before the step ends.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, TempProject, waitForFile } from '../rig.js';
import { batchfile, cleanCopy, cmd, readStore } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

interface Exit {
  pid: number;
  code: number | null;
  stderr: string;
}

/** Starts two `batch` processes back to back (both spawned before either can take the lock);
 * `onFirstExit` runs when the first of them ends. */
function twoAtOnce(q: TempProject, onFirstExit: () => void): Promise<Exit[]> {
  const start = (): Promise<Exit> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, '-C', q.dir], { env: { ...process.env, NO_COLOR: '1', CI: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ pid: child.pid!, code, stderr }));
    });
  const both = [start(), start()];
  void Promise.race(both).then(onFirstExit);
  return Promise.all(both);
}

const HOLD = batchfile(`
  hold: { command: ${cmd('--mark', 'marks.txt', '--wait-for', 'release', '--out', 'out/hold.txt')}, outputs: ['out/hold.txt'], cache: false },
`);

/** Exactly one ran (exit 0, one mark) and the other refused, naming the winner's pid. */
function exactlyOneRan(q: TempProject, exits: Exit[]): void {
  const winner = exits.find((e) => e.code === 0);
  const loser = exits.find((e) => e.code === 2);
  expect(exits.map((e) => e.code).sort(), exits.map((e) => e.stderr).join('\n')).toEqual([0, 2]);
  expect(loser!.stderr).toContain(`Another batch is running in this project: pid ${winner!.pid} `);
  expect(q.marks()).toEqual(['hold']);
}

describe('two batch processes at the same moment', () => {
  it('exactly one runs, three times over; the other exits 2 naming it', async () => {
    p = TempProject.create({ 'Batchfile.ts': HOLD });
    for (let trial = 0; trial < 3; trial++) {
      p.remove('marks.txt');
      p.remove('release');
      // The winner's step waits for `release`, which is written only once the loser is gone:
      // had both taken the lock, both would wait forever and the test would time out.
      const exits = await twoAtOnce(p, () => p!.write('release', ''));
      exactlyOneRan(p, exits);
      p.remove('out'); // the next trial's step has work to do (it is kept out of the output cache)
    }
  });

  it('both find a stale lock (its holder is dead): exactly one takes it over', async () => {
    p = TempProject.create({ 'Batchfile.ts': HOLD });
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = dead.pid!;
    await new Promise((r) => dead.on('close', r));
    fs.mkdirSync(p.path('.cache'), { recursive: true });
    p.write('.cache/lock', JSON.stringify({ pid: deadPid, host: os.hostname(), startedAt: Date.now() - 60_000, command: '' }));
    const exits = await twoAtOnce(p, () => p!.write('release', ''));
    exactlyOneRan(p, exits);
    expect(p.exists('.cache/lock')).toBe(false);
  });
});

/** Reads its input at once, says so, waits for `release`, then writes what it read. */
const READ_EARLY = `import fs from 'node:fs';
const [src, out] = process.argv.slice(2);
const text = fs.readFileSync(src, 'utf8');
fs.writeFileSync('read', '');
while (!fs.existsSync('release')) await new Promise((r) => setTimeout(r, 10));
fs.mkdirSync('out', { recursive: true });
fs.writeFileSync(out, '[' + text + ']');
`;

const READER = batchfile(`
  read: { command: 'node tools/read-early.mjs in.txt out/read.txt', inputs: ['in.txt'], outputs: ['out/read.txt'] },
  next: { command: ${cmd('--in', 'out/read.txt', '--text', '!', '--out', 'out/next.txt')}, inputs: ['out/read.txt'], outputs: ['out/next.txt'] },
`);

/** Runs batch; once the step has read its input, `edit` runs, then the step is released. */
async function runWithEditDuringStep(q: TempProject, edit: () => void): Promise<{ code: number | null; stderr: string; steps: { name: string; action: string; reason: string }[] }> {
  q.remove('read');
  q.remove('release');
  const run = q.start(['--json']);
  await waitForFile(q.path('read'));
  edit();
  q.write('release', '');
  const { code } = await run.exited;
  const json = JSON.parse(run.output.slice(run.output.indexOf('{\n'), run.output.lastIndexOf('}') + 1)) as { steps: { name: string; action: string; reason: string }[] };
  return { code, stderr: run.output, steps: json.steps };
}

/** The outputs of a clean build of q's sources as they are now. */
async function cleanBuild(q: TempProject): Promise<Record<string, string>> {
  const c = cleanCopy(q, ['out', 'read', 'release']);
  try {
    c.write('release', '');
    const r = await c.run();
    expect(r.code, r.stderr).toBe(0);
    return { read: c.read('out/read.txt'), next: c.read('out/next.txt') };
  } finally {
    c.cleanup();
  }
}

describe('an input edited while its step runs', () => {
  const cases: { name: string; edit: (q: TempProject) => void }[] = [
    { name: 'a plain edit', edit: (q) => q.write('in.txt', 'edited during the run') },
    {
      name: 'an edit that keeps the size and puts the mtime back',
      edit: (q) => {
        const st = fs.statSync(q.path('in.txt'));
        q.write('in.txt', 'B'.repeat(st.size));
        fs.utimesSync(q.path('in.txt'), st.atime, st.mtime);
      },
    },
  ];

  it.for(cases)('$name: not recorded; the next run reruns and equals a clean build', async (c) => {
    p = TempProject.create({ 'in.txt': 'original bytes', 'tools/read-early.mjs': READ_EARLY, 'Batchfile.ts': READER });
    const r = await runWithEditDuringStep(p, () => c.edit(p!));
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps[0]).toMatchObject({ name: 'read', action: 'ran', reason: 'no previous run recorded; inputs changed while running (not recorded)' });
    expect(r.stderr).toContain('step "read": in.txt changed while it ran; it will run again next time');
    expect(p.read('out/read.txt')).toBe('[original bytes]');
    expect((await readStore(p)).state.read).toBeUndefined();

    p.write('release', '');
    const next = await p.run();
    expect(next.steps.map((s) => `${s.name} ${s.action}`)).toEqual(['read ran', 'next ran']);
    const clean = await cleanBuild(p);
    expect({ read: p.read('out/read.txt'), next: p.read('out/next.txt') }).toEqual(clean);
    const noop = await p.run();
    expect(noop.steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date']);
  });

  it('an edit undone before the step ends (A → B, run, B → A while it runs): the B output is not taken for A', async () => {
    p = TempProject.create({ 'in.txt': 'AAAA', 'tools/read-early.mjs': READ_EARLY, 'Batchfile.ts': READER, release: '' });
    expect((await p.run()).code).toBe(0);
    expect(p.read('out/read.txt')).toBe('[AAAA]');
    p.write('in.txt', 'BBBB');
    const r = await runWithEditDuringStep(p, () => p!.write('in.txt', 'AAAA'));
    expect(r.steps[0]?.reason).toBe('input changed: in.txt; inputs changed while running (not recorded)');
    expect(p.read('out/read.txt')).toBe('[BBBB]');
    // The recorded state is still A's, whose output is not what is on disk now: it reruns.
    p.write('release', '');
    const next = await p.run();
    expect(next.steps[0]).toMatchObject({ action: expect.stringMatching(/^(ran|restored)$/), reason: expect.stringContaining('output changed: out/read.txt') });
    expect(p.read('out/read.txt')).toBe('[AAAA]');
    expect({ read: p.read('out/read.txt'), next: p.read('out/next.txt') }).toEqual(await cleanBuild(p));
  });
});
