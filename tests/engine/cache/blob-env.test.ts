// The output cache's small blobs live in an LMDB environment of their own
// (`.cache/outputs/inline/`), apart from the run store, so that the records every run reads
// stay in a small file. The index entry naming a blob is committed only after the blob: a blob
// commit that fails (a real full disk, a closed environment) leaves no entry. A store written
// by the version before (blobs in the store's own `blobs` database) keeps working: its blobs
// restore byte for byte, status, prune and `clean --cache` cover them, and once emptied the old
// database is dropped. Real LMDB, real `batch` processes, temp folders.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/schedule/events.js';
import { LocalOutputCache } from '../../../src/cache/local/output-cache.js';
import { inlineBlobsDir } from '../../../src/cache/local/inline-blobs.js';
import { hashBytes, initHash } from '../../../src/fingerprint/hash.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { TempProject } from '../rig.js';
import { actions, batchfile, blobOf, cachedStep, entries, hasLegacyBlobDb, inlineBlobs, legacyInlineBlobs, setBlob, toLegacyInline } from './helpers.js';

let p: TempProject | undefined;
let store: Store | undefined;
beforeAll(() => initHash());
afterEach(async () => {
  await store?.close();
  store = undefined;
  p?.cleanup();
  p = undefined;
});

/** `n` command steps, each writing `out/<i>.bin`: `size` bytes that depend on `seed` and i. */
function steps(n: number, size: number, seed = 1): string {
  const body = Array.from({ length: n }, (_, i) => `  s${i}: { command: 'node gen.mjs ${i} ${size} ${seed}', outputs: ['out/${i}.bin'] },`).join('\n');
  return batchfile(body);
}
const GEN = `import fs from 'node:fs';
const [i, size, seed] = process.argv.slice(2).map(Number);
fs.mkdirSync('out', { recursive: true });
const b = Buffer.alloc(size);
for (let k = 0; k < size; k++) b[k] = (k * 31 + i * 7 + seed * 13 + (k >> 8)) & 255;
fs.writeFileSync('out/' + i + '.bin', b);
`;

function outputs(q: TempProject, n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => fs.readFileSync(q.path(`out/${i}.bin`)));
}

describe('output cache: the blob environment', () => {
  it('small outputs go to .cache/outputs/inline/, not the run store: the store stays small', async () => {
    p = TempProject.create({ 'gen.mjs': GEN, 'Batchfile.ts': steps(20, 40_000) });
    const r = await p.run(['-j', '2']);
    expect(r.code, r.stderr).toBe(0);
    const stored = inlineBlobs(p);
    expect(stored.size).toBe(20);
    for (const bytes of outputs(p, 20)) expect([...stored.values()].some((b) => b.equals(bytes))).toBe(true);
    expect(hasLegacyBlobDb(p)).toBe(false);
    // 800 KB of blobs elsewhere; the store holds only records.
    expect(fs.statSync(p.path('.cache/store/data.mdb')).size).toBeLessThan(300_000);
    expect(fs.statSync(p.path('.cache/outputs/inline/data.mdb')).size).toBeGreaterThan(800_000);
    const built = outputs(p, 20);
    p.remove('out');
    const restored = await p.run();
    expect(restored.code, restored.stderr).toBe(0);
    expect(Object.values(actions(restored.steps))).toEqual(Array(20).fill('restored'));
    expect(outputs(p, 20)).toEqual(built);
  });

  it('a run that stores and restores nothing (a no-op) does not open the environment; the first that does opens it', async () => {
    p = TempProject.create({ 'gen.mjs': GEN, 'Batchfile.ts': steps(3, 40_000) });
    expect((await p.run()).code).toBe(0);
    expect(inlineBlobs(p).size).toBe(3);
    // Gone (it holds only copies): a run that opened it would make it anew, empty.
    fs.rmSync(p.path('.cache/outputs/inline'), { recursive: true });
    const noop = await p.run();
    expect(noop.code, noop.stderr).toBe(0);
    expect(Object.values(actions(noop.steps))).toEqual(Array(3).fill('up-to-date'));
    expect(fs.existsSync(p.path('.cache/outputs/inline'))).toBe(false);
    // An output removed: its blob is lost with the environment, so the step runs, and its new
    // blob is stored in an environment opened for it.
    const built = fs.readFileSync(p.path('out/1.bin'));
    p.remove('out/1.bin');
    const again = await p.run();
    expect(again.code, again.stderr).toBe(0);
    expect(actions(again.steps)).toEqual({ s0: 'up-to-date', s1: 'ran', s2: 'up-to-date' });
    expect(fs.readFileSync(p.path('out/1.bin'))).toEqual(built);
    expect([...inlineBlobs(p).values()]).toEqual([built]);
  });

  it('a blob commit the environment refuses: the entry naming it is not written, with a warning', async () => {
    p = TempProject.create({ 'a/f.txt': 'aaaa', 'b/f.txt': 'bbbb' });
    store = openStore(p.path('.cache'));
    const cache = new LocalOutputCache({ root: p.dir, cacheDir: p.path('.cache'), store, maxBytes: 1e9 });
    const events: RunEvent[] = [];
    const emit = (e: RunEvent): void => void events.push(e);
    await cache.save(cachedStep('a'), 'key-a', { 'a/f.txt': hashBytes(Buffer.from('aaaa')) }, 'run1', emit);
    await store.writes.flush();
    expect(cache.db.get('key-a')?.step).toBe('a');
    // b's blob and entry are queued; the environment is closed before they are committed,
    // so the blob's commit fails.
    await cache.save(cachedStep('b'), 'key-b', { 'b/f.txt': hashBytes(Buffer.from('bbbb')) }, 'run1', emit);
    await store.side(inlineBlobsDir(p.path('.cache')))!.close();
    await store.writes.flush();
    // The warning comes from the entry's rejected write, which settles after the flush.
    await new Promise((r) => setImmediate(r));
    expect(cache.db.get('key-b')).toBeUndefined();
    expect(cache.db.get('key-a')?.step).toBe('a');
    expect(events).toEqual([{ type: 'warning', message: 'output cache: step "b": index entry not written (a write it depends on was not committed)' }]);
  });
});

