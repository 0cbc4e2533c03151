// cache/choose.ts is the one place a command's output cache is chosen: a run's, `explain`'s,
// and the maintenance commands' (`batch cache status|prune`, `batch clean --cache`), which
// read and prune the cache through the same CacheBackend a run stores into.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseCache, type CachePlace } from '../../../src/cache/choose.js';
import { StatCache } from '../../../src/fingerprint/stat-cache.js';
import { hashFileSync } from '../../../src/fingerprint/hash.js';
import { openStore, type Store } from '../../../src/store/store.js';
import type { StepConfig } from '../../../src/batchfile/config.js';

let root: string;
let cacheDir: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-choose-'));
  cacheDir = path.join(root, '.cache');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const place = (store: Store | undefined, env: NodeJS.ProcessEnv = {}): CachePlace => ({ root, cacheDir, store, env, batchfileName: 'Batchfile.ts' });
const on = { enabled: true };

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('chooseCache for the maintenance commands', () => {
  it('status before any run: an empty local cache, and no store is created', async () => {
    const c = await chooseCache({ enabled: true, maxBytes: 1000 }, on, place(undefined), 'status');
    expect(c?.name).toBe('local');
    expect(await c!.status()).toEqual({ entries: 0, bytes: 0, blobs: 0, orphans: { files: 0, bytes: 0 }, steps: [] });
    expect(fs.existsSync(cacheDir)).toBe(false);
  });

  it('status with a remote configured asks the server once and says why it is not reachable', async () => {
    const port = await closedPort();
    const c = await chooseCache({ enabled: true, maxBytes: 1000, remote: { url: `http://127.0.0.1:${port}`, team: 'data', readOnly: true, timeoutMs: 2000 } }, on, place(undefined), 'status');
    expect(c?.name).toBe('local+remote');
    const st = await c!.status();
    expect(st.entries).toBe(0);
    expect(st.remote).toMatchObject({ team: 'data', readOnly: true, reachable: false });
    expect(st.remote?.error).toBeTruthy();
  });

  it('maintain: what a run stored is reported by status and evicted by prune, through the backend', async () => {
    const store = openStore(cacheDir);
    try {
      fs.mkdirSync(path.join(root, 'out'));
      fs.writeFileSync(path.join(root, 'out/a.txt'), 'x'.repeat(5000));
      const step = { name: 'gen', outputs: ['out/a.txt'] } as unknown as StepConfig;
      const warnings: unknown[] = [];
      const emit = (e: unknown): void => void warnings.push(e);
      const stats = new StatCache(root, store);
      const run = (await chooseCache({ enabled: true, maxBytes: 1e9 }, on, place(store), 'run'))!;
      await run.save(step, 'key-1', { 'out/a.txt': hashFileSync(path.join(root, 'out/a.txt')) }, 'run-1', emit, stats);
      await store.root.flushed; // the index entry is written in the background, as in a run
      expect(warnings).toEqual([]);
      const cache = (await chooseCache({ enabled: true, maxBytes: 1e9 }, on, place(store), 'maintain'))!;
      expect(await cache.status()).toMatchObject({ entries: 1, blobs: 1, bytes: 5000, steps: [{ step: 'gen', entries: 1 }] });
      const pruned = await cache.prune(100);
      expect(pruned.evicted).toEqual({ entries: 1, files: 1, bytes: 5000 });
      expect(await cache.status()).toMatchObject({ entries: 0, blobs: 0, bytes: 0 });
    } finally {
      await store.close();
    }
  });

  it('a run, explain or maintenance without a store is a programming error, not an empty cache', async () => {
    for (const purpose of ['run', 'read', 'maintain'] as const) {
      await expect(chooseCache({ enabled: true, maxBytes: 1 }, on, place(undefined), purpose)).rejects.toThrow(/store is required/);
    }
  });
});
