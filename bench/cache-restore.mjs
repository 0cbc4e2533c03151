#!/usr/bin/env node
// Output cache benchmark (issue 8): restoring the example pipeline's outputs from the cache
// against rerunning the steps that wrote them.
//
//   node bench/cache-restore.mjs [--reps N] [--sample N] [--out FILE]
//
// Works on a copy of the repository's example pipeline (Batchfile.ts at the root) under
// $BENCH_ROOT/projects/cache-example (BENCH_ROOT defaults to /tmp/batchfile-bench), so the
// repository's own build/ and .cache/ are left alone. Whole `batch` processes are timed
// (wall clock, --no-tests), one at a time: the machine has 2 cores.
//
// Measured:
//   cold         first run from nothing, with the cache (runs and stores) and with --no-cache
//                (runs only): the price of storing.
//   deleted      build/ and output/ removed: restore (default) vs rerun (--no-cache).
//   flip-back    after a sampled run (FLIGHTS_SAMPLE=N), back to the full data: the cached full
//                results are restored over the sampled ones vs rerun. The everyday case:
//                a parameter, env value or input flipped back.
// Every restore is checked: the files under build/ and output/ must be byte-identical to
// what the rerun wrote.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { batchJson, copyExample, sh, shq, treeDigest } from './example-runs.mjs';

const BENCH_ROOT = path.resolve(process.env.BENCH_ROOT ?? path.join(os.tmpdir(), 'batchfile-bench'));
const DIR = path.join(BENCH_ROOT, 'projects', 'cache-example');

const opts = { reps: 3, sample: 20000, out: '' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--reps') opts.reps = Number(process.argv[++i]);
  else if (a === '--sample') opts.sample = Number(process.argv[++i]);
  else if (a === '--out') opts.out = process.argv[++i];
  else throw new Error(`unknown argument ${a}`);
}

const log = (m) => process.stderr.write(`[cache-bench] ${m}\n`);

/** One `batch --json --no-tests` process in the copy; FLIGHTS_SAMPLE only when given. */
const batch = (args = [], env = {}) => batchJson(DIR, args, { FLIGHTS_SAMPLE: undefined, ...env });

const actionsOf = (doc) => {
  const n = {};
  for (const s of doc.steps) n[s.action] = (n[s.action] ?? 0) + 1;
  return n;
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtCpu = (ms) => (ms === undefined || Number.isNaN(ms) ? '–' : fmt(ms));
const fmt = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

log(`copying the example pipeline to ${DIR}`);
copyExample(DIR);
const rmOutputs = () => sh(`cd ${shq(DIR)} && rm -rf build output`);

const results = {
  started: new Date().toISOString(),
  machine: { cpus: os.availableParallelism(), node: process.version, fs: sh(`df -T ${shq(BENCH_ROOT)} | tail -1 | awk '{print $2}'`), kernel: os.release() },
  reps: opts.reps,
  sample: opts.sample,
  rows: {},
};

// cold: with --no-cache first (nothing stored), then with the cache (everything stored).
log('cold run, --no-cache');
const coldNoCache = batch(['--no-cache']);
const reference = treeDigest(DIR);
log(`  ${fmt(coldNoCache.ms)}; outputs: ${reference.files} files, ${(reference.bytes / 2 ** 20).toFixed(0)} MiB`);
sh(`cd ${shq(DIR)} && rm -rf .cache logs build output`);
log('cold run, storing into the cache');
const coldStore = batch();
if (treeDigest(DIR).digest !== reference.digest) throw new Error('the cold run with the cache wrote other bytes than without it');
log(`  ${fmt(coldStore.ms)}`);
results.outputs = { files: reference.files, bytes: reference.bytes };
results.rows.cold = { noCacheMs: coldNoCache.ms, storeMs: coldStore.ms, noCacheCpuMs: coldNoCache.cpuMs, storeCpuMs: coldStore.cpuMs, load: [coldNoCache.load, coldStore.load] };

/** Alternates restore and rerun `reps` times after `prepare`, checking every restore. */
function compare(name, prepare) {
  const restore = [];
  const rerun = [];
  const restoreCpu = [];
  const rerunCpu = [];
  const loads = [];
  for (let i = 0; i < opts.reps; i++) {
    prepare();
    const r = batch();
    if (r.doc.counts.restored !== r.doc.steps.length) throw new Error(`${name}: expected every step restored, got ${JSON.stringify(actionsOf(r.doc))}`);
    if (treeDigest(DIR).digest !== reference.digest) throw new Error(`${name}: restored outputs differ from a clean build`);
    restore.push(r.ms);
    restoreCpu.push(r.cpuMs);
    loads.push(r.load);
    log(`  ${name} restore #${i + 1}: ${fmt(r.ms)} (load ${r.load})`);
    prepare();
    const n = batch(['--no-cache']);
    if (n.doc.counts.ran !== n.doc.steps.length) throw new Error(`${name}: expected every step to run, got ${JSON.stringify(actionsOf(n.doc))}`);
    rerun.push(n.ms);
    rerunCpu.push(n.cpuMs);
    loads.push(n.load);
    log(`  ${name} rerun   #${i + 1}: ${fmt(n.ms)} (load ${n.load})`);
  }
  results.rows[name] = {
    restoreMs: restore, rerunMs: rerun, restoreMedian: median(restore), rerunMedian: median(rerun), speedup: median(rerun) / median(restore),
    restoreCpuMs: restoreCpu, rerunCpuMs: rerunCpu, restoreCpuMedian: median(restoreCpu), rerunCpuMedian: median(rerunCpu), load: loads,
  };
}

log('outputs deleted: restore vs rerun');
compare('deleted', rmOutputs);

log(`flip back from FLIGHTS_SAMPLE=${opts.sample} to the full data: restore vs rerun`);
compare('flip-back', () => {
  const s = batch([], { FLIGHTS_SAMPLE: String(opts.sample) });
  if (s.doc.counts.ran + s.doc.counts.restored + s.doc.counts.upToDate !== s.doc.steps.length) throw new Error('sampled run incomplete');
});

const out = opts.out || path.join(BENCH_ROOT, 'results', `cache-restore-${results.started.replace(/[:.]/g, '-').slice(0, 19)}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

const md = [
  `Example pipeline: ${reference.files} output files, ${(reference.bytes / 2 ** 20).toFixed(0)} MiB; ${results.machine.cpus} CPUs, ${results.machine.fs}, Node ${results.machine.node}; medians of ${opts.reps}.`,
  '',
  '| scenario | rerun (--no-cache), wall | restore, wall | speed-up | rerun, CPU | restore, CPU |',
  '|---|---:|---:|---:|---:|---:|',
  ...['deleted', 'flip-back'].map((k) => {
    const r = results.rows[k];
    return `| ${k} | ${fmt(r.rerunMedian)} | ${fmt(r.restoreMedian)} | ${r.speedup.toFixed(0)}× | ${fmtCpu(r.rerunCpuMedian)} | ${fmtCpu(r.restoreCpuMedian)} |`;
  }),
  '',
  `Cold run: ${fmt(coldNoCache.ms)} wall (${fmtCpu(coldNoCache.cpuMs)} CPU) with --no-cache; ${fmt(coldStore.ms)} wall (${fmtCpu(coldStore.cpuMs)} CPU) storing every output into the cache.`,
  `Load average before the measurements: ${[...new Set(Object.values(results.rows).flatMap((r) => r.load))].join('; ')}.`,
  `Raw numbers: ${out}`,
];
process.stdout.write(`${md.join('\n')}\n`);
