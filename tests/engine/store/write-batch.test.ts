// The store's write batch: the writes of steps that finish close together share one LMDB
// commit; nothing is committed before it is added, order is kept, a failing write rejects
// alone, a full batch commits at once, and the recorder's records (state, result, snapshot)
// go through it and are all committed when the run ends; writes to another environment (the
// output cache's blobs) commit before the store's, removals after, and a write that needs a
// failed one is not made. Real LMDB in a temp folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/store.js';
import { Recorder } from '../../../src/store/recorder.js';
import { Ticket, WriteBatch } from '../../../src/store/write-batch.js';
import type { RootDatabase } from 'lmdb';
import type { RunRecord, StepResult, StepState } from '../../../src/store/types.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function newStore(): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-wb-'));
  dirs.push(dir);
  const s = openStore(dir);
  stores.push(s);
  return s;
}

/** Counts LMDB commits from now on. */
function commits(store: Store): { n: number } {
  const c = { n: 0 };
  store.root.on('aftercommit', () => c.n++);
  return c;
}

describe('WriteBatch', () => {
  it('many adds, one commit: invisible until flushed, then all there, in order', async () => {
    const store = newStore();
    const db = store.root.openDB<string, string>({ name: 't', encoding: 'string' });
    // The table's creation is a commit of its own: done before counting.
    await db.put('warm', '1');
    const batch = new WriteBatch(store.root, 60_000, 1000);
    const c = commits(store);
    const done: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) done.push(batch.add(() => void db.put(`k${i % 10}`, `v${i}`)));
    // Nothing is committed by the passing of turns alone while the window is open.
    await new Promise((r) => setTimeout(r, 50));
    expect(db.get('k0')).toBeUndefined();
    expect(c.n).toBe(0);
    await batch.flush();
    await Promise.all(done);
    expect(c.n).toBe(1);
    // Later writes of a key win, as they were added.
    for (let k = 0; k < 10; k++) expect(db.get(`k${k}`)).toBe(`v${90 + k}`);
  });

  it('the window commits by itself; a full batch commits at once', async () => {
    const store = newStore();
    const db = store.root.openDB<string, string>({ name: 't', encoding: 'string' });
    const timed = new WriteBatch(store.root, 30, 1000);
    await timed.add(() => void db.put('a', '1'));
    expect(db.get('a')).toBe('1');
    const full = new WriteBatch(store.root, 60_000, 3);
    const p1 = full.add(() => void db.put('b', '1'));
    full.add(() => void db.put('c', '1')).catch(() => undefined);
    const p3 = full.add(() => void db.put('d', '1'));
    await Promise.all([p1, p3]);
    expect([db.get('b'), db.get('c'), db.get('d')]).toEqual(['1', '1', '1']);
  });

  it('a write that throws rejects alone; the others of its batch are committed', async () => {
    const store = newStore();
    const db = store.root.openDB<string, string>({ name: 't', encoding: 'string' });
    const batch = new WriteBatch(store.root, 60_000, 1000);
    const good = batch.add(() => void db.put('good', 'yes'));
    const bad = batch.add(() => {
      throw new Error('no value');
    });
    void batch.flush();
    await expect(bad).rejects.toThrow('no value');
    await good;
    expect(db.get('good')).toBe('yes');
  });
});

