// The no-op record (src/plan/noop-record.ts): a direct run whose every step its snapshot proved
// writes .cache/batchfile/noop.bin, and the next direct run proves all steps at once from it
// (with the stats the helper process, dist/stat-many, took while batch loaded; or its own
// stats when the helper is off). Each change below must send the run back to the step-by-step
// checks and rerun exactly the steps it affects; after each, the outputs equal a clean
// --force build's. Which way a run went is read from BATCH_TIMING's marks.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, projectsRemovedAfterEach, type TempProject } from '../rig.js';
import { expectCleanBuildEqual } from '../helpers.js';
import { openStore } from '../../../src/store/store.js';
import { decodeRecord, encodeRecord } from '../../../src/plan/noop-record.js';

const ENV = { BATCH_TIMING: '1', BATCH_RACY_WINDOW_MS: '0' };

const project = projectsRemovedAfterEach();

type How = 'helper' | 'stat' | 'none' | 'miss';

/** A run: its steps' actions, and how the no-op record served it ('miss': checked, not
 * proven; 'none': not looked at). */
async function run(p: TempProject, env: NodeJS.ProcessEnv = {}): Promise<{ actions: Record<string, string>; record: How }> {
  const r = await p.run([], { env: { ...ENV, ...env } });
  expect(r.code, r.stderr).toBe(0);
  return { actions: Object.fromEntries(r.steps.map((s) => [s.name, s.action])), record: how(r.stderr) };
}

function how(stderr: string): How {
  if (stderr.includes('no-op record (helper)')) return 'helper';
  if (stderr.includes('no-op record (stat)')) return 'stat';
  expect(stderr.includes('no-op record (miss)') !== stderr.includes('no-op record (off)'), stderr).toBe(true);
  // Looked at (a key was made) but it did not prove the steps.
  if (stderr.includes('no-op record (miss)')) return 'miss';
  return 'none';
}

const allUp = (names: string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, 'up-to-date']));

/** The files under out/ of `p` equal those of a copy of its sources built from nothing. */
function expectCleanEqual(p: TempProject, env: NodeJS.ProcessEnv = {}): Promise<void> {
  return expectCleanBuildEqual(p, { ...ENV, BATCH_CONFIG_CACHE: '0', ...env });
}

const BATCHFILE = `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  a: { command: 'cat in/a.txt > out/a.txt', inputs: ['in/a.txt'], outputs: ['out/a.txt'] },
  b: { command: 'cat in/b.txt out/a.txt > out/b.txt', inputs: ['in/b.txt', 'out/a.txt'], outputs: ['out/b.txt'] },
  c: { command: 'echo "$WORD" > out/c.txt', env: ['WORD'], outputs: ['out/c.txt'] },
} });
`;

/** Runs until the record proves every step with the helper's stats: a step whose files were
 * written in the same millisecond as they were hashed gets its snapshot one run later (the
 * racy rule, even with a window of 0), and the record is written by the first run whose every
 * step its snapshot proved. At most four runs. */
async function settle(p: TempProject, env: NodeJS.ProcessEnv): Promise<void> {
  const seen: How[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await run(p, env);
    seen.push(r.record);
    if (r.record === 'helper') {
      expect(r.actions).toEqual(allUp(Object.keys(r.actions)));
      expect(fs.existsSync(p.path('.cache/batchfile/noop.bin'))).toBe(true);
      return;
    }
  }
  throw new Error(`the record never proved the steps: ${seen.join(', ')}`);
}

/** A built project whose record proves its steps. */
async function recorded(): Promise<TempProject> {
  const p = project({ 'Batchfile.ts': BATCHFILE, 'in/a.txt': 'alpha\n', 'in/b.txt': 'beta\n', 'out/.keep': '' });
  expect((await run(p, { WORD: 'one' })).actions).toEqual({ a: 'ran', b: 'ran', c: 'ran' });
  await settle(p, { WORD: 'one' });
  return p;
}

