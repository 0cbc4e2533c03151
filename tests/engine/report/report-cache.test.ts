// The run report reads earlier runs' results through its own per-run cache (.cache/report):
// the report data must be the same with the cache, without it, and from a cold or a warm
// cache; the cache is really what is read, and files of runs no longer read go.
// Also: the escaping fast paths give the same text as escaping everything.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listRuns, resultsOf } from '../../../src/history/query.js';
import { collectReportData } from '../../../src/report/html/data.js';
import { html, href, jsonForScript, md } from '../../../src/report/html/escape.js';
import { runPendingPrune, type HeldPastRuns } from '../../../src/report/html/past-runs.js';
import { openStore } from '../../../src/store/store.js';
import { recordRuns, type RunSpec } from '../history/record.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** 45 runs of 6 steps: full builds, no-ops, single-step runs and failures, so some steps'
 * last 30 executions reach back further than others'. */
function history(): RunSpec[] {
  const runs: RunSpec[] = [];
  for (let i = 0; i < 45; i++) {
    const steps: RunSpec['steps'] = {};
    for (let k = 0; k < 6; k++) {
      const name = `step${k}`;
      if (i % 9 === 0) steps[name] = 100 + k * 10 + (i % 5);
      else if (i % 7 === 3 && k === 2) steps[name] = { failMs: 40 };
      else if (i % 4 === 1 && k === i % 6) steps[name] = 200 + i;
      else steps[name] = 'skip';
    }
    runs.push({ steps });
  }
  return runs;
}

async function project(): Promise<{ dir: string; ids: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-report-cache-'));
  dirs.push(dir);
  const ids = await recordRuns(dir, history(), { states: true });
  // Logs exist for some runs only (older ones were cleaned up, say).
  for (const id of ids.slice(-25)) {
    const store = openStore(path.join(dir, '.cache'), { readOnly: true });
    try {
      for (const r of resultsOf(store, id)) {
        if (r.logFile && !r.name.endsWith('3')) {
          fs.mkdirSync(path.dirname(path.join(dir, r.logFile)), { recursive: true });
          fs.writeFileSync(path.join(dir, r.logFile), 'log\n');
        }
      }
    } finally {
      await store.close();
    }
  }
  return { dir, ids };
}

async function reportData(dir: string, withCache: boolean): Promise<ReturnType<typeof collectReportData>> {
  const store = openStore(path.join(dir, '.cache'), { readOnly: true });
  try {
    const record = listRuns(store, { limit: 1 })[0]!;
    const results = resultsOf(store, record.id);
    return collectReportData({ record, results, store, root: dir, logsDir: path.join(dir, 'logs'), ...(withCache ? { cacheDir: path.join(dir, '.cache') } : {}) });
  } finally {
    await store.close();
  }
}

describe('run report: cache of earlier runs', () => {
  it('gives the same report data with a cold cache, a warm cache and no cache', async () => {
    const { dir } = await project();
    const plain = await reportData(dir, false);
    expect(fs.existsSync(path.join(dir, '.cache', 'report'))).toBe(false);
    const cold = await reportData(dir, true);
    const warm = await reportData(dir, true);
    expect(cold).toEqual(plain);
    expect(warm).toEqual(plain);
    // The data is not trivial: charts, earlier logs (and steps whose logs are gone).
    expect(plain.history.charts.length).toBe(6);
    expect(plain.steps.some((s) => s.logRun !== undefined)).toBe(true);
    expect(plain.steps.find((s) => s.name === 'step3')?.log).toBeUndefined();
  });

  it('reads earlier runs from the cache, keeps only runs that executed something, rebuilds a lost cache', async () => {
    const { dir, ids } = await project();
    await reportData(dir, true);
    const cacheDir = path.join(dir, '.cache', 'report');
    const files = fs.readdirSync(cacheDir).sort();
    const executing = history().flatMap((r, i) => (Object.values(r.steps).some((s) => s !== 'skip') ? [ids[i]!] : []));
    // Only runs that executed something (no-op runs are never read).
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) expect(executing).toContain(f.replace(/\.json$/, ''));
    // A file of a run no longer read goes at the next report.
    const stale = path.join(cacheDir, `20190101T000000000Z-gone.json`);
    fs.writeFileSync(stale, '{}');
    await reportData(dir, true);
    expect(fs.existsSync(stale)).toBe(false);

    // The cache is what is read: a changed duration in it shows in the chart.
    const fullRun = executing.find((id) => files.includes(`${id}.json`) && id !== ids[ids.length - 1])!;
    const file = path.join(cacheDir, `${fullRun}.json`);
    const data = JSON.parse(fs.readFileSync(file, 'utf8')) as { results: { name: string; action: string; durationMs: number }[] };
    const ran = data.results.find((r) => r.action === 'ran')!;
    ran.durationMs = 987_654;
    fs.writeFileSync(file, JSON.stringify(data));
    const tampered = await reportData(dir, true);
    const chart = tampered.history.charts.find((c) => c.step === ran.name)!;
    expect([...chart.durations, ...chart.failed]).toContain(987_654);

    // Lost or damaged: rebuilt from the store, same as without a cache.
    fs.writeFileSync(file, 'not json');
    expect(await reportData(dir, true)).toEqual(await reportData(dir, false));
    fs.rmSync(cacheDir, { recursive: true });
    expect(await reportData(dir, true)).toEqual(await reportData(dir, false));
  });
});

