// Hashing and stat'ing ahead in helper threads (src/fingerprint/hash-pool.ts, hash-slots.ts,
// StatCache.hashAhead / statAhead): whatever thread does a file, the run must see exactly what
// a serial pass sees — the same hashes, the same "changed while read" and racy-timestamp
// verdicts, the same stored entries, the same errors. The built modules are used (dist/),
// since the helpers run dist's hash-worker.js.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO } from '../rig.js';
import type * as StatCacheModule from '../../../src/fingerprint/stat-cache.js';
import type * as SlotsModule from '../../../src/fingerprint/hash-slots.js';
import type * as PoolModule from '../../../src/fingerprint/hash-pool.js';
import type * as StoreModule from '../../../src/store/store.js';

let sc: typeof StatCacheModule;
let slots: typeof SlotsModule;
let pool: typeof PoolModule;
let storeMod: typeof StoreModule;
let dir: string;

beforeAll(async () => {
  // A window far longer than any test: a hash is trusted or not by the rule, never by how
  // fast the machine is.
  process.env.BATCH_RACY_WINDOW_MS = '600000';
  sc = (await import(path.join(REPO, 'dist/fingerprint/stat-cache.js'))) as typeof StatCacheModule;
  slots = (await import(path.join(REPO, 'dist/fingerprint/hash-slots.js'))) as typeof SlotsModule;
  pool = (await import(path.join(REPO, 'dist/fingerprint/hash-pool.js'))) as typeof PoolModule;
  storeMod = (await import(path.join(REPO, 'dist/store/store.js'))) as typeof StoreModule;
});
afterAll(async () => {
  await pool.stopPool();
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-ahead-'));
  return () => fs.rmSync(dir, { recursive: true, force: true });
});

/** Files per pass: above the count that starts the helpers (AHEAD_START_FILES). */
const AHEAD = 1100;

/** Sizes around the hash's stripe (32), read chunk (1 MiB) and the empty file. */
const SIZES = [0, 1, 31, 32, 33, 4096, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 17];

/** `n` files of varied sizes and contents under dir; their project-relative paths. */
function makeFiles(n: number): string[] {
  const rels: string[] = [];
  for (let i = 0; i < n; i++) {
    const rel = `d${i % 7}/f${i}.bin`;
    const size = i < SIZES.length ? SIZES[i]! : 100 + ((i * 37) % 5000);
    const b = Buffer.alloc(size);
    for (let j = 0; j < size; j++) b[j] = (i * 131 + j * 7) & 255;
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), b);
    rels.push(rel);
  }
  return rels;
}

/** Waits (bounded) until no slot of the batch is waiting for or held by a helper. */
function settled(view: SlotsModule.BatchView): void {
  const until = Date.now() + 20_000;
  for (let i = 0; i < view.state.length; i++) {
    while (Atomics.load(view.state, i) === slots.QUEUED || Atomics.load(view.state, i) === slots.CLAIMED) {
      if (Date.now() > until) throw new Error(`slot ${i} still not done`);
      Atomics.wait(view.state, i, Atomics.load(view.state, i), 50);
    }
  }
}

