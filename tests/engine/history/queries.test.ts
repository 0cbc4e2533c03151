// batch history / trends / compare / history --prune over a store of crafted runs recorded
// through the real Recorder, read by the real CLI (read-only, without loading the Batchfile).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { commitOf, recordRuns, type RunSpec } from './record.js';

const N = 12;
/** Twelve hourly runs. The last one: transform 3× slower (flagged), tiny +50 ms on 10 ms (not:
 * under the absolute floor), noisy within its spread (not), extract as usual (not). rare ran in
 * the first three runs only; load failed once. */
function scenario(): RunSpec[] {
  const runs: RunSpec[] = [];
  for (let i = 0; i < N; i++) {
    const last = i === N - 1;
    const wobble = ((i % 3) - 1) * 10;
    runs.push({
      commit: commitOf(i),
      steps: {
        extract: last ? 1002 : 1000 + wobble,
        transform: last ? 6000 : 2000 + wobble,
        tiny: last ? 60 : 10,
        noisy: last ? 3500 : [1000, 2000, 3000][i % 3]!,
        rare: i < 3 ? 500 : 'skip',
        load: i === 5 ? { failMs: 5 } : 300,
      },
    });
  }
  return runs;
}

interface TrendJson {
  step: string;
  latestMs: number | null;
  latestRun: string | null;
  medianMs: number | null;
  madMs: number | null;
  ratio: number | null;
  baseline: number;
  slower: boolean;
}

let p: TempProject;
let ids: string[];

beforeAll(async () => {
  // A Batchfile that does not even compile: the query commands must never load it.
  p = TempProject.create({ 'Batchfile.ts': 'export default {{{ not typescript' });
  ids = await recordRuns(p.dir, scenario());
});
afterAll(() => p.cleanup());

