// A damaged cache never restores wrong data: corrupt or missing blobs are detected and the
// step runs; a kill -9 during a cache write leaves nothing that restores wrong bytes.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { actions, addInlineBlob, batchfile, blobFiles, blobOf, blobs, cmd, entries, inlineBlobs, setBlob, toFileBlobs } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

const ONE_STEP = batchfile(`
  a: { command: ${cmd('--in', 'in.txt', '--out', 'out/a.txt', '--mark', 'marks.txt')}, inputs: ['in.txt'], outputs: ['out/'] },
`);

/** Runs with in.txt = "one", then "two", leaving one cache entry for each. */
async function twoEntries(project: TempProject): Promise<void> {
  project.write('in.txt', 'one');
  expect((await project.run()).code).toBe(0);
  project.write('in.txt', 'two');
  expect((await project.run()).code).toBe(0);
  expect(entries(project).size).toBe(2);
}

/** Small blobs are kept in the store; `file`: as a store of an earlier version left them,
 * one file each (moved there by the test). */
const LAYOUTS = ['inline', 'file'] as const;

function useLayout(project: TempProject, layout: (typeof LAYOUTS)[number]): void {
  if (layout === 'file') {
    expect(toFileBlobs(project)).toBe(2);
    expect(inlineBlobs(project).size).toBe(0);
  } else {
    expect(inlineBlobs(project).size).toBe(2);
    expect(blobFiles(project).size).toBe(0);
  }
}

describe('output cache: damage', () => {
  it.each(LAYOUTS)('a corrupt %s blob (same size, other bytes) is detected: warning, entry dropped, the step reruns and stores again', async (layout) => {
    p = TempProject.create({ 'Batchfile.ts': ONE_STEP });
    await twoEntries(p);
    useLayout(p, layout);
    setBlob(p, blobOf(p, 'one'), 'ONE');
    p.write('in.txt', 'one');
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(actions(r.steps)).toEqual({ a: 'ran' });
    expect(r.stderr).toMatch(/output cache: step "a": restored out\/a\.txt does not match its recorded hash.*dropped, the step runs/);
    expect(p.read('out/a.txt')).toBe('one');
    expect(p.marks()).toHaveLength(3);
    // The rerun stored a sound copy: the next revert restores it.
    p.write('in.txt', 'two');
    expect(actions((await p.run()).steps)).toEqual({ a: 'restored' });
    p.write('in.txt', 'one');
    const again = await p.run();
    expect(actions(again.steps)).toEqual({ a: 'restored' });
    expect(p.read('out/a.txt')).toBe('one');
  });

  it.each(LAYOUTS)('a missing or truncated %s blob leaves the outputs alone and the step runs', async (layout) => {
    p = TempProject.create({ 'Batchfile.ts': ONE_STEP });
    await twoEntries(p);
    useLayout(p, layout);
    setBlob(p, blobOf(p, 'one'), undefined);
    p.write('in.txt', 'one');
    const missing = await p.run();
    expect(actions(missing.steps)).toEqual({ a: 'ran' });
    expect(missing.stderr).toMatch(/cached copy of out\/a\.txt is missing/);
    expect(p.read('out/a.txt')).toBe('one');

    setBlob(p, blobOf(p, 'two'), 't');
    p.write('in.txt', 'two');
    const truncated = await p.run();
    expect(actions(truncated.steps)).toEqual({ a: 'ran' });
    expect(truncated.stderr).toMatch(/cached copy of out\/a\.txt is corrupt \(1 bytes, expected 3\)/);
    expect(p.read('out/a.txt')).toBe('two');
    expect(p.marks()).toHaveLength(4);
  });

  it('leftovers of a killed cache write (a temp file, a blob without an entry) never restore and are cleared', async () => {
    p = TempProject.create({ 'Batchfile.ts': ONE_STEP });
    await twoEntries(p);
    // What a kill between the copy and the rename, or between the rename and the index
    // write, leaves: a partial temp file, and a whole blob that no entry names; for a small
    // output, a blob committed to the store in an earlier transaction than its entry.
    p.write('.cache/outputs/tmp/0123456789abcdef.1.x', 'partial');
    p.write('.cache/outputs/blobs/fe/fedcba9876543210', 'orphan');
    addInlineBlob(p, 'ab0123456789abcd', 'inline orphan');
    p.write('in.txt', 'three');
    const r = await p.run();
    expect(actions(r.steps)).toEqual({ a: 'ran' });
    expect(fs.readdirSync(p.path('.cache/outputs/tmp'))).toEqual([]);
    const status = JSON.parse((await p.batch(['cache', 'status', '--json'])).stdout) as { orphans: unknown; blobs: number };
    expect(status).toMatchObject({ orphans: { files: 2, bytes: 6 + 13 }, blobs: 3 });
    const prune = await p.batch(['cache', 'prune', '--json']);
    expect(prune.code, prune.stderr).toBe(0);
    const report = JSON.parse(prune.stdout) as { orphans: { files: number; bytes: number }; entries: number };
    expect(report.orphans).toEqual({ files: 2, bytes: 6 + 13 });
    expect(report.entries).toBe(3);
    expect(blobs(p).has('fedcba9876543210')).toBe(false);
    expect(blobs(p).has('ab0123456789abcd')).toBe(false);
    expect(blobs(p).size).toBe(3);
  });

  it('kill -9 while a large output is being stored: the next runs give the right bytes', async () => {
    const big = 'abcdefghij'.repeat(2 * 1024 * 1024); // 20 MiB; each output is 40 MiB
    p = TempProject.create({
      'big.txt': big,
      'Batchfile.ts': batchfile(`
  a: { command: ${cmd('--in', 'big.txt', '--out', 'out/a.bin', '--in', 'big.txt', '--out', 'out/b.bin', '--mark', 'marks.txt')}, inputs: ['big.txt'], outputs: ['out/'] },
`),
    });
    // The cache writes every blob to this folder first; its first file means a write began.
    const tmp = p.path('.cache/outputs/tmp');
    fs.mkdirSync(tmp, { recursive: true });
    const run = p.start(['--no-tests']);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => (w.close(), reject(new Error(`no cache write seen; output:\n${run.output}`))), 60_000);
      const w = fs.watch(tmp, () => {
        clearTimeout(timer);
        w.close();
        run.kill('SIGKILL');
        resolve();
      });
    });
    expect((await run.exited).signal).toBe('SIGKILL');
    // Whatever the kill left, no entry may name a blob that is not whole.
    for (const e of entries(p).values()) {
      for (const f of Object.values(e.files)) expect(blobs(p).get(f.hash)?.length).toBe(f.size);
    }
    // Damage the outputs, so that only a correct restore or a rerun can make them right.
    p.write('out/a.bin', 'wrong');
    p.remove('out/b.bin');
    const next = await p.run();
    expect(next.code, next.stderr).toBe(0);
    expect(['ran', 'restored']).toContain(next.steps[0]?.action);
    expect(p.read('out/a.bin')).toBe(big + big);
    expect(p.read('out/b.bin')).toBe(big + big);
    expect(fs.readdirSync(tmp)).toEqual([]);
    // And after that, one sound entry: remove the outputs, they come back from the cache.
    p.remove('out');
    const restored = await p.run();
    expect(actions(restored.steps)).toEqual({ a: 'restored' });
    expect(fs.statSync(p.path('out/a.bin')).size).toBe(2 * big.length);
  });
});