describe('helper threads', () => {
  it('a helper hashes and stats exactly as the serial path does', () => {
    const rels = makeFiles(40);
    rels.push('missing.bin');
    const abs = rels.map((r) => path.join(dir, r));
    expect(pool.startPool()).toBe(true);
    const hashes = slots.BatchView.create('hash', abs.slice(0, -1), abs.slice(0, -1).map((a) => fs.statSync(a).size));
    const stats = slots.BatchView.create('stat', abs, []);
    pool.sendBatch(hashes);
    pool.sendBatch(stats);
    settled(hashes);
    settled(stats);
    for (let i = 0; i < rels.length - 1; i++) {
      expect(Atomics.load(hashes.state, i), rels[i]).toBe(slots.DONE);
      const got = slots.takeHashed(hashes, i)!;
      const want = slots.hashOne(abs[i]!, fs.statSync(abs[i]!).size);
      expect({ ...got, hashedAt: 0 }, rels[i]).toEqual({ ...want, hashedAt: 0 });
      expect(got.hashedAt).toBeLessThanOrEqual(want.hashedAt);
    }
    for (let i = 0; i < rels.length; i++) {
      const got = slots.takeStat(stats, i);
      const st = fs.statSync(abs[i]!, { throwIfNoEntry: false });
      expect(got, rels[i]).toEqual(st ? { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, mode: st.mode, nlink: st.nlink } : null);
    }
  });

  it('a slot no helper has started is the caller’s to do, and then no helper does it', () => {
    const [rel] = makeFiles(1);
    const view = slots.BatchView.create('hash', [path.join(dir, rel!)], [1]);
    // Not sent to a helper: the caller takes it over.
    expect(slots.takeHashed(view, 0)).toBeUndefined();
    expect(Atomics.load(view.state, 0)).toBe(slots.TAKEN);
    slots.workBatch(view);
    expect(Atomics.load(view.state, 0)).toBe(slots.TAKEN);
  });
});

