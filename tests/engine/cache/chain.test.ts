// A chain of cache backends (the slot a remote backend takes behind the local one), driven
// with two real local caches (two stores in one project): a look-up and a restore take the
// first backend that holds the key, a save goes to each.
import fs from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChainedCache } from '../../../src/cache/chain.js';
import { LocalOutputCache } from '../../../src/cache/local/output-cache.js';
import { hashBytes, initHash } from '../../../src/fingerprint/hash.js';
import { StatCache } from '../../../src/fingerprint/stat-cache.js';
import type { RunEvent } from '../../../src/schedule/events.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { TempProject } from '../rig.js';
import { cachedStep } from './helpers.js';

let p: TempProject | undefined;
const stores: Store[] = [];
beforeAll(() => initHash());
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  p?.cleanup();
});

async function flushed(): Promise<void> {
  await Promise.all(stores.map((s) => s.root.flushed));
}

function local(dir: string): LocalOutputCache {
  const store = openStore(p!.path(dir));
  stores.push(store);
  return new LocalOutputCache({ root: p!.dir, cacheDir: p!.path(dir), store, maxBytes: 1e9 });
}

describe('ChainedCache', () => {
  it('finds and restores from the farther backend when the nearer one misses; saves into both', async () => {
    p = TempProject.create({ 'a/f.txt': 'from far' });
    const near = local('.cache');
    const far = local('far-cache');
    const events: RunEvent[] = [];
    const emit = (e: RunEvent): void => void events.push(e);
    const h = hashBytes(Buffer.from('from far'));
    await far.save(cachedStep('a'), 'key-a', { 'a/f.txt': h }, 'run-far', emit);
    await flushed(); // an index entry is read back once its write is committed

    const chain = new ChainedCache([near, far]);
    expect(chain.name).toBe('local+local');
    expect(await near.lookup(cachedStep('a'), 'key-a')).toBeUndefined();
    expect(await chain.lookup(cachedStep('a'), 'key-a')).toEqual({ fromRun: 'run-far' });
    expect(await chain.lookup(cachedStep('a'), 'key-b')).toBeUndefined();

    p.remove('a');
    const restored = await chain.restore(cachedStep('a'), 'key-a', emit, new StatCache(p.dir, undefined));
    expect(restored).toMatchObject({ outputs: { 'a/f.txt': h }, fromRun: 'run-far' });
    expect(fs.readFileSync(p.path('a/f.txt'), 'utf8')).toBe('from far');

    p.write('b/g.txt', 'both');
    const hb = hashBytes(Buffer.from('both'));
    await chain.save(cachedStep('b'), 'key-b', { 'b/g.txt': hb }, 'run-2', emit);
    await flushed();
    expect(await near.lookup(cachedStep('b'), 'key-b')).toEqual({ fromRun: 'run-2' });
    expect(await far.lookup(cachedStep('b'), 'key-b')).toEqual({ fromRun: 'run-2' });
    expect(events).toEqual([]);
  });
});