describe('no-op record', () => {
  it('proves an unchanged project with the helper\'s stats or its own, and its outputs equal a clean build', async () => {
    const p = await recorded();
    expect(await run(p, { WORD: 'one', BATCH_STAT_HELPER: '0' })).toEqual({ actions: allUp(['a', 'b', 'c']), record: 'stat' });
    expect(await run(p, { WORD: 'one' })).toEqual({ actions: allUp(['a', 'b', 'c']), record: 'helper' });
    await expectCleanEqual(p, { WORD: 'one' });
  });

  it('an input edited with its mtime put back (size changed, or the same size) reruns its steps', async () => {
    const p = await recorded();
    const before = fs.statSync(p.path('in/a.txt'));
    p.write('in/a.txt', 'ALPHA, longer\n');
    fs.utimesSync(p.path('in/a.txt'), before.atime, before.mtime);
    expect(await run(p, { WORD: 'one' })).toEqual({ actions: { a: 'ran', b: 'ran', c: 'up-to-date' }, record: 'miss' });
    expect(p.read('out/b.txt')).toBe('beta\nALPHA, longer\n');
    // Record again, then the same size.
    await settle(p, { WORD: 'one' });
    const again = fs.statSync(p.path('in/b.txt'));
    p.write('in/b.txt', 'BETA\n');
    fs.utimesSync(p.path('in/b.txt'), again.atime, again.mtime);
    expect((await run(p, { WORD: 'one', BATCH_STAT_HELPER: '0' })).actions).toEqual({ a: 'up-to-date', b: 'ran', c: 'up-to-date' });
    expect(p.read('out/b.txt')).toBe('BETA\nALPHA, longer\n');
    await expectCleanEqual(p, { WORD: 'one' });
  });

  it('a deleted output reruns its step; a deleted input stops the run', async () => {
    const p = await recorded();
    p.remove('out/b.txt');
    // Rerun, or its outputs restored from the output cache: not up to date.
    expect((await run(p, { WORD: 'one' })).actions).toEqual({ a: 'up-to-date', b: expect.stringMatching(/^(ran|restored)$/), c: 'up-to-date' });
    expect(p.read('out/b.txt')).toBe('beta\nalpha\n');
    await settle(p, { WORD: 'one' });
    p.remove('in/b.txt');
    const r = await p.batch([], { env: { ...ENV, WORD: 'one' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"in/b.txt" does not exist');
    expect(how(r.stderr)).toBe('miss');
  });

  it('a Batchfile edit, an env value and another selection are not proven by the record', async () => {
    const p = await recorded();
    // An env variable a step lists.
    expect((await run(p, { WORD: 'two' })).actions).toEqual({ a: 'up-to-date', b: 'up-to-date', c: 'ran' });
    expect(p.read('out/c.txt')).toBe('two\n');
    await settle(p, { WORD: 'two' });
    // Another selection.
    const only = await p.run(['c'], { env: { ...ENV, WORD: 'two' } });
    expect(how(only.stderr)).toBe('miss');
    // The Batchfile.
    p.write('Batchfile.ts', BATCHFILE.replace('cat in/a.txt > out/a.txt', 'cat in/a.txt in/a.txt > out/a.txt'));
    expect((await run(p, { WORD: 'two' })).actions).toEqual({ a: 'ran', b: 'ran', c: 'up-to-date' });
    expect(p.read('out/b.txt')).toBe('beta\nalpha\nalpha\n');
    await expectCleanEqual(p, { WORD: 'two' });
  });

  it('a snapshot changed in the store since the record was written is not proven by it', async () => {
    const p = await recorded();
    // As another run would leave it: step a's snapshot taken again with another signature
    // (here an impossible one, so that its own check fails too and a full check follows).
    const store = openStore(p.path('.cache'));
    const snap = store.snap.get('a')!;
    await store.snap.put('a', { ...snap, sig: '0000000000000000' });
    await store.close();
    expect(await run(p, { WORD: 'one' })).toEqual({ actions: allUp(['a', 'b', 'c']), record: 'miss' });
    await settle(p, { WORD: 'one' });
  });

  it('a damaged record is ignored and written again', async () => {
    const p = await recorded();
    const file = p.path('.cache/batchfile/noop.bin');
    const good = fs.readFileSync(file);
    for (const bad of [good.subarray(0, good.length - 9), Buffer.from('garbage'), Buffer.alloc(0), Buffer.concat([good.subarray(0, 60), Buffer.from([good[60]! ^ 1]), good.subarray(61)])]) {
      fs.writeFileSync(file, bad);
      expect(await run(p, { WORD: 'one' })).toEqual({ actions: allUp(['a', 'b', 'c']), record: 'miss' });
      await settle(p, { WORD: 'one' });
    }
  });

  it('a forEach config is never proven by a record: a new match runs', async () => {
    const p = project({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';\nexport default defineBatch({ steps: {\n  each: { forEach: 'data/*.csv', command: 'cat {path} > out/{stem}.txt', inputs: ['{path}'], outputs: ['out/{stem}.txt'] },\n} });\n`,
      'data/x.csv': 'x\n',
      'out/.keep': '',
    });
    await run(p);
    await run(p);
    const second = await run(p);
    expect(second.record).toBe('none');
    expect(Object.values(second.actions)).toEqual(['up-to-date']);
    p.write('data/y.csv', 'y\n');
    const third = await run(p);
    expect(third.record).toBe('none');
    expect(Object.values(third.actions).sort()).toEqual(['ran', 'up-to-date']);
    expect(p.read('out/y.txt')).toBe('y\n');
    expect(fs.existsSync(p.path('.cache/batchfile/noop.bin'))).toBe(false);
    await expectCleanEqual(p);
  });
});

describe('the stat helper (dist/stat-many)', () => {
  const HELPER = path.join(REPO, 'dist', 'stat-many');
  /** The helper's answer for `record` in `root`: exit code and stdout. */
  const ask = (root: string, record: string): { code: number | null; out: Buffer } => {
    const r = spawnSync(HELPER, [root, record]);
    return { code: r.status, out: r.stdout };
  };
  const statsOf = (root: string, rels: string[]): Float64Array => {
    const nums = new Float64Array(rels.length * 5);
    rels.forEach((rel, i) => {
      const st = fs.statSync(path.join(root, rel), { throwIfNoEntry: false });
      if (st) nums.set([st.mode, st.size, st.mtimeMs, st.ctimeMs, st.ino], i * 5);
    });
    return nums;
  };

  it.runIf(process.platform === 'linux' && fs.existsSync(HELPER))('answers the record\'s checksum and 1 only when every stat matches, in 17 bytes', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-stat-many-'));
    try {
      // Paths of lengths that leave the numbers unaligned in the file, and one not there.
      const rels = ['a.txt', 'sub/bb.txt', 'gone.txt'];
      fs.mkdirSync(path.join(root, 'sub'));
      fs.writeFileSync(path.join(root, 'a.txt'), 'a');
      fs.writeFileSync(path.join(root, 'sub/bb.txt'), 'bb');
      const bytes = encodeRecord(rels, statsOf(root, rels), { format: 2, key: 'k', snaps: 's' });
      const record = path.join(root, 'noop.bin');
      fs.writeFileSync(record, bytes);
      const sum = decodeRecord(bytes)!.sum;
      const same = ask(root, record);
      expect(same.code).toBe(0);
      expect(same.out.length).toBe(17);
      expect(same.out.toString('latin1', 0, 16)).toBe(sum);
      expect(same.out[16]).toBe(1);
      // Any field of any path: the last one's content, with its times put back.
      const before = fs.statSync(path.join(root, 'sub/bb.txt'));
      fs.writeFileSync(path.join(root, 'sub/bb.txt'), 'BB');
      fs.utimesSync(path.join(root, 'sub/bb.txt'), before.atime, before.mtime);
      expect([...ask(root, record).out]).toEqual([...Buffer.from(sum, 'latin1'), 0]);
      fs.writeFileSync(record, encodeRecord(rels, statsOf(root, rels), { format: 2, key: 'k', snaps: 's' }));
      expect(ask(root, record).out[16]).toBe(1);
      // A path that appeared.
      fs.writeFileSync(path.join(root, 'gone.txt'), '');
      expect(ask(root, record).out[16]).toBe(0);
      // A record whose numbers are cut short: nothing written, exit 2.
      fs.writeFileSync(record, bytes.subarray(0, bytes.length - 60));
      expect(ask(root, record)).toEqual({ code: 2, out: Buffer.alloc(0) });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