describe('run report: earlier runs held by a long-lived process', () => {
  it('gives the same data as the files, reads each run once, and drops what the report no longer reads', async () => {
    const { dir } = await project();
    const held: HeldPastRuns = { store: undefined, runs: new Map() };
    const store = openStore(path.join(dir, '.cache'), { readOnly: true });
    try {
      const record = listRuns(store, { limit: 1 })[0]!;
      const results = resultsOf(store, record.id);
      const input = { record, results, store, root: dir, logsDir: path.join(dir, 'logs'), cacheDir: path.join(dir, '.cache') };
      const files = collectReportData(input);
      const first = collectReportData({ ...input, memo: { reusable: undefined, kept: new Map(), pastRuns: held } });
      expect(first).toEqual(files);
      expect(held.store).toBe(store);
      const ids = [...held.runs.keys()];
      expect(ids.length).toBeGreaterThan(3);
      // Held: not read again (a file changed since is not looked at), and the same data.
      const cacheDir = path.join(dir, '.cache', 'report');
      for (const f of fs.readdirSync(cacheDir)) fs.writeFileSync(path.join(cacheDir, f), 'not json');
      const arrays = ids.map((id) => held.runs.get(id));
      const second = collectReportData({ ...input, memo: { reusable: undefined, kept: new Map(), pastRuns: held } });
      expect(second).toEqual(files);
      expect(ids.map((id) => held.runs.get(id))).toEqual(arrays);
      for (const id of ids) expect(held.runs.get(id)).toBe(arrays[ids.indexOf(id)]);
      // A run no longer read is dropped with its file.
      held.runs.set('20190101T000000000Z-gone', []);
      collectReportData({ ...input, memo: { reusable: undefined, kept: new Map(), pastRuns: held } });
      expect(held.runs.has('20190101T000000000Z-gone')).toBe(false);
    } finally {
      await store.close();
    }
    // Another store (the daemon reopened it): what was held is dropped.
    const other = openStore(path.join(dir, '.cache'), { readOnly: true });
    try {
      const record = listRuns(other, { limit: 1 })[0]!;
      held.runs.set('20190101T000000000Z-other', []);
      collectReportData({ record, results: resultsOf(other, record.id), store: other, root: dir, logsDir: path.join(dir, 'logs'), memo: { reusable: undefined, kept: new Map(), pastRuns: held } });
      expect(held.store).toBe(other);
      expect(held.runs.has('20190101T000000000Z-other')).toBe(false);
    } finally {
      await other.close();
    }
  });
});