// A real full disk under the blob environment: `.cache/outputs/inline` is a symlink into a
// 1 MB tmpfs. Needs mount (root, CAP_SYS_ADMIN); elsewhere the closed-environment case above
// is the failing-commit test that remains.
const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-blobfull-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  // no mount here
}
afterAll(() => {
  if (mounted) execFileSync('umount', [mnt]);
  fs.rmSync(mnt, { recursive: true, force: true });
});

describe.skipIf(!mounted)('output cache: the blob environment on a full disk', () => {
  it('blob commits fail: no entry names a blob that is not there, the run passes, and the next runs rerun rather than restore', async () => {
    p = TempProject.create({ 'gen.mjs': GEN, 'Batchfile.ts': steps(8, 200_000) });
    fs.mkdirSync(path.join(mnt, 'inline'));
    fs.mkdirSync(p.path('.cache/outputs'), { recursive: true });
    fs.symlinkSync(path.join(mnt, 'inline'), p.path('.cache/outputs/inline'));
    const r = await p.run(['-j', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/output cache: step "s\d": index entry not written/);
    const stored = inlineBlobs(p);
    const index = [...entries(p).values()];
    // 1.6 MB of outputs into a 1 MB disk: some (maybe no) blobs fit, never all.
    expect(index.length).toBeLessThan(8);
    for (const e of index) for (const f of Object.values(e.files)) expect(stored.get(f.hash)?.length).toBe(f.size);
    const want = outputs(p, 8);
    p.remove('out');
    const next = await p.run(['-j', '2']);
    expect(next.code, next.stderr).toBe(0);
    const acts = actions(next.steps);
    expect(Object.values(acts).filter((a) => a === 'restored')).toHaveLength(index.length);
    expect(outputs(p, 8)).toEqual(want);
  });
});

describe('output cache: a store of the layout before the blob environment', () => {
  it('its small blobs restore from the store byte for byte; new ones go to the environment; status, prune and clean --cache cover both', async () => {
    p = TempProject.create({ 'gen.mjs': GEN, 'Batchfile.ts': steps(4, 3000, 1) });
    expect((await p.run()).code).toBe(0);
    const old = outputs(p, 4);
    // The layout the version before wrote: every small blob in the run store's `blobs` db.
    expect(toLegacyInline(p)).toBe(4);
    expect(legacyInlineBlobs(p).size).toBe(4);
    expect(fs.existsSync(p.path('.cache/outputs/inline'))).toBe(false);

    const st = JSON.parse((await p.batch(['cache', 'status', '--json'])).stdout) as { entries: number; blobs: number; bytes: number; orphans: { files: number } };
    expect(st).toMatchObject({ entries: 4, blobs: 4, bytes: 4 * 3000, orphans: { files: 0 } });

    p.remove('out');
    const restored = await p.run();
    expect(restored.code, restored.stderr).toBe(0);
    expect(Object.values(actions(restored.steps))).toEqual(Array(4).fill('restored'));
    expect(outputs(p, 4)).toEqual(old);

    // New outputs (seed 2) are stored in the environment; the old blobs stay where they are.
    p.write('Batchfile.ts', steps(4, 3000, 2));
    expect((await p.run()).code).toBe(0);
    const fresh = outputs(p, 4);
    expect(legacyInlineBlobs(p).size).toBe(4);
    const legacy = legacyInlineBlobs(p);
    expect([...inlineBlobs(p).keys()].filter((h) => !legacy.has(h))).toHaveLength(4);
    for (const b of fresh) expect(legacy.has(blobOf(p, b))).toBe(false);

    // A damaged old blob (same size, other bytes) never restores: the step runs.
    setBlob(p, blobOf(p, old[0]!), Buffer.alloc(3000, 9));
    p.write('Batchfile.ts', steps(4, 3000, 1));
    p.remove('out');
    const back = await p.run();
    expect(back.code, back.stderr).toBe(0);
    expect(actions(back.steps)).toEqual({ s0: 'ran', s1: 'restored', s2: 'restored', s3: 'restored' });
    expect(back.stderr).toMatch(/output cache: step "s0": restored out\/0\.bin does not match its recorded hash/);
    expect(outputs(p, 4)).toEqual(old);

    // Prune to a size that keeps 4 of the 8 entries: the least recently used (seed 2's) go,
    // from the environment; the old database keeps what is still named.
    const pruned = JSON.parse((await p.batch(['cache', 'prune', '--max-size', String(4 * 3000), '--json'])).stdout) as { evicted: { entries: number }; entries: number };
    expect(pruned).toMatchObject({ evicted: { entries: 4 }, entries: 4 });
    for (const b of fresh) expect([...inlineBlobs(p).values()].some((x) => x.equals(b))).toBe(false);

    // clean --cache empties both and drops the old database.
    const clean = await p.batch(['clean', '--cache']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/Dropped the output cache \(4 entries, /);
    expect(inlineBlobs(p).size).toBe(0);
    expect(hasLegacyBlobDb(p)).toBe(false);
    const after = JSON.parse((await p.batch(['cache', 'status', '--json'])).stdout) as { entries: number; blobs: number };
    expect(after).toMatchObject({ entries: 0, blobs: 0 });
    p.remove('out');
    const rerun = await p.run();
    expect(Object.values(actions(rerun.steps))).toEqual(Array(4).fill('ran'));
    expect(outputs(p, 4)).toEqual(old);
  });
});

describe('Store.side: an environment removed while the store stays open (a daemon)', () => {
  it('is opened anew and the old one closed (its removed file given back), also when the new file reuses the old inode', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-side-'));
    try {
      store = openStore(path.join(dir, '.cache'), { root: dir });
      const sideDir = inlineBlobsDir(path.join(dir, '.cache'));
      const first = store.side(sideDir)!;
      expect(store.side(sideDir)).toBe(first);
      await first.put('a', Buffer.from('one'));
      const before = fs.statSync(path.join(sideDir, 'data.mdb'));
      fs.rmSync(sideDir, { recursive: true });
      const second = store.side(sideDir)!;
      expect(second).not.toBe(first);
      await store.writes.flush();
      // lmdb-js keeps an environment's state in `status` (not in its type declarations).
      await expect.poll(() => (first as unknown as { status: string }).status, { timeout: 5000 }).toBe('closed');
      expect(second.get('a')).toBeUndefined();
      const after = fs.statSync(path.join(sideDir, 'data.mdb'));
      // Whether or not the file system gave the new file the old inode number, it is told apart.
      expect(`${after.ino}:${after.birthtimeMs}`).not.toBe(`${before.ino}:${before.birthtimeMs}`);
      // Nothing of the removed file is mapped any more.
      const mapped = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(sideDir) && l.includes('(deleted)'));
      expect(mapped).toEqual([]);
    } finally {
      await store?.close();
      store = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