async function json<T>(args: string[]): Promise<T> {
  const r = await p.batch([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

describe('batch history', () => {
  it('lists the runs newest first, with commit, status and counts; --limit', async () => {
    const all = await json<{ total: number; shown: number; runs: { id: string; status: string; git?: { commit: string }; counts: { ran: number; upToDate: number; failed: number } }[] }>(['history']);
    expect(all.total).toBe(N);
    expect(all.runs.map((r) => r.id)).toEqual([...ids].reverse());
    expect(all.runs[0]!.git?.commit).toBe(commitOf(N - 1));
    expect(all.runs[0]!.counts).toMatchObject({ ran: 5, upToDate: 1, failed: 0 });
    expect(all.runs.find((r) => r.id === ids[5])!.status).toBe('FAIL');

    const five = await json<{ total: number; shown: number; runs: { id: string }[] }>(['history', '--limit', '5']);
    expect(five.shown).toBe(5);
    expect(five.runs.map((r) => r.id)).toEqual(ids.slice(-5).reverse());

    const text = await p.batch(['history', '--limit', '3']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^WHEN\s+RUN\s+COMMIT\s+STATUS\s+TIME\s+RAN\s+SKIPPED\s+FAILED/);
    expect(lines[1]).toContain(ids[N - 1]);
    expect(lines[1]).toContain(commitOf(N - 1).slice(0, 8));
    expect(lines[4]).toMatch(/3 of 12 runs, newest first/);

    const csv = await p.batch(['history', '--limit', '4', '--csv']);
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]).toBe('run_id,started_at,commit,dirty,status,duration_ms,ran,up_to_date,restored,failed,blocked,not_run,tests_status,tests_passed,tests_failed,flags,targets,host');
    expect(rows).toHaveLength(5);
    expect(rows[1]!.startsWith(`${ids[N - 1]},`)).toBe(true);
  });

  it('STEP lists only executions (never up-to-date results), with a sparkline and flags', async () => {
    const rare = await json<{ executions: { runId: string; status: string; durationMs: number }[]; medianMs: number }>(['history', 'rare']);
    expect(rare.executions.map((e) => e.runId)).toEqual(ids.slice(0, 3).reverse());
    expect(rare.medianMs).toBe(500);

    const load = await json<{ executions: { status: string; durationMs: number }[]; medianMs: number }>(['history', 'load']);
    expect(load.executions).toHaveLength(N);
    expect(load.executions.filter((e) => e.status === 'FAIL')).toEqual([expect.objectContaining({ durationMs: 5 })]);
    expect(load.medianMs).toBe(300); // the failed 5 ms is not a timing

    const t = await json<{ executions: { runId: string; slower: boolean }[] }>(['history', 'transform', '--limit', '5']);
    expect(t.executions).toHaveLength(5);
    expect(t.executions.map((e) => e.slower)).toEqual([true, false, false, false, false]);

    const text = await p.batch(['history', 'transform']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/transform: 12 executions since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d; median 2\.00s, MAD 10ms over 12 passed/);
    // Oldest → newest: eleven runs near 2 s, then the 6 s one at the top of the scale.
    expect(text.stdout).toMatch(/[▁▂]{11}█/);
    const newest = text.stdout.split('\n').find((l) => l.includes(ids[N - 1]!))!;
    expect(newest).toMatch(/6\.00s.*SLOWER/);
  });

  it('an unknown step is a usage error with a suggestion', async () => {
    const r = await p.batch(['history', 'transfrom']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/No recorded run has a step named "transfrom".*transform/);
  });
});

describe('batch trends', () => {
  it('flags only what the rule calls slower: beyond the spread, ≥ 100 ms and ≥ 10 %', async () => {
    const doc = await json<{ steps: TrendJson[]; rule: { k: number; minAbsMs: number } }>(['trends']);
    const by = new Map(doc.steps.map((s) => [s.step, s]));
    expect(doc.steps.map((s) => s.step).sort()).toEqual(['extract', 'load', 'noisy', 'rare', 'tiny', 'transform']);
    expect(by.get('transform')).toMatchObject({ latestMs: 6000, medianMs: 2000, madMs: 10, ratio: 3, baseline: 11, slower: true, latestRun: ids[N - 1] });
    expect(by.get('extract')).toMatchObject({ latestMs: 1002, medianMs: 1000, slower: false });
    expect(by.get('tiny')).toMatchObject({ latestMs: 60, medianMs: 10, ratio: 6, slower: false });
    expect(by.get('noisy')).toMatchObject({ latestMs: 3500, medianMs: 2000, madMs: 1000, slower: false });
    // Up-to-date results (0 ms) never enter the statistics.
    expect(by.get('rare')).toMatchObject({ latestMs: 500, medianMs: 500, baseline: 2, slower: false, latestRun: ids[2] });
    expect(by.get('load')).toMatchObject({ latestMs: 300, medianMs: 300, baseline: 10, slower: false });
  });

  it('text: one line per step, SLOWER on the regressed one, the rule stated', async () => {
    const r = await p.batch(['trends']);
    expect(r.code).toBe(0);
    const line = (step: string): string => r.stdout.split('\n').find((l) => l.startsWith(`${step} `))!;
    expect(line('transform')).toMatch(/6\.00s\s+2\.00s\s+10ms\s+×3\.00\s+11\s+\S+\s+SLOWER/);
    expect(line('tiny')).not.toContain('SLOWER');
    expect(line('noisy')).not.toContain('SLOWER');
    expect(line('rare')).toContain('few runs');
    expect(r.stdout).toContain('1 step slower than usual: transform');
    expect(r.stdout).toMatch(/3 × 1\.4826 × MAD, ≥ 100 ms and ≥ 10 % of the median, over the previous 20 passed executions \(at least 5\)/);
  });

  it('--csv has a header and one row per step', async () => {
    const r = await p.batch(['trends', '--csv']);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toBe('step,latest_ms,latest_run,median_ms,mad_ms,ratio,threshold_ms,baseline_runs,slower,latest_failed_run');
    expect(rows).toHaveLength(7);
    expect(rows.find((x) => x.startsWith('transform,'))).toMatch(/^transform,6000,[^,]+,2000,10,3,\d+,11,true,$/);
  });
});

describe('batch compare', () => {
  it('previous against latest by default, step by step', async () => {
    const doc = await json<{ a: { id: string }; b: { id: string }; steps: { step: string; deltaMs: number | null; ratio: number | null; a: { action: string } | null; b: { action: string } | null }[] }>(['compare']);
    expect(doc.a.id).toBe(ids[N - 2]);
    expect(doc.b.id).toBe(ids[N - 1]);
    const t = doc.steps.find((s) => s.step === 'transform')!;
    expect(t.deltaMs).toBe(6000 - 2000);
    expect(t.ratio).toBe(3);
    const rare = doc.steps.find((s) => s.step === 'rare')!;
    expect(rare).toMatchObject({ deltaMs: null, a: { action: 'up-to-date' }, b: { action: 'up-to-date' } });
  });

  it('runs by id prefix, by git commit prefix, and refuses what matches nothing', async () => {
    const byCommit = await json<{ a: { id: string }; b: { id: string } }>(['compare', commitOf(3).slice(0, 7), ids[N - 1]!.slice(0, 17)]);
    expect(byCommit.a.id).toBe(ids[3]);
    expect(byCommit.b.id).toBe(ids[N - 1]);

    const text = await p.batch(['compare', ids[0]!, 'latest']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^A  ${ids[0]}`));
    expect(text.stdout.split('\n').find((l) => l.startsWith('transform '))).toMatch(/PASS ran 1\.99s\s+PASS ran 6\.00s\s+\+4\.01s\s+×3\.02/);

    const bad = await p.batch(['compare', 'nosuchrun', 'latest']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/No run matches "nosuchrun"/);
  });
});

describe('batch history --prune', () => {
  it('needs --keep, keeps the newest N, says what it removed (store records and log folders)', async () => {
    const q = TempProject.create({ 'Batchfile.ts': '// unused' });
    try {
      const qids = await recordRuns(q.dir, scenario().slice(0, 6));
      for (const id of qids) q.write(`logs/runs/${id}/extract.log`, 'log');

      const noKeep = await q.batch(['history', '--prune']);
      expect(noKeep.code).toBe(2);
      expect(noKeep.stderr).toContain('--keep N');

      const r = await q.batch(['history', '--prune', '--keep', '2']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Removed 4 runs (${qids[0]} … ${qids[3]}) and their 24 step results`);
      expect(r.stdout).toContain('4 log folders under logs/runs/');
      expect(r.stdout).toContain('Kept the newest 2.');
      for (const id of qids.slice(0, 4)) expect(q.exists(`logs/runs/${id}`)).toBe(false);
      for (const id of qids.slice(4)) expect(q.exists(`logs/runs/${id}`)).toBe(true);

      const left = JSON.parse((await q.batch(['history', '--json'])).stdout) as { total: number; runs: { id: string }[] };
      expect(left.runs.map((x) => x.id)).toEqual(qids.slice(4).reverse());
      const series = JSON.parse((await q.batch(['history', 'extract', '--json'])).stdout) as { executions: unknown[] };
      expect(series.executions).toHaveLength(2);

      const again = await q.batch(['history', '--prune', '--keep', '2', '--json']);
      expect(JSON.parse(again.stdout)).toMatchObject({ kept: 2, removed: [] });
      expect(again.stderr).toContain('Nothing to prune');
      expect(fs.existsSync(q.path('.cache/lock'))).toBe(false);
    } finally {
      q.cleanup();
    }
  });
});
