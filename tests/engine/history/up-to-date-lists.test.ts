// Up-to-date results are stored as lists of step names per run, not one record per step (a
// no-op of 10,000 steps wrote 10,000 records). Every query must answer as it did when each
// was a record: the same crafted history is recorded both ways (the old way as earlier
// versions wrote it) and read through the real CLI, and a real no-op is checked in the store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsOf } from '../../../src/history/query.js';
import { openStore } from '../../../src/store/store.js';
import { fake, TempProject } from '../rig.js';
import { commitOf, recordRuns, type RunSpec } from './record.js';

/** Eight runs of five steps; `skip` (up to date) in most, executions and a failure in some. */
function scenario(): RunSpec[] {
  return Array.from({ length: 8 }, (_, i) => ({
    commit: commitOf(i),
    steps: {
      extract: i % 3 === 0 ? 1000 + i : 'skip',
      transform: i === 7 ? 5000 : i % 2 === 0 ? 2000 + i : 'skip',
      load: i === 4 ? { failMs: 7 } : 'skip',
      'z.last': 'skip',
      a_first: i < 2 ? 300 : 'skip',
    },
  }));
}

let now: TempProject;
let legacy: TempProject;
let ids: string[];

beforeAll(async () => {
  now = TempProject.create({ 'Batchfile.ts': '// unused' });
  legacy = TempProject.create({ 'Batchfile.ts': '// unused' });
  ids = await recordRuns(now.dir, scenario());
  expect(await recordRuns(legacy.dir, scenario(), { legacy: true })).toEqual(ids);
});
afterAll(() => {
  now.cleanup();
  legacy.cleanup();
});

describe('up-to-date results kept as name lists', () => {
  it('are stored as lists, not records', async () => {
    const store = openStore(now.path('.cache'), { readOnly: true });
    try {
      const id = ids[5]!; // every step up to date
      expect([...store.results.getKeys({ start: [id], end: [id, '\uffff'] })]).toEqual([]);
      expect(store.upToDate.names(id).sort()).toEqual(['a_first', 'extract', 'load', 'transform', 'z.last']);
      expect(store.upToDate.has(id, 'load')).toBe(true);
      expect(store.upToDate.has(id, 'loa')).toBe(false);
      expect(store.upToDate.has(ids[0]!, 'extract')).toBe(false); // it ran in run 0
      // Merged with the records, in name order, each exactly the result that was recorded.
      expect(resultsOf(store, ids[4]!).map((r) => [r.name, r.action, r.status])).toEqual([
        ['a_first', 'up-to-date', 'PASS'], ['extract', 'up-to-date', 'PASS'], ['load', 'ran', 'FAIL'], ['transform', 'ran', 'PASS'], ['z.last', 'up-to-date', 'PASS'],
      ]);
      expect(resultsOf(store, ids[1]!)[0]).toEqual({ name: 'a_first', status: 'PASS', action: 'ran', reason: 'input changed: in.txt', durationMs: 300, startedAt: expect.any(Number), attempts: 1, logFile: `logs/runs/${ids[1]}/a_first.log` });
      expect(resultsOf(store, ids[2]!).find((r) => r.name === 'z.last')).toEqual({ name: 'z.last', status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 });
    } finally {
      await store.close();
    }
  });

  it('an old store (one record per up-to-date step, no list table) opens read-only and reads the same', async () => {
    const store = openStore(legacy.path('.cache'), { readOnly: true });
    try {
      expect(store.upToDate.names(ids[5]!)).toEqual([]);
      expect([...store.results.getKeys({ start: [ids[5]!], end: [ids[5]!, '\uffff'] })]).toHaveLength(5);
    } finally {
      await store.close();
    }
    const mine = openStore(now.path('.cache'), { readOnly: true });
    const old = openStore(legacy.path('.cache'), { readOnly: true });
    try {
      for (const id of ids) expect(resultsOf(mine, id)).toEqual(resultsOf(old, id));
    } finally {
      await mine.close();
      await old.close();
    }
  });

  it('history, trends and compare answer the same as with one record per step', async () => {
    const queries = [
      ['history'], ['history', 'extract'], ['history', 'load'], ['history', 'z.last'], ['history', 'a_first', '--limit', '1'],
      ['trends'], ['trends', '--csv'], ['compare'], ['compare', ids[0]!, 'latest'], ['compare', ids[4]!, ids[5]!], ['history', '--csv'],
    ];
    for (const q of queries) {
      const a = await now.batch([...q, ...(q.includes('--csv') ? [] : ['--json'])]);
      const b = await legacy.batch([...q, ...(q.includes('--csv') ? [] : ['--json'])]);
      expect([a.code, a.signal], `${q.join(' ')}: ${a.stderr}`).toEqual([0, null]);
      expect(a.stdout, q.join(' ')).toBe(b.stdout);
    }
    // The compare rows of a run where everything but transform was up to date.
    const doc = JSON.parse((await now.batch(['compare', ids[5]!, ids[6]!, '--json'])).stdout) as { steps: { step: string; a: { action: string } | null; b: { action: string } | null }[] };
    expect(doc.steps.map((s) => [s.step, s.a?.action, s.b?.action])).toEqual([
      ['a_first', 'up-to-date', 'up-to-date'], ['extract', 'up-to-date', 'ran'], ['load', 'up-to-date', 'up-to-date'], ['transform', 'up-to-date', 'ran'], ['z.last', 'up-to-date', 'up-to-date'],
    ]);
  });

  it('--prune removes the lists with their runs and counts their results as before', async () => {
    const out: string[] = [];
    for (const p of [now, legacy]) {
      const r = await p.batch(['history', '--prune', '--keep', '3']);
      expect(r.code, r.stderr).toBe(0);
      out.push(r.stdout);
    }
    expect(out[0]).toBe(out[1]);
    expect(out[0]).toContain(`Removed 5 runs (${ids[0]} … ${ids[4]}) and their 25 step results`);
    const store = openStore(now.path('.cache'), { readOnly: true });
    try {
      for (const id of ids.slice(0, 5)) expect(store.upToDate.names(id)).toEqual([]);
      expect(store.upToDate.names(ids[5]!)).toHaveLength(5);
    } finally {
      await store.close();
    }
  });
});

