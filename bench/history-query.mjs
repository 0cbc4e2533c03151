#!/usr/bin/env node
// Benchmark of issue 4: history queries over 1,000 recorded runs of a 100-step pipeline, and
// the cost of the run report on a no-op run of a 1,000-step pipeline.
//
//   npm run build && node bench/history-query.mjs [--runs 1000] [--steps 100] [--reps 7]
//                                                 [--no-report] [--out FILE.json]
//
// Part 1 writes the store through the real recording code (dist/store/recorder.js: one
// Recorder per run, Recorder.step per step result, Recorder.run per run record), then times
// `batch history`, `history STEP`, `trends` and `compare` as whole processes (node start
// included; the median of --reps runs), and the same queries in-process.
// Part 2 generates a 1,000-step command pipeline (bench/generate.mjs), builds it, times no-op
// runs end to end, and times the report part of after-run in-process on that project's store:
// trends of the steps that ran, then writeReports (logs/report.html + report.md).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(REPO, 'bin', 'batch.js');
const dist = (p) => import(pathToFileURL(path.join(REPO, 'dist', p)).href);

const opts = { runs: 1000, steps: 100, reps: 7, report: true, out: '' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--runs') opts.runs = Number(process.argv[++i]);
  else if (a === '--steps') opts.steps = Number(process.argv[++i]);
  else if (a === '--reps') opts.reps = Number(process.argv[++i]);
  else if (a === '--no-report') opts.report = false;
  else if (a === '--out') opts.out = process.argv[++i];
  else throw new Error(`unknown argument ${a}`);
}
if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first');

