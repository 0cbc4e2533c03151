// The daemon's store keeps each step's snapshot decoded with its stored bytes
// (openStore({ memoSnapshots: true }), store.ts snapshotTable): a read gives the kept entry
// back while LMDB holds the same bytes, and what LMDB holds now whenever they differ: written
// by this handle, removed, or written by another process's handle (a direct run) meanwhile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type SnapshotEntry, type Store } from '../../../src/store/store.js';

let dir: string | undefined;
const open: Store[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function stores(): { daemon: Store; other: Store; plain: Store } {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snap-memo-'));
  const cacheDir = path.join(dir, '.cache');
  const daemon = openStore(cacheDir, { memoSnapshots: true });
  const other = openStore(cacheDir);
  const plain = openStore(cacheDir);
  open.push(daemon, other, plain);
  return { daemon, other, plain };
}

const entry = (sig: string, code: string[] = ['run.sh']): SnapshotEntry => ({ at: 1_700_000_000_000, def: 'd'.repeat(16), sig, code });

describe('snapshot memo (memoSnapshots)', () => {
  it('gives the kept entry back, frozen, while the stored bytes are the same', async () => {
    const { daemon, plain } = stores();
    await daemon.snap.put('s', entry('a'.repeat(16), ['run.sh', 'tools/x.py']));
    const first = daemon.snap.get('s');
    expect(first).toEqual(plain.snap.get('s'));
    expect(daemon.snap.get('s')).toBe(first); // no decode: the same object
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first!.code)).toBe(true);
    // The same bytes written again (a run that proved the step anew): still the kept entry.
    await daemon.snap.put('s', entry('a'.repeat(16), ['run.sh', 'tools/x.py']));
    expect(daemon.snap.get('s')).toBe(first);
    // A handle without the memo decodes every read.
    expect(plain.snap.get('s')).not.toBe(plain.snap.get('s'));
  });

  it('reads what LMDB holds now after a write by this handle, a removal, or a write by another handle', async () => {
    const { daemon, other } = stores();
    // A handle's reads come from a read transaction lmdb-js keeps until its next timer turn;
    // a served run reads in a turn after the previous lock holder committed. Here the other
    // handle writes within one turn, so the daemon's transaction is renewed as that turn would.
    const laterTurn = (): void => daemon.root.resetReadTxn();
    await daemon.snap.put('s', entry('a'.repeat(16)));
    await daemon.snap.put('t', entry('c'.repeat(16)));
    const kept = daemon.snap.get('s');
    daemon.snap.get('t');
    // This handle writes another snapshot (the step ran again).
    await daemon.snap.put('s', entry('b'.repeat(16)));
    expect(daemon.snap.get('s')).toEqual(entry('b'.repeat(16)));
    expect(daemon.snap.get('s')).not.toBe(kept);
    // Another process's handle (a direct run between two served ones) writes one of the same
    // length: the bytes differ, so it is decoded afresh.
    await other.snap.put('s', entry('e'.repeat(16)));
    laterTurn();
    expect(daemon.snap.get('s')).toEqual(entry('e'.repeat(16)));
    // Another handle removes one (an orphan's snapshot, `batch clean`).
    await other.snap.remove('t');
    laterTurn();
    expect(daemon.snap.get('t')).toBeUndefined();
    // ... and writes it back with the bytes the memo had: the entry is what was written.
    await other.snap.put('t', entry('c'.repeat(16)));
    laterTurn();
    expect(daemon.snap.get('t')).toEqual(entry('c'.repeat(16)));
    // Code paths of another length, and an empty list.
    await other.snap.put('s', entry('e'.repeat(16), []));
    laterTurn();
    expect(daemon.snap.get('s')).toEqual(entry('e'.repeat(16), []));
    expect(daemon.snap.get('missing')).toBeUndefined();
  });
});