describe('WriteBatch with another environment (the output cache blobs)', () => {
  function sideEnv(store: Store): RootDatabase<Uint8Array, string> {
    // Opened as the output cache opens its blobs: binary values.
    const env = store.side(path.join(dirs[dirs.length - 1]!, 'side')) as RootDatabase<Uint8Array, string> | undefined;
    if (!env) throw new Error('no side environment');
    return env;
  }

  it("its writes commit before the store's transaction of the same flush, removals after; the store's writes keep their order across flushes", async () => {
    const store = newStore();
    const env = sideEnv(store);
    const db = store.root.openDB<string, string>({ name: 't', encoding: 'string' });
    await db.put('warm', '1');
    await env.put('old', Buffer.from('x'));
    const batch = new WriteBatch(store.root, 60_000, 1000);
    const order: string[] = [];
    store.root.on('aftercommit', () => order.push('store'));
    env.on('aftercommit', () => order.push('side'));
    // What each commit sees of the other environment at the moment it commits.
    const seen: Record<string, unknown> = {};
    const a = batch.add(() => void env.put('blob', Buffer.from('bytes')), { env });
    const b = batch.add(() => {
      seen.blobBeforeEntry = env.get('blob')?.toString();
      void db.put('entry', 'names blob');
    });
    const c = batch.add(
      () => {
        seen.entryBeforeRemoval = db.get('gone') ?? 'removed';
        void env.remove('old');
      },
      { env, late: true },
    );
    void batch.add(() => void db.remove('gone'));
    void batch.flush();
    // A second flush with store writes only, started while the first waits for its blob commit:
    // its transaction must not overtake the first's.
    const d = batch.add(() => void db.put('entry', 'second'));
    void batch.flush();
    await Promise.all([a, b, c, d]);
    await batch.flush();
    expect(seen).toEqual({ blobBeforeEntry: 'bytes', entryBeforeRemoval: 'removed' });
    expect(db.get('entry')).toBe('second');
    expect(env.get('old')).toBeUndefined();
    expect(order.indexOf('side')).toBeLessThan(order.indexOf('store'));
    expect(order.lastIndexOf('side')).toBeGreaterThan(order.indexOf('store'));
  });

  it('a write that needs one whose commit failed is not made and rejects; the rest of its batch is committed', async () => {
    const store = newStore();
    const env = sideEnv(store);
    const db = store.root.openDB<string, string>({ name: 't', encoding: 'string' });
    await db.put('warm', '1');
    // A closed environment refuses the commit (a full disk is in tests/engine/cache/blob-env.test.ts).
    await env.close();
    const batch = new WriteBatch(store.root, 60_000, 1000);
    const ticket = new Ticket();
    const blob = batch.add(() => void env.put('blob', Buffer.from('bytes')), { env, ticket });
    const entry = batch.add(() => void db.put('entry', 'names blob'), { needs: [ticket] });
    const other = batch.add(() => void db.put('other', 'independent'));
    void batch.flush();
    await expect(blob).rejects.toThrow();
    expect(ticket.state).toBe('failed');
    await expect(entry).rejects.toThrow('a write it depends on was not committed');
    await other;
    expect(db.get('entry')).toBeUndefined();
    expect(db.get('other')).toBe('independent');
  });
});

