// A session over the daemon's store (Session.borrow) releases the project lock only after
// every store write it queued has committed: a write still in the batch's window when the
// lock was released could land after another process (a direct run, `batch clean`) took it.
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from '../../../src/app/session.js';
import { projectPaths } from '../../../src/app/project.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { ExecutorRegistry } from '../../../src/executors/registry.js';
import type { RunSettings } from '../../../src/app/settings.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('Session.borrow (src)', () => {
  it('close() commits the queued writes before the lock is released', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-borrow-'));
    dirs.push(root);
    const project = { ...projectPaths(root), file: path.join(root, 'Batchfile.ts') };
    const store = openStore(project.cacheDir, { root });
    stores.push(store);
    const executors = ExecutorRegistry.create(1);
    const settings: RunSettings = { targets: [], force: false, keepGoing: false, tests: false, cache: true, wait: false };
    const session = await Session.borrow(settings, project, store, executors, 1, new AbortController().signal, () => undefined);
    const lockFile = path.join(project.cacheDir, 'lock');
    expect(fs.existsSync(lockFile)).toBe(true);

    // A write in the batch's window (40 ms) when the run ends, as a late blob removal is.
    let committedWhileLocked: boolean | undefined;
    void store.writes
      .add(() => void store.runs.put('r1', { id: 'r1' } as never))
      .then(() => {
        committedWhileLocked = fs.existsSync(lockFile);
      });
    await session.close();
    expect(fs.existsSync(lockFile)).toBe(false);
    expect(committedWhileLocked).toBe(true);
    await executors.closeAll();
  });
});
