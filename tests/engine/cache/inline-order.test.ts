// The inline blob tier's writes are asynchronous: what the cache believes about a blob must
// follow its own writes at once, not the store's last commit. Driven through the cache's own
// classes (a real store in a temp folder), so that saves follow one another within one
// event turn, which a whole `batch` run only does by chance.
import fs from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/schedule/events.js';
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


describe('output cache: inline blob writes in order', () => {
  it('a blob evicted by one save and written again by the next (same event turn) is stored again', async () => {
    const x = Buffer.alloc(1000, 'x');
    const y = Buffer.alloc(1000, 'y');
    p = TempProject.create();
    for (const [rel, bytes] of [['a/f.txt', x], ['b/f.txt', y], ['c/f.txt', x]] as const) p.write(rel, bytes);
    store = openStore(p.path('.cache'));
    const cache = new LocalOutputCache({ root: p.dir, cacheDir: p.path('.cache'), store, maxBytes: 1500 });
    const events: RunEvent[] = [];
    const emit = (e: RunEvent): void => void events.push(e);
    const [hx, hy] = [hashBytes(x), hashBytes(y)];
    await cache.save(cachedStep('a'), 'key-a', { 'a/f.txt': hx }, 'run1', emit);
    // Not awaited one by one: c's save starts as soon as b's eviction (which removes a's entry
    // and then its blob, x) is done, before the blob's removal is committed.
    const b = cache.save(cachedStep('b'), 'key-b', { 'b/f.txt': hy }, 'run1', emit);
    const c = cache.save(cachedStep('c'), 'key-c', { 'c/f.txt': hx }, 'run1', emit);
    await Promise.all([b, c]);
    await store.writes.flush();
    expect(events).toEqual([]);
    // c's save evicted b; the store must still hold x, which c's entry names.
    expect(cache.db.get('key-a')).toBeUndefined();
    expect(cache.db.get('key-b')).toBeUndefined();
    expect(cache.db.get('key-c')?.files).toEqual({ 'c/f.txt': { hash: hx, size: 1000, mode: fs.statSync(p.path('c/f.txt')).mode & 0o7777 } });
    expect(cache.blobs.sizeOf(hx)).toBe(1000);
    expect(cache.blobs.sizeOf(hy)).toBeUndefined();
    // And it restores.
    p.remove('c');
    const restored = await cache.restore(cachedStep('c'), 'key-c', emit, new StatCache(p.dir, store));
    expect(events).toEqual([]);
    expect(restored?.outputs).toEqual({ 'c/f.txt': hx });
    expect(fs.readFileSync(p.path('c/f.txt'))).toEqual(x);
  });
});
