// Non-triggers (touch, an unrelated edit), early cutoff, and the racy-timestamp guard of the
// stat cache.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, TempProject } from '../rig.js';
import { batchfile, cmd, readStore, table } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

describe('non-triggers and early cutoff', () => {
  it('touch and unrelated edits rerun nothing; an upstream rerun with identical bytes leaves dependents up to date', async () => {
    p = TempProject.create({
      'in.txt': 'hello',
      'other.txt': 'x',
      // `norm` ignores the content of in.txt (its output is a constant): the cutoff case.
      'Batchfile.ts': batchfile(`
  norm: { command: ${cmd('--text', 'constant', '--out', 'build/norm.txt', '--mark', 'marks.txt')}, inputs: ['in.txt'], outputs: ['build/norm.txt'] },
  copy: { command: ${cmd('--in', 'in.txt', '--out', 'build/copy.txt', '--mark', 'marks.txt')}, inputs: ['in.txt'], outputs: ['build/copy.txt'] },
  after: { command: ${cmd('--in', 'build/norm.txt', '--in', 'build/copy.txt', '--out', 'build/after.txt', '--mark', 'marks.txt')}, inputs: ['build/norm.txt', 'build/copy.txt'], outputs: ['build/after.txt'] },
  cut: { command: ${cmd('--in', 'build/norm.txt', '--out', 'build/cut.txt', '--mark', 'marks.txt')}, inputs: ['build/norm.txt'], outputs: ['build/cut.txt'] },
  fromDir: { command: ${cmd('--text', 'd', '--out', 'build/dir.txt', '--mark', 'marks.txt')}, inputs: ['src'], outputs: ['build/dir.txt'] },
`),
      'src/a.txt': 'a',
      'src/sub/b.txt': 'b',
    });
    const first = await p.run();
    expect(first.code, first.stderr).toBe(0);
    expect(p.marks()).toHaveLength(5);

    // touch: new mtime, same bytes — of inputs, an intermediate output, and the Batchfile.
    p.touch('in.txt');
    p.touch('build/norm.txt');
    p.touch('src/sub/b.txt');
    p.touch('Batchfile.ts');
    p.write('other.txt', 'edited');
    const touched = await p.run();
    expect(touched.steps.filter((s) => s.action !== 'up-to-date')).toEqual([]);
    expect(p.marks()).toHaveLength(5);

    // An input edit reruns norm and copy; norm writes the same bytes, so `cut` (reading only
    // norm) stays up to date, while `after` (also reading copy) reruns for copy alone.
    p.write('in.txt', 'hello, again');
    const edited = await p.run();
    expect(table(edited.steps)).toEqual({
      norm: 'PASS ran',
      copy: 'PASS ran',
      after: 'PASS ran',
      cut: 'PASS up-to-date',
      fromDir: 'PASS up-to-date',
    });
    expect(edited.steps.find((s) => s.name === 'after')?.reason).toBe('input changed: build/copy.txt');
    expect(p.marks().slice(5).sort()).toEqual(['after', 'copy', 'norm']);

    // A folder input: a new file inside it is a trigger, down to the file.
    p.write('src/sub/c.txt', 'c');
    const dir = await p.run();
    expect(dir.steps.filter((s) => s.action === 'ran').map((s) => [s.name, s.reason])).toEqual([['fromDir', 'input added: src/sub/c.txt']]);
  });

  it('racy timestamp: a same-size rewrite that keeps the mtime is still detected', async () => {
    p = TempProject.create({
      'in.txt': 'aaaa',
      'Batchfile.ts': batchfile(`
  copy: { command: ${cmd('--in', 'in.txt', '--out', 'build/copy.txt')}, inputs: ['in.txt'], outputs: ['build/copy.txt'] },
`),
    });
    const abs = p.path('in.txt');
    // The file's mtime as the first run hashes it; the rewrite below puts it back.
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(abs, past, past);
    const { mtime, mtimeMs } = fs.statSync(abs);
    expect((await p.run()).code).toBe(0);
    expect((await readStore(p, ['in.txt'])).stat['in.txt']).toMatchObject({ size: 4, mtimeMs });

    fs.writeFileSync(abs, 'bbbb');
    fs.utimesSync(abs, mtime, mtime);
    expect(fs.statSync(abs).mtimeMs).toBe(mtimeMs);
    const r = await p.run();
    expect(r.steps[0]).toMatchObject({ action: 'ran', reason: 'input changed: in.txt' });
    expect(p.read('build/copy.txt')).toBe('bbbb');
  });
});

/** A file last changed (content and inode: mtime and ctime) long before any test runs; a
 * symbolic link to it in a project stats as it (links are followed). A file a test writes
 * has a fresh ctime whatever mtime it is given, so it is within the racy window. */
const OLD_FILE = path.join(REPO, 'tests/engine/fixtures/fake-step.mjs');

