// File-system faults: a full disk (a real one: a tiny tmpfs, where `mount` works; and
// /dev/full for the CSV log), and logs/ or .cache/ that cannot be written. Tests run as root,
// where chmod stops nothing, so "unwritable" is made by putting a file where a folder must be.
// Each gives a clear error (exit 3) or a warning, never a crash or a stack trace, and the
// records of earlier runs stay intact.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { STACK, batchfile, cmd, csvRows, readStore } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

function isFile(abs: string): boolean {
  try {
    return fs.statSync(abs).isFile();
  } catch {
    return false;
  }
}

/** Node's own crash footer: an uncaught exception or unhandled rejection. */
const CRASH = /^Node\.js v\d+/m;

const SIMPLE = batchfile(`
  copy: { command: ${cmd('--in', 'in.txt', '--out', 'out/copy.txt', '--mark', 'marks.txt')}, inputs: ['in.txt'], outputs: ['out/copy.txt'] },
  up: { run: 'steps/up.ts', inputs: ['out/copy.txt'], outputs: ['out/up.txt'] },
`);
const UP = `import fs from 'node:fs';
export default async (ctx: { inputs: string[]; outputs: string[] }) => {
  fs.writeFileSync(ctx.outputs[0]!, fs.readFileSync(ctx.inputs[0]!, 'utf8').toUpperCase());
};
`;

/** A project that ran once, with an edit pending so the next run has work to do. */
async function builtOnce(): Promise<{ p: TempProject; runs: number }> {
  const q = TempProject.create({ 'in.txt': 'one', 'steps/up.ts': UP, 'Batchfile.ts': SIMPLE });
  const r = await q.run();
  expect(r.code, r.stderr).toBe(0);
  q.write('in.txt', 'two');
  return { p: q, runs: 1 };
}

interface Blocker {
  name: string;
  /** Puts something in the way; `rel` is made a file where a folder must be, or the like. */
  block: (q: TempProject) => void;
  error: RegExp;
}

const BLOCKERS: Blocker[] = [
  {
    name: 'logs/ is a file',
    block: (q) => (q.remove('logs'), q.write('logs', 'not a folder')),
    error: /Cannot write the run logs under logs: .*(EEXIST|ENOTDIR).*\. It must be a writable folder\./,
  },
  {
    name: 'logs/runs is a file',
    block: (q) => (q.remove('logs/runs'), q.write('logs/runs', 'not a folder')),
    error: /Cannot write the run logs under logs: .*EEXIST/,
  },
  {
    name: 'logs/execution_logs.csv is a folder',
    block: (q) => (q.remove('logs/execution_logs.csv'), fs.mkdirSync(q.path('logs/execution_logs.csv'))),
    error: /Cannot write the run logs under logs: EISDIR/,
  },
  {
    name: '.cache/modules is a file (and a run step must be recompiled)',
    block: (q) => (q.remove('.cache/modules'), q.write('.cache/modules', 'x'), q.write('steps/up.ts', `${UP}// edited\n`)),
    error: /Cannot write the compiled module of step "up" to \.cache\/modules\/.*EEXIST/,
  },
  {
    name: '.cache/batchfile is a file (and the Batchfile changed)',
    block: (q) => (q.remove('.cache/batchfile'), q.write('.cache/batchfile', 'x'), q.write('Batchfile.ts', `${SIMPLE}// edited\n`)),
    error: /Cannot write the compiled Batchfile under \.cache: .*EEXIST/,
  },
];

describe('unwritable logs/ and .cache/', () => {
  it.for(BLOCKERS)('$name: exit 3 with the path and the cause, nothing run, earlier records intact', async (b) => {
    const built = await builtOnce();
    p = built.p;
    const before = await readStore(p);
    const csvBefore = csvRows(p);
    b.block(p);
    const r = await p.batch();
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(b.error);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(p.marks()).toEqual(['copy']);
    expect(p.read('out/copy.txt')).toBe('one');
    const after = await readStore(p);
    expect(after.runs).toEqual(before.runs);
    expect(after.state).toEqual(before.state);
    // Where the CSV survived the blocking, no row was added to it.
    if (isFile(p.path('logs/execution_logs.csv'))) expect(csvRows(p)).toEqual(csvBefore);
  });

  it('.cache is a file: exit 3 naming it; nothing run', async () => {
    p = TempProject.create({ 'in.txt': 'one', 'steps/up.ts': UP, 'Batchfile.ts': SIMPLE, '.cache': 'not a folder' });
    const r = await p.batch();
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/Cannot create \.cache: EEXIST/);
    expect(r.stderr).not.toMatch(STACK);
    expect(p.marks()).toEqual([]);
  });

  it('.cache/outputs is a file: the output cache is skipped with a warning; the run itself passes', async () => {
    const built = await builtOnce();
    p = built.p;
    p.remove('.cache/outputs');
    p.write('.cache/outputs', 'x');
    // Its blob goes under .cache/outputs whatever its size (a file, or the LMDB environment
    // of the small ones there); over 256 KiB, a file.
    const big = 'two'.padEnd(300_000, '.');
    p.write('in.txt', big);
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: output cache: step "copy": outputs not stored \(ENOTDIR/);
    expect(p.read('out/up.txt')).toBe(big.toUpperCase());
  });
});