describe('run report: a long-lived process scans earlier runs by their kept heads, and removes stale files after its reply', () => {
  it('decodes each earlier run record once, gives the same data as a one-shot report, sees runs pruned or added by others, and removes files only when told', async () => {
    const { dir } = await project();
    const cacheDir = path.join(dir, '.cache');
    const reportDir = path.join(cacheDir, 'report');
    const held: HeldPastRuns = { store: undefined, runs: new Map() };
    const oneShot = async (): Promise<ReturnType<typeof collectReportData>> => {
      const store = openStore(cacheDir, { readOnly: true });
      try {
        const record = listRuns(store, { limit: 1 })[0]!;
        return collectReportData({ record, results: resultsOf(store, record.id), store, root: dir, logsDir: path.join(dir, 'logs') });
      } finally {
        await store.close();
      }
    };
    const store = openStore(cacheDir);
    try {
      const served = (record = listRuns(store, { limit: 1 })[0]!): ReturnType<typeof collectReportData> =>
        collectReportData({ record, results: resultsOf(store, record.id), store, root: dir, logsDir: path.join(dir, 'logs'), cacheDir, memo: { reusable: undefined, kept: new Map(), pastRuns: held } });
      // A stale file (a run that left the charts): kept until the process says its reply went.
      fs.mkdirSync(reportDir, { recursive: true });
      fs.writeFileSync(path.join(reportDir, '20190101T000000000Z-gone.json'), '{}');
      const first = served();
      expect(first).toEqual(await oneShot());
      expect(held.heads!.size).toBeGreaterThan(10);
      expect(fs.existsSync(path.join(reportDir, '20190101T000000000Z-gone.json'))).toBe(true);
      expect(held.pendingPrune).toBeDefined();
      // Written after the report, before the removal: the unchanged report's marker (this
      // run's, report/unchanged-report.ts), and a later run's own file. Neither is removed.
      fs.writeFileSync(path.join(reportDir, 'noop.json'), '{}');
      fs.writeFileSync(path.join(reportDir, '20990101T000000000Z-later.json'), '{}');
      runPendingPrune(held);
      expect(fs.existsSync(path.join(reportDir, '20190101T000000000Z-gone.json'))).toBe(false);
      expect(fs.existsSync(path.join(reportDir, 'noop.json'))).toBe(true);
      expect(fs.existsSync(path.join(reportDir, '20990101T000000000Z-later.json'))).toBe(true);
      expect(held.pendingPrune).toBeUndefined();
      // Again: no earlier record decoded (read by key only), the same data.
      const newest = listRuns(store, { limit: 1 })[0]!;
      const heads = new Map(held.heads);
      const range = vi.spyOn(store.runs, 'getRange');
      expect(served(newest)).toEqual(first);
      // Keys only (lmdb's getKeys is a getRange without values), and the heads kept, not made again.
      expect(range.mock.calls.map((c) => (c[0] as { values?: boolean }).values)).toEqual([false]);
      expect(held.heads!.size).toBe(heads.size);
      for (const [id, head] of held.heads!) expect(head).toBe(heads.get(id));
      // Another process prunes the newest executing run before the last one (history --prune):
      // its key is gone, so it is gone from the scan; the data match a one-shot report's.
      const ids = listRuns(store, {}).map((r) => r.id);
      const victim = ids.slice(1).find((id) => held.runs.has(id))!;
      await store.runs.remove(victim);
      const afterPrune = served();
      expect(afterPrune).toEqual(await oneShot());
      expect(held.heads!.has(victim)).toBe(false);
      expect(afterPrune).not.toEqual(first);
      range.mockRestore();
    } finally {
      await store.close();
    }
  });
});

describe('report escaping', () => {
  const slowHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
  const slowMd = (s: string): string =>
    s.replace(/\r?\n|\r/g, ' ').replace(/[\\`*_[\]{}()#!|~]/g, (c) => `\\${c}`).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const slowHref = (s: string): string => s.split('/').map(encodeURIComponent).join('/');
  const slowJson = (v: unknown): string =>
    JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

  it('escapes exactly as the escape-everything versions on random text', () => {
    const alphabet = ['a', 'Z', '0', '/', '.', '-', '_', ' ', '&', '<', '>', '"', "'", '\\', '`', '*', '[', ']', '{', '}', '(', ')', '#', '!', '|', '~', '\n', '\r', '%', '?', 'é', '\u2028', '\u2029', ':', '@', '+'];
    let x = 12345;
    const next = (): number => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x;
    };
    for (let i = 0; i < 5000; i++) {
      const s = Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join('');
      expect(html(s)).toBe(slowHtml(s));
      expect(md(s)).toBe(slowMd(s));
      expect(href(s)).toBe(slowHref(s));
      expect(jsonForScript({ s })).toBe(slowJson({ s }));
    }
  });
});