const log = (m) => process.stderr.write(`[history-bench] ${m}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
// Benchmarked processes run without NODE_EXTRA_CA_CERTS (see docs/performance.md).
const ENV = { ...process.env, NO_COLOR: '1' };
delete ENV.NODE_EXTRA_CA_CERTS;

// CPU time (user + system) of each command too, via GNU time when installed: on a machine
// shared with other work, wall time mostly measures the others.
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function timeCli(dir, args) {
  const ms = [];
  const cpu = [];
  let out = '';
  for (let r = 0; r < opts.reps; r++) {
    const argv = [process.execPath, CLI, '-C', dir, ...args];
    const t = performance.now();
    const p = GNU_TIME
      ? spawnSync(GNU_TIME, ['-f', '@cpu %U %S', ...argv], { env: ENV, encoding: 'utf8', maxBuffer: 64 << 20 })
      : spawnSync(argv[0], argv.slice(1), { env: ENV, encoding: 'utf8', maxBuffer: 64 << 20 });
    ms.push(performance.now() - t);
    if (p.status !== 0) throw new Error(`batch ${args.join(' ')} exited ${p.status}: ${p.stderr}`);
    const m = /@cpu ([\d.]+) ([\d.]+)/.exec(p.stderr);
    if (m) cpu.push((Number(m[1]) + Number(m[2])) * 1000);
    out = p.stdout;
  }
  return { medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms), ...(cpu.length ? { cpuMedianMs: median(cpu) } : {}), bytes: out.length };
}

function timeIn(fn, reps = opts.reps) {
  const ms = [];
  let v;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    v = fn();
    ms.push(performance.now() - t);
  }
  return { medianMs: median(ms), minMs: Math.min(...ms), value: v };
}

/** Deterministic pseudo-random numbers. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

// ---------------------------------------------------------------- part 1: 1,000 runs
const { openStore } = await dist('store/store.js');
const { Recorder } = await dist('store/recorder.js');
const results = { machine: { cpus: os.availableParallelism(), node: process.version, os: `${os.type()} ${os.release()}`, loadavgAtStart: os.loadavg() }, runs: opts.runs, steps: opts.steps };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-history-bench-'));
fs.writeFileSync(path.join(dir, 'Batchfile.ts'), '// not loaded by the query commands\n');
const cacheDir = path.join(dir, '.cache');
const store = openStore(cacheDir);
const rand = rng(42);
const names = Array.from({ length: opts.steps }, (_, i) => `s${String(i).padStart(3, '0')}`);
const base = names.map(() => 50 + Math.floor(rand() * 5000));
const t0Write = performance.now();
const start = Date.UTC(2026, 0, 1);
let commit = '';
for (let r = 0; r < opts.runs; r++) {
  // One run an hour; a new commit every 10 runs; step s007 gets 3x slower in the last 5 runs.
  const startedAt = start + r * 3_600_000;
  const id = `${new Date(startedAt).toISOString().replace(/[-:]/g, '').replace('.', '')}-${String(r).padStart(4, '0')}`;
  if (r % 10 === 0) commit = (BigInt(r + 1) * 0x9e3779b97f4a7c15n).toString(16).padStart(16, '0').slice(-16).repeat(3).slice(0, 40);
  const rec = new Recorder(store, id);
  const counts = { ran: 0, upToDate: 0, restored: 0, failed: 0, blocked: 0, notRun: 0 };
  names.forEach((name, i) => {
    // Every step runs on 1 run in 3 (forced every 50th run), else up to date.
    const ran = r % 50 === 0 || rand() < 1 / 3;
    const slow = name === 's007' && r >= opts.runs - 5 ? 3 : 1;
    const dur = ran ? Math.round(base[i] * slow * (0.9 + 0.2 * rand())) : 0;
    const fail = ran && rand() < 0.005;
    const result = ran
      ? { name, status: fail ? 'FAIL' : 'PASS', action: 'ran', reason: fail ? 'exit code 1' : 'input changed: data.csv', durationMs: dur, startedAt, attempts: 1, cpuMs: Math.round(dur * 0.8), peakRssBytes: 50e6, bytesRead: 4096, bytesWritten: 4096, logFile: `logs/runs/${id}/${name}.log`, ...(fail ? { error: 'exit code 1' } : {}) }
      : { name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 };
    if (ran && !fail) counts.ran++;
    else if (fail) counts.failed++;
    else counts.upToDate++;
    const state = ran && !fail ? { key: `k${r}-${i}`, parts: { definition: {}, env: {}, inputs: {}, code: {} }, outputs: {}, runId: id, at: startedAt } : undefined;
    rec.step(result, state);
  });
  const durationMs = 1000 + Math.round(rand() * 1000);
  await rec.run({
    id, startedAt, endedAt: startedAt + durationMs, durationMs, status: counts.failed ? 'FAIL' : 'PASS', flags: r % 50 === 0 ? ['--force'] : [], targets: [],
    git: { commit, dirty: false }, host: 'bench', cpus: 2, node: process.version, counts,
  });
}
await store.close();
results.writeMs = Math.round(performance.now() - t0Write);
results.storeBytes = fs.readdirSync(path.join(cacheDir, 'store')).reduce((t, f) => t + fs.statSync(path.join(cacheDir, 'store', f)).size, 0);
log(`wrote ${opts.runs} runs × ${opts.steps} steps through Recorder in ${results.writeMs} ms (${(results.storeBytes / 1e6).toFixed(1)} MB)`);

const oldest = `${new Date(start).toISOString().replace(/[-:]/g, '').replace('.', '')}-0000`;
results.cli = {
  'batch --version (node start, for reference)': timeCli(dir, ['--version']),
  'batch history': timeCli(dir, ['history']),
  'batch history --limit 1000 --json': timeCli(dir, ['history', '--limit', '1000', '--json']),
  'batch history s007': timeCli(dir, ['history', 's007']),
  'batch history s007 --limit 1000 --csv': timeCli(dir, ['history', 's007', '--limit', '1000', '--csv']),
  'batch trends': timeCli(dir, ['trends']),
  'batch trends --json': timeCli(dir, ['trends', '--json']),
  'batch compare': timeCli(dir, ['compare']),
  [`batch compare ${oldest} latest --json`]: timeCli(dir, ['compare', oldest, 'latest', '--json']),
  'batch compare <git commit prefix> latest': timeCli(dir, ['compare', commit.slice(0, 7), 'latest']),
};
for (const [k, v] of Object.entries(results.cli)) log(`${k}: ${v.medianMs.toFixed(0)} ms (min ${v.minMs.toFixed(0)}${v.cpuMedianMs !== undefined ? `, CPU ${v.cpuMedianMs.toFixed(0)} ms` : ''})`);

const { computeTrends } = await dist('history/trends.js');
const { listRuns, stepSeries } = await dist('history/query.js');
const { compareRuns } = await dist('history/compare.js');
const ro = openStore(cacheDir, { readOnly: true });
const trend = timeIn(() => computeTrends(ro));
results.inProcess = {
  'listRuns(limit 20)': timeIn(() => listRuns(ro, { limit: 20 }).length).medianMs,
  'listRuns(all)': timeIn(() => listRuns(ro).length).medianMs,
  'stepSeries(s007, 20)': timeIn(() => stepSeries(ro, 's007', { limit: 20 }).samples.length).medianMs,
  'computeTrends(all steps)': trend.medianMs,
  'compareRuns(previous, latest)': timeIn(() => compareRuns(ro, 'previous', 'latest').rows.length).medianMs,
};
results.trendsRunsScanned = trend.value.runsScanned;
results.flagged = trend.value.rows.filter((r) => r.slower).map((r) => r.step);
await ro.close();
for (const [k, v] of Object.entries(results.inProcess)) log(`in-process ${k}: ${v.toFixed(1)} ms`);
log(`trends flagged: ${results.flagged.join(', ') || 'none'} (scanned ${results.trendsRunsScanned} runs)`);
fs.rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------- part 2: report cost
if (opts.report) {
  const { generate } = await import('./generate.mjs');
  const pdir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-report-bench-'));
  generate({ steps: 1000, inputs: 1, out: pdir, kind: 'command', cpuMs: 0, sizeMib: 0, iters: 0 });
  const run = (args) => {
    const t = performance.now();
    const p = spawnSync(process.execPath, [CLI, '-C', pdir, '-j', '2', ...args], { env: ENV, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (p.status !== 0) throw new Error(`batch ${args.join(' ')} exited ${p.status}: ${p.stderr}`);
    return performance.now() - t;
  };
  log('building the 1,000-step pipeline once…');
  results.report = { buildMs: Math.round(run(['--no-tests'])) };
  const noop = [];
  for (let r = 0; r < opts.reps; r++) noop.push(run(['--no-tests']));
  results.report.noopRunMs = median(noop);
  results.report.htmlBytes = fs.statSync(path.join(pdir, 'logs', 'report.html')).size;
  results.report.mdBytes = fs.statSync(path.join(pdir, 'logs', 'report.md')).size;

  // The report part of after-run, in-process, on that project's store (8 + 1 runs recorded).
  const tImport = performance.now();
  const { writeReports } = await dist('report/html/write.js');
  results.report.importMs = performance.now() - tImport;
  const { loadBatchfile, findBatchfile } = await dist('batchfile/load.js');
  const { KINDS } = await dist('kinds/registry.js');
  const { buildGraph } = await dist('graph/graph.js');
  const { resultsOf } = await dist('history/query.js');
  const loaded = await loadBatchfile(pdir, findBatchfile(pdir), path.join(pdir, '.cache'), KINDS);
  const graph = buildGraph(loaded.config);
  const st = openStore(path.join(pdir, '.cache'), { readOnly: true });
  const record = listRuns(st, { limit: 1 })[0];
  const res = resultsOf(st, record.id);
  const byOrder = new Map(res.map((r) => [r.name, r]));
  const ordered = graph.order.map((n) => byOrder.get(n)).filter(Boolean);
  const logsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-report-out-'));
  results.report.trendsOfNoopMs = timeIn(() => computeTrends(st, { steps: new Set(ordered.filter((r) => r.action === 'ran').map((r) => r.name)) })).medianMs;
  results.report.writeReportsMs = timeIn(() => writeReports({ record, results: ordered, graph, store: st, root: pdir, logsDir })).medianMs;
  // And after a forced run, where every step ran (trends for 1,000 steps).
  await st.close();
  run(['--no-tests', '--force']);
  const st2 = openStore(path.join(pdir, '.cache'), { readOnly: true });
  const rec2 = listRuns(st2, { limit: 1 })[0];
  const res2 = new Map(resultsOf(st2, rec2.id).map((r) => [r.name, r]));
  const ordered2 = graph.order.map((n) => res2.get(n)).filter(Boolean);
  results.report.trendsOfForcedMs = timeIn(() => computeTrends(st2, { steps: new Set(ordered2.map((r) => r.name)) })).medianMs;
  results.report.writeReportsForcedMs = timeIn(() => writeReports({ record: rec2, results: ordered2, graph, store: st2, root: pdir, logsDir })).medianMs;
  await st2.close();
  log(`1,000-step no-op run: ${results.report.noopRunMs.toFixed(0)} ms end to end; report part: import ${results.report.importMs.toFixed(1)} ms + trends ${results.report.trendsOfNoopMs.toFixed(1)} ms + write ${results.report.writeReportsMs.toFixed(1)} ms (html ${(results.report.htmlBytes / 1024).toFixed(0)} KiB)`);
  log(`after a forced run (1,000 steps ran): trends ${results.report.trendsOfForcedMs.toFixed(1)} ms + write ${results.report.writeReportsForcedMs.toFixed(1)} ms`);
  fs.rmSync(pdir, { recursive: true, force: true });
  fs.rmSync(logsDir, { recursive: true, force: true });
}

results.machine.loadavgAtEnd = os.loadavg();
const json = `${JSON.stringify(results, null, 2)}\n`;
if (opts.out) fs.writeFileSync(opts.out, json);
process.stdout.write(json);