describe('Recorder through the write batch', () => {
  const state = (i: number): StepState => ({ key: `key${i}`, parts: { inputs: {}, code: {}, def: 'd' } as unknown as StepState['parts'], outputs: { [`out/${i}.txt`]: `h${i}` }, runId: 'r1', at: 1 });
  const ran = (i: number): StepResult => ({ name: `s${i}`, status: 'PASS', action: 'ran', reason: 'no previous run recorded', durationMs: 5 });
  /** A run's record as it begins (INTERRUPTED until it ends). */
  const begun = (id: string): RunRecord => ({ id, startedAt: 1, endedAt: 1, durationMs: 0, status: 'INTERRUPTED', flags: [], targets: [], host: 'h', cpus: 2, node: 'v20', counts: { ran: 0, upToDate: 0, restored: 0, failed: 0, blocked: 0, notRun: 0 } });

  it("steps that finish within a window share a commit; the run's end commits everything, snapshots after their states", async () => {
    const store = newStore();
    const rec = new Recorder(store, 'r1');
    const record = begun('r1');
    rec.begin(record);
    await rec.flush();
    const c = commits(store);
    for (let i = 0; i < 50; i++) {
      rec.step(ran(i), state(i), { at: 2, def: 'd', sig: `sig${i}`, code: [] });
      // Steps finish on different turns, as in a build.
      await new Promise((r) => setImmediate(r));
    }
    // Not yet committed (the window is still open): nothing recorded early.
    expect(store.state.get('s0')).toBeUndefined();
    await rec.run({ ...record, status: 'PASS' });
    // 50 steps, each on its own turn: a few commits (the window's, the end's, the run record's),
    // not one per step.
    expect(c.n).toBeLessThanOrEqual(4);
    for (let i = 0; i < 50; i++) {
      expect(store.state.get(`s${i}`)?.key).toBe(`key${i}`);
      expect(store.results.get(['r1', `s${i}`])?.status).toBe('PASS');
      expect(store.snap.get(`s${i}`)?.sig).toBe(`sig${i}`);
    }
    expect(store.runs.get('r1')?.status).toBe('PASS');
  });

  it("a run's last step records and its final record share one commit; should that commit fail, the record is written on its own", async () => {
    const store = newStore();
    const rec = new Recorder(store, 'r2');
    const record = begun('r2');
    rec.begin(record);
    await rec.flush();
    const c = commits(store);
    rec.step(ran(1), state(1), { at: 2, def: 'd', sig: 'sig1', code: [] });
    await rec.run({ ...record, status: 'PASS' });
    expect(c.n).toBe(1);
    expect(store.state.get('s1')?.key).toBe('key1');
    expect(store.runs.get('r2')?.status).toBe('PASS');

    // The batch's transaction fails once (a full disk, say): the steps' records are lost, as
    // before, the run record is written after it, and the run reports the failure (exit 3).
    const again = new Recorder(store, 'r3');
    again.begin({ ...record, id: 'r3' });
    await again.flush();
    const real = store.root.transaction.bind(store.root);
    let failOnce = true;
    store.root.transaction = ((cb: () => unknown) => {
      if (!failOnce) return real(cb);
      failOnce = false;
      return Promise.reject(new Error('disk full'));
    }) as typeof store.root.transaction;
    again.step(ran(2), state(2), { at: 2, def: 'd', sig: 'sig2', code: [] });
    await expect(again.run({ ...record, id: 'r3', status: 'PASS' })).rejects.toThrow(/Could not write the run records to the store: disk full/);
    store.root.transaction = real;
    expect(store.state.get('s2')).toBeUndefined();
    expect(store.runs.get('r3')?.status).toBe('PASS');
  });

  // The final record's promise is made before the run waits for its steps' writes: refused
  // while an earlier commit is still in flight, it must not count as an unhandled rejection
  // (the CLI would crash with a stack trace instead of recording the run).
  it('a final transaction refused at once while an earlier commit is in flight: nothing unhandled, the record written on its own', async () => {
    const store = newStore();
    const record = begun('r4');
    const rec = new Recorder(store, 'r4');
    rec.begin(record);
    await rec.flush();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const real = store.root.transaction.bind(store.root);
    let release: () => void = () => undefined;
    const inFlight = new Promise<void>((r) => (release = r));
    let calls = 0;
    store.root.transaction = ((cb: () => unknown) => {
      calls++;
      // The first commit is slow; every later transaction is refused on the spot.
      if (calls === 1) return inFlight.then(() => real(cb));
      throw new Error('environment closed');
    }) as typeof store.root.transaction;
    try {
      rec.step(ran(1), state(1), { at: 2, def: 'd', sig: 'sig1', code: [] });
      void store.writes.flush().catch(() => undefined);
      const run = rec.run({ ...record, status: 'PASS' });
      const outcome = run.then(
        () => 'resolved',
        (e: Error) => e.message,
      );
      // Turns pass while the first commit is in flight (the refusal happens in them).
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      release();
      // The record is then written on its own (a put, not the refused transaction).
      expect(await outcome).toBe('resolved');
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
      expect(store.runs.get('r4')?.status).toBe('PASS');
      expect(store.state.get('s1')?.key).toBe('key1');
    } finally {
      process.off('unhandledRejection', onUnhandled);
      store.root.transaction = real;
    }
  });
});