describe('a real no-op', () => {
  it('records every up-to-date step in a list, and the queries show them', async () => {
    const p = TempProject.create({
      'in.txt': 'x',
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  one: { command: ${JSON.stringify(fake('--in', 'in.txt', '--out', 'out/1.txt'))}, inputs: ['in.txt'], outputs: ['out/1.txt'] },
  two: { command: ${JSON.stringify(fake('--in', 'out/1.txt', '--out', 'out/2.txt'))}, inputs: ['out/1.txt'], outputs: ['out/2.txt'] },
}});`,
    });
    try {
      const build = await p.run(['--no-tests']);
      expect(build.code, build.stderr).toBe(0);
      const noop = await p.run(['--no-tests']);
      expect(noop.code, noop.stderr).toBe(0);
      expect(noop.steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date']);
      const store = openStore(p.path('.cache'), { readOnly: true });
      try {
        expect([...store.results.getKeys({ start: [noop.runId], end: [noop.runId, '\uffff'] })]).toEqual([]);
        expect(store.upToDate.names(noop.runId).sort()).toEqual(['one', 'two']);
        expect(resultsOf(store, build.runId).map((r) => r.action)).toEqual(['ran', 'ran']);
      } finally {
        await store.close();
      }
      const cmp = JSON.parse((await p.batch(['compare', '--json'])).stdout) as { steps: { step: string; a: { action: string }; b: { action: string } }[] };
      expect(cmp.steps.map((s) => [s.step, s.a.action, s.b.action])).toEqual([['one', 'ran', 'up-to-date'], ['two', 'ran', 'up-to-date']]);
    } finally {
      p.cleanup();
    }
  });
});