describe('StatCache.hashAhead', () => {
  it('gives the same hashes, verdicts and stored entries as a serial pass, and reads each file once', async () => {
    const rels = makeFiles(AHEAD);
    const serialStore = storeMod.openStore(path.join(dir, '.cache-serial'));
    const aheadStore = storeMod.openStore(path.join(dir, '.cache-ahead'));
    const serial = new sc.StatCache(dir, serialStore);
    const ahead = new sc.StatCache(dir, aheadStore);
    // As a run wants them: step by step, ten files each, with a file wanted twice.
    for (let i = 0; i < rels.length; i += 10) ahead.hashAhead(rels.slice(i, i + 11));
    ahead.sendAhead();
    for (const rel of [...rels, 'nope.bin', 'd1']) {
      const a = ahead.get(rel);
      const s = serial.get(rel);
      expect(a === null ? null : { ...a, hashedAt: 0 }, rel).toEqual(s === null ? null : { ...s, hashedAt: 0 });
    }
    expect(ahead.filesHashed).toBe(rels.length);
    expect(ahead.bytesHashed).toBe(serial.bytesHashed);
    ahead.flush();
    serial.flush();
    await Promise.all([aheadStore.stat.flushed, serialStore.stat.flushed]);
    for (const rel of rels) {
      const a = aheadStore.stat.get(rel);
      const s = serialStore.stat.get(rel);
      expect(a && { ...a, hashedAt: 0 }, rel).toEqual(s && { ...s, hashedAt: 0 });
    }
    await Promise.all([aheadStore.close(), serialStore.close()]);
  });

  it('a file changed after its stat and before it is read is not remembered (either path)', async () => {
    const rels = makeFiles(AHEAD);
    const store = storeMod.openStore(path.join(dir, '.cache'));
    const ahead = new sc.StatCache(dir, store);
    const serial = new sc.StatCache(dir, undefined);
    for (const rel of rels) {
      ahead.stat(rel);
      serial.stat(rel);
    }
    // Rewritten (one byte longer) after the stat both caches hold.
    const changed = rels[500]!;
    fs.appendFileSync(path.join(dir, changed), 'x');
    ahead.hashAhead(rels);
    ahead.sendAhead();
    for (const rel of rels) {
      const a = ahead.get(rel)!;
      const s = serial.get(rel)!;
      expect(a.stable, rel).toBe(rel !== changed);
      expect(a.stable, rel).toBe(s.stable);
      expect(a.hash, rel).toBe(s.hash);
    }
    ahead.flush();
    await store.stat.flushed;
    expect(store.stat.get(changed)).toBeUndefined();
    expect(store.stat.get(rels[0]!)).toBeDefined();
    await store.close();
  });

  it('a hash taken within the racy window of the change time is not trusted next time, even with an old mtime', async () => {
    const rels = makeFiles(AHEAD);
    // Content written now, mtime set far back (as cp -a or an unpacked archive leave it).
    const old = new Date('2020-01-01T00:00:00Z');
    for (const rel of rels) fs.utimesSync(path.join(dir, rel), old, old);
    const store = storeMod.openStore(path.join(dir, '.cache'));
    const first = new sc.StatCache(dir, store);
    first.hashAhead(rels);
    first.sendAhead();
    for (const rel of rels) expect(first.get(rel)?.stable).toBe(true);
    first.flush();
    await store.stat.flushed;
    // Stored, but taken within the window after the ctime: the next pass reads every file
    // again, through the helpers or not.
    const second = new sc.StatCache(dir, store);
    second.hashAhead(rels);
    second.sendAhead();
    for (const rel of rels) second.get(rel);
    expect(second.filesHashed).toBe(rels.length);
    const third = new sc.StatCache(dir, store);
    for (const rel of rels.slice(0, 5)) third.get(rel);
    expect(third.filesHashed).toBe(5);
    await store.close();
  });

  it('a file that vanished or became a folder gives the error a serial pass gives', () => {
    const rels = makeFiles(AHEAD);
    const ahead = new sc.StatCache(dir, undefined);
    const serial = new sc.StatCache(dir, undefined);
    for (const rel of rels) {
      ahead.stat(rel);
      serial.stat(rel);
    }
    fs.rmSync(path.join(dir, rels[10]!));
    fs.rmSync(path.join(dir, rels[20]!));
    fs.mkdirSync(path.join(dir, rels[20]!));
    ahead.hashAhead(rels);
    ahead.sendAhead();
    const error = (cache: StatCacheModule.StatCache, rel: string): string => {
      try {
        cache.get(rel);
        return 'no error';
      } catch (e) {
        return `${(e as NodeJS.ErrnoException).code}: ${(e as Error).message}`;
      }
    };
    for (const rel of [rels[10]!, rels[20]!]) {
      const a = error(ahead, rel);
      expect(a).toMatch(/^(ENOENT|EISDIR)/);
      expect(a, rel).toBe(error(serial, rel));
    }
    // The others are unaffected.
    expect(ahead.get(rels[11]!)?.hash).toBe(serial.get(rels[11]!)?.hash);
  });

  it('a forgotten file is not answered from a hash taken ahead of its change', () => {
    const rels = makeFiles(AHEAD);
    const ahead = new sc.StatCache(dir, undefined);
    ahead.hashAhead(rels);
    ahead.sendAhead();
    const rel = rels[rels.length - 1]!;
    fs.writeFileSync(path.join(dir, rel), 'new content');
    ahead.forget(rel);
    expect(ahead.get(rel)?.hash).toBe(new sc.StatCache(dir, undefined).get(rel)?.hash);
  });
});

describe('StatCache.statAhead', () => {
  it('answers stat as a serial stat does, for files, folders and missing paths', () => {
    const rels = [...makeFiles(AHEAD), 'd1', 'missing', 'd2/missing.bin'];
    fs.symlinkSync('f0.bin', path.join(dir, 'd0/link.bin'));
    rels.push('d0/link.bin');
    const ahead = new sc.StatCache(dir, undefined);
    ahead.statAhead(rels);
    // A path forgotten after it was sent is stat'ed afresh.
    fs.writeFileSync(path.join(dir, rels[5]!), 'longer than before, surely');
    ahead.forget(rels[5]!);
    const serial = new sc.StatCache(dir, undefined);
    for (const rel of rels) {
      const a = ahead.stat(rel);
      const s = serial.stat(rel);
      expect(a && { ...a, dir: a.isDirectory(), file: a.isFile() }, rel).toEqual(s && { ...s, dir: s.isDirectory(), file: s.isFile() });
    }
  });
});
