// The cache's size without reading its index: a run that stores outputs while the cache is
// well under its limit must not read every entry (at 10,000 entries that was a few hundred
// milliseconds of every run that ran a step), and must still keep the limit exactly when the
// store's record of the size is missing or missed writes. Driven through the cache's own
// classes on a real store in a temp folder, one cache instance per "run" as batch makes them.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunEvent } from '../../../src/schedule/events.js';
import { BOUND_META_KEY } from '../../../src/cache/local/entries.js';
import { LocalOutputCache } from '../../../src/cache/local/output-cache.js';
import { hashBytes, initHash } from '../../../src/fingerprint/hash.js';
import { StatCache } from '../../../src/fingerprint/stat-cache.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { TempProject } from '../rig.js';
import { cachedStep } from './helpers.js';

let p: TempProject | undefined;
let store: Store | undefined;
beforeAll(() => initHash());
afterEach(async () => {
  await store?.close();
  store = undefined;
  p?.cleanup();
});


/** Writes `name.txt` with `size` bytes of `fill` and stores it under key `key-name`. */
async function store1(cache: LocalOutputCache, name: string, size: number, fill = name): Promise<RunEvent[]> {
  const bytes = Buffer.alloc(size, fill);
  p!.write(`${name}.txt`, bytes);
  const events: RunEvent[] = [];
  await cache.save(cachedStep(name, [`${name}.txt`]), `key-${name}`, { [`${name}.txt`]: hashBytes(bytes) }, 'run', (e) => void events.push(e));
  return events;
}

function newRun(maxBytes: number): LocalOutputCache {
  return new LocalOutputCache({ root: p!.dir, cacheDir: p!.path('.cache'), store: store!, maxBytes });
}

describe('output cache: size known without reading the index', () => {
  it('a run storing outputs under the limit reads no entry; the record stays exact', async () => {
    p = TempProject.create();
    store = openStore(p.path('.cache'));
    const first = newRun(100_000);
    for (const n of ['a', 'b', 'c']) expect(await store1(first, n, 1000)).toEqual([]);
    await store.writes.flush();
    expect(store.meta.get(BOUND_META_KEY)).toEqual({ entries: 3, bytes: 3000 });

    const second = newRun(100_000);
    const scan = vi.spyOn(second.db, 'getRange');
    expect(await store1(second, 'd', 500)).toEqual([]);
    // Stored again with new content: replaces its entry, counted once.
    expect(await store1(second, 'a', 200, 'z')).toEqual([]);
    expect(scan).not.toHaveBeenCalled();
    await store.writes.flush();
    expect(store.meta.get(BOUND_META_KEY)).toEqual({ entries: 4, bytes: 2700 });
    expect([...second.db.getKeys()].sort()).toEqual(['key-a', 'key-b', 'key-c', 'key-d']);
  });

  it('crossing the limit reads the index and evicts the least recently used entries', async () => {
    p = TempProject.create();
    store = openStore(p.path('.cache'));
    const first = newRun(2500);
    for (const n of ['a', 'b']) expect(await store1(first, n, 1000)).toEqual([]);
    await store.writes.flush();

    const second = newRun(2500);
    const scan = vi.spyOn(second.db, 'getRange');
    expect(await store1(second, 'c', 1000)).toEqual([]);
    expect(scan).toHaveBeenCalled();
    await store.writes.flush();
    // a was the least recently used: evicted, with its blob.
    expect([...second.db.getKeys()].sort()).toEqual(['key-b', 'key-c']);
    expect(second.blobs.sizeOf(hashBytes(Buffer.alloc(1000, 'a')))).toBeUndefined();
    expect(store.meta.get(BOUND_META_KEY)).toEqual({ entries: 2, bytes: 2000 });
  });

  it('a record that missed writes (entries written without it) is rebuilt, and the limit holds', async () => {
    p = TempProject.create();
    store = openStore(p.path('.cache'));
    const first = newRun(100_000);
    expect(await store1(first, 'a', 1000)).toEqual([]);
    await store.writes.flush();
    // As an older batch (or a lost write) would leave it: an entry the record does not count.
    const big = Buffer.alloc(3000, 'q');
    p.write('q.txt', big);
    const older = newRun(100_000);
    expect(await store1(older, 'q', 3000)).toEqual([]);
    await store.writes.flush();
    await store.meta.put(BOUND_META_KEY, { entries: 1, bytes: 1000 });

    const next = newRun(4500);
    const scan = vi.spyOn(next.db, 'getRange');
    expect(await store1(next, 'b', 1000)).toEqual([]);
    // The record said 1 entry, the index holds 2: the record is not trusted.
    expect(scan).toHaveBeenCalled();
    await store.writes.flush();
    expect([...next.db.getKeys()].sort()).toEqual(['key-b', 'key-q']);
    expect(store.meta.get(BOUND_META_KEY)).toEqual({ entries: 2, bytes: 4000 });
  });

  it('a store without a record (written before it existed) gets one from its entries', async () => {
    p = TempProject.create();
    store = openStore(p.path('.cache'));
    const first = newRun(100_000);
    for (const n of ['a', 'b']) expect(await store1(first, n, 700)).toEqual([]);
    await store.writes.flush();
    await store.meta.remove(BOUND_META_KEY);

    const second = newRun(100_000);
    expect(await store1(second, 'c', 300)).toEqual([]);
    await store.writes.flush();
    expect(store.meta.get(BOUND_META_KEY)).toEqual({ entries: 3, bytes: 1700 });
  });

  it("a run's first store waits for no commit unless that instance queued index writes (a restore's) before it", async () => {
    p = TempProject.create();
    store = openStore(p.path('.cache'));
    const first = newRun(100_000);
    for (const n of ['a', 'b']) expect(await store1(first, n, 1000)).toEqual([]);
    await store.writes.flush();

    // A write of the run still in the batch (a step's records): the first store leaves it
    // there, to commit with the run's next flush (the blob and entry go into the same batch).
    const second = newRun(100_000);
    let committed = false;
    const pending = store.writes.add(() => void store!.meta.put('probe', 1)).then(() => (committed = true));
    expect(await store1(second, 'c', 1000)).toEqual([]);
    expect(committed).toBe(false);
    expect(store.meta.get('probe')).toBeUndefined();
    await store.writes.flush();
    await pending;
    expect(store.meta.get(BOUND_META_KEY)).toEqual({ entries: 3, bytes: 3000 });

    // A restore queues its entry's use time first: the store after it flushes, as before, so
    // that the index read for the bound sees the instance's own writes.
    const third = newRun(100_000);
    const b = Buffer.alloc(1000, 'b');
    p.write('b.txt', 'other');
    const restored = await third.restore(cachedStep('b', ['b.txt']), 'key-b', () => undefined, new StatCache(p.dir, store));
    expect(restored?.outputs).toEqual({ 'b.txt': hashBytes(b) });
    let later = false;
    const pendingToo = store.writes.add(() => void store!.meta.put('probe', 2)).then(() => (later = true));
    expect(await store1(third, 'd', 500)).toEqual([]);
    expect(later).toBe(true);
    await pendingToo;
    await store.writes.flush();
    expect(store.meta.get(BOUND_META_KEY)).toEqual({ entries: 4, bytes: 3500 });
    expect([...third.db.getKeys()].sort()).toEqual(['key-a', 'key-b', 'key-c', 'key-d']);
  });
});