describe('ENOSPC without a mount: the CSV log on /dev/full', () => {
  it('the CSV row cannot be written: a warning naming the file; the run and its LMDB records are complete', async () => {
    const built = await builtOnce();
    p = built.p;
    p.remove('logs/execution_logs.csv');
    fs.symlinkSync('/dev/full', p.path('logs/execution_logs.csv'));
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: could not append to .*execution_logs\.csv: ENOSPC: no space left on device/);
    const store = await readStore(p);
    expect(store.runs.map((x) => x.status)).toEqual(['PASS', 'PASS']);
    expect(p.read('out/up.txt')).toBe('TWO');
  });
});

// A real full disk: a 3 MB tmpfs. Needs mount (root, CAP_SYS_ADMIN): on a machine without it
// these cases are skipped and the /dev/full case above is the ENOSPC test that remains.
const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-full-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  // no mount here
}
afterAll(() => {
  if (mounted) execFileSync('umount', [mnt]);
  fs.rmSync(mnt, { recursive: true, force: true });
});

const FILLER = batchfile(`
  a: { command: 'cat in.txt > out/a.txt', inputs: ['in.txt'], outputs: ['out/a.txt'] },
  filler: { command: 'cat out/a.txt > out/f.txt && if [ -f fill-once ]; then rm fill-once; dd if=/dev/zero of=junk.bin bs=1k 2>/dev/null; fi; true', inputs: ['out/a.txt'], outputs: ['out/f.txt'] },
  c: { command: 'cat out/f.txt > out/c.txt && echo copied', inputs: ['out/f.txt'], outputs: ['out/c.txt'] },
`);

/** A project inside the tmpfs (TempProject's helpers work on any folder). */
function onTmpfs(name: string, files: Record<string, string>): TempProject {
  const dir = path.join(mnt, name);
  fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
  for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
  return Object.assign(Object.create(TempProject.prototype) as TempProject, { dir });
}

describe.skipIf(!mounted)('a full disk (tmpfs)', () => {
  afterEach(() => {
    for (const e of fs.readdirSync(mnt)) fs.rmSync(path.join(mnt, e), { recursive: true, force: true });
  });

  it('the disk fills up during a run: a clear error, no crash; after freeing space the next run converges', async () => {
    const q = onTmpfs('mid', { 'in.txt': 'one\n', 'Batchfile.ts': FILLER });
    const first = await q.run();
    expect(first.code, first.stderr).toBe(0);

    q.write('in.txt', 'two\n');
    q.write('fill-once', '');
    const full = await q.batch();
    const said = full.stdout + full.stderr;
    expect(full.signal, said).toBeNull();
    // Step c cannot create its log when it prints (FAIL, exit 1) or the records cannot be
    // committed (exit 3).
    expect([1, 3], said).toContain(full.code);
    expect(said).toMatch(/no space left on device/i);
    expect(said).not.toMatch(/internal error/);
    expect(said).not.toMatch(CRASH);

    q.remove('junk.bin');
    const store = await readStore(q);
    expect(store.runs[0]).toMatchObject({ id: first.runId, status: 'PASS' });
    const next = await q.run();
    expect(next.code, next.stderr).toBe(0);
    expect([q.read('out/a.txt'), q.read('out/f.txt'), q.read('out/c.txt')]).toEqual(['two\n', 'two\n', 'two\n']);
    const noop = await q.run();
    expect(noop.steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date', 'up-to-date']);
  });

  it('the disk is full before a run: exit 3 at the lock, no empty lock left behind; after freeing space the run works at once', async () => {
    const q = onTmpfs('before', { 'in.txt': 'one\n', 'Batchfile.ts': FILLER });
    expect((await q.run()).code).toBe(0);
    q.write('in.txt', 'two\n');
    execFileSync('sh', ['-c', `dd if=/dev/zero of=${path.join(q.dir, 'junk.bin')} bs=1k 2>/dev/null; true`]);
    const full = await q.batch();
    expect(full.code, full.stderr).toBe(3);
    expect(full.stderr).toMatch(/Cannot create the lock \.cache\/lock: ENOSPC: no space left on device/);
    expect(full.stderr).not.toMatch(STACK);
    expect(q.exists('.cache/lock')).toBe(false);
    q.remove('junk.bin');
    const next = await q.run();
    expect(next.code, next.stderr).toBe(0);
    expect(q.read('out/c.txt')).toBe('two\n');
  });
});
