#!/usr/bin/env node
// In-process cost of the run report after a run: the report part of after-run (trends of the
// steps that ran, then logs/report.html + report.md) for the newest run recorded in a built
// project's store, as a real `batch` run pays it (first call in the process) and warmed up.
//
//   npm run build && node bench/report-bench.mjs --project DIR [--reps 10] [--dist DIR]
//
// Run a no-op `batch` in DIR first to measure the report of a no-op. The report is written to
// DIR/logs (as batch does); nothing else in the project is changed.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const opts = { project: '', reps: 10, dist: path.join(REPO, 'dist') };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--project') opts.project = path.resolve(process.argv[++i]);
  else if (a === '--reps') opts.reps = Number(process.argv[++i]);
  else if (a === '--dist') opts.dist = path.resolve(process.argv[++i]);
  else throw new Error(`unknown argument ${a}`);
}
if (!opts.project) throw new Error('give --project DIR (a built project)');
const dist = (p) => import(pathToFileURL(path.join(opts.dist, p)).href);
const { findBatchfile, loadBatchfile } = await dist('batchfile/load.js');
// The step kinds (a dist from before they were modules takes no such argument).
const kinds = await dist('kinds/registry.js').then((m) => [m.KINDS], () => []);
const { buildGraph } = await dist('graph/graph.js');
const { openStore } = await dist('store/store.js');
const { listRuns, resultsOf } = await dist('history/query.js');
const { computeTrends } = await dist('history/trends.js');

const root = opts.project;
const cacheDir = path.join(root, '.cache');
const config = (await loadBatchfile(root, findBatchfile(root), cacheDir, ...kinds)).config;
const graph = buildGraph(config);
const store = openStore(cacheDir);
const record = listRuns(store, { limit: 1 })[0];
if (!record) throw new Error('no run recorded: run batch in the project first');
const byName = new Map(resultsOf(store, record.id).map((r) => [r.name, r]));
const results = graph.order.filter((n) => byName.has(n)).map((n) => byName.get(n));

function once(importFirst) {
  return async () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { writeReports } = await dist('report/html/write.js');
    const t1 = performance.now();
    const ran = results.filter((r) => r.action === 'ran' && r.status === 'PASS').map((r) => r.name);
    const trends = ran.length ? new Map(computeTrends(store, { steps: new Set(ran) }).rows.map((t) => [t.step, t])) : new Map();
    const t2 = performance.now();
    writeReports({ record, results, graph, store, root, logsDir: path.join(root, 'logs'), trends, cacheDir });
    const t3 = performance.now();
    const c1 = process.cpuUsage(c0);
    return { import: importFirst ? t1 - t0 : 0, trends: t2 - t1, write: t3 - t2, total: t3 - t0, cpu: (c1.user + c1.system) / 1000 };
  };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const cold = await once(true)();
const warm = [];
for (let i = 0; i < opts.reps; i++) warm.push(await once(false)());
await store.close();
const f = (x) => `${x.toFixed(1)} ms`;
const execd = record.counts.ran + record.counts.failed;
console.log(`run ${record.id}: ${results.length} results, ${execd} executed`);
console.log(`cold: import ${f(cold.import)}, trends ${f(cold.trends)}, writeReports ${f(cold.write)}; total ${f(cold.total)} (CPU ${f(cold.cpu)})`);
console.log(`warm (median of ${opts.reps}): trends ${f(median(warm.map((w) => w.trends)))}, writeReports ${f(median(warm.map((w) => w.write)))} (CPU ${f(median(warm.map((w) => w.cpu)))})`);
if (process.env.REPORT_BENCH_JSON) (await import('node:fs')).writeFileSync(process.env.REPORT_BENCH_JSON, JSON.stringify({ cold, warm }));