function linkOld(project: TempProject, rel: string): string {
  const st = fs.statSync(OLD_FILE);
  expect(Date.now() - Math.max(st.mtimeMs, st.ctimeMs), 'the fixture changed less than 2 s ago').toBeGreaterThan(2000);
  fs.symlinkSync(OLD_FILE, project.path(rel));
  return fs.readFileSync(OLD_FILE, 'utf8');
}

/** Three files in a temp project with a real store: old.txt (a link to a file changed long
 * ago), fresh.txt (written now) and copied.txt (written now, its mtime set back a minute, as
 * `cp -a` or an unpacked archive leave a file). */
async function threeFiles() {
  const { openStore } = await import('../../../src/store/store.js');
  const { StatCache } = await import('../../../src/fingerprint/stat-cache.js');
  const { initHash, hashString } = await import('../../../src/fingerprint/hash.js');
  await initHash();
  const project = (p = TempProject.create({ 'fresh.txt': 'fresh bytes', 'copied.txt': 'copied bytes' }));
  const oldText = linkOld(project, 'old.txt');
  const back = new Date(Date.now() - 60_000);
  fs.utimesSync(project.path('copied.txt'), back, back);
  return { project, oldText, copiedAt: back, store: openStore(project.path('.cache')), StatCache, hashString };
}

describe('stat cache (src, against a real LMDB store)', () => {
  it('trusts a stat match only when the hash was taken well after the last change (mtime and ctime)', async () => {
    const { project, oldText, store, StatCache, hashString } = await threeFiles();
    try {
      const first = new StatCache(project.dir, store);
      const oldHash = first.get('old.txt')?.hash;
      expect(oldHash).toBe(hashString(oldText));
      first.get('fresh.txt');
      first.get('copied.txt');
      expect(first.filesHashed).toBe(3);
      // Hashes are written in batches (one transaction); a run flushes them at its end.
      expect(store.stat.get('old.txt')).toBeUndefined();
      first.flush();
      await store.root.flushed;
      expect(store.stat.get('old.txt')?.hash).toBe(oldHash);

      // A new run: the old file is not read again; the fresh one (hashed within the racy
      // window of its mtime) is, and so is the copied one: its mtime is old, but its content
      // was written within the window before the hash (its ctime), and another write in the
      // same timestamp tick would have left its whole stat as it is.
      const second = new StatCache(project.dir, store);
      expect(second.get('old.txt')?.hash).toBe(oldHash);
      second.get('fresh.txt');
      second.get('copied.txt');
      expect(second.filesHashed).toBe(2);

      // The racy case, forged exactly: the store says "same size, mtime, ctime and inode" but
      // holds the hash of other bytes, taken 1 ms after the last change (same tick as a rewrite).
      const st = fs.statSync(project.path('old.txt'));
      const last = Math.max(st.mtimeMs, st.ctimeMs);
      const forged = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, hash: hashString('other bytes'), hashedAt: last + 1 };
      await store.stat.put('old.txt', forged);
      expect(new StatCache(project.dir, store).get('old.txt')?.hash).toBe(oldHash);
      // Control: the same entry hashed long after the last change is trusted (no read), which
      // is what makes the check above the racy guard and not a reread of everything.
      await store.stat.put('old.txt', { ...forged, hashedAt: last + 60_000 });
      expect(new StatCache(project.dir, store).get('old.txt')?.hash).toBe(forged.hash);
    } finally {
      await store.close();
    }
  });

  it('a file looked at again in the same run (forgotten, as a step\'s inputs are after it ran) is read again only if it changed or is racy', async () => {
    const { project, oldText, copiedAt, store, StatCache, hashString } = await threeFiles();
    try {
      const stats = new StatCache(project.dir, store);
      for (const f of ['old.txt', 'fresh.txt', 'copied.txt']) stats.get(f);
      expect(stats.filesHashed).toBe(3);
      // Nothing flushed to the store yet (a first build's state until 2,000 files).
      expect(store.stat.get('old.txt')).toBeUndefined();
      for (const f of ['old.txt', 'fresh.txt', 'copied.txt']) stats.forget(f);
      expect(stats.get('old.txt')?.hash).toBe(hashString(oldText));
      // Unchanged and hashed long after its last change: not read again. The fresh file and
      // the copied one (old mtime, new ctime) are within the racy window: read again.
      stats.get('fresh.txt');
      stats.get('copied.txt');
      expect(stats.filesHashed).toBe(5);
      // Changed (same size, same old mtime restored: only ctime tells): read again, new hash.
      fs.writeFileSync(project.path('copied.txt'), 'COPIED BYTES');
      fs.utimesSync(project.path('copied.txt'), copiedAt, copiedAt);
      stats.forget('copied.txt');
      expect(stats.get('copied.txt')?.hash).toBe(hashString('COPIED BYTES'));
      expect(stats.filesHashed).toBe(6);
      // The old file replaced: read again.
      fs.rmSync(project.path('old.txt'));
      project.write('old.txt', 'new bytes');
      stats.forget('old.txt');
      expect(stats.get('old.txt')?.hash).toBe(hashString('new bytes'));
      expect(stats.filesHashed).toBe(7);
    } finally {
      await store.close();
    }
  });
});
