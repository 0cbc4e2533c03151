#!/usr/bin/env node
// Remote cache benchmark (issue 17): the example pipeline on two checkouts in different
// folders sharing a real turborepo-remote-cache server (local disk, loopback).
//
//   node bench/remote-cache.mjs [--reps N] [--sample N] [--noop-reps N] [--out FILE]
//
// Measured, whole `batch --no-tests` processes, one at a time (the machine has 2 cores):
//   cold          checkout A's first run with the remote configured: every step runs and is
//                 uploaded (the uploads are awaited at the end of the run)
//   cold-local    the same checkout's first run without a remote (--no-cache): the price of
//                 uploading
//   remote        checkout B's first run (fresh .cache/, no outputs): every step restored from
//                 the remote; outputs checked byte-equal to A's. Repeated: B's .cache/, build/
//                 and output/ removed before each.
//   no-op         B up to date, alternately with and without the remote configured (the
//                 no-op must make no request; the time must not change)
// --sample N sets FLIGHTS_SAMPLE (default: the full three million rows).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCacheServer } from './cache-server.mjs';
import { batchJson, copyExample, sh, shq, treeDigest } from './example-runs.mjs';

const BENCH_ROOT = path.resolve(process.env.BENCH_ROOT ?? path.join(os.tmpdir(), 'batchfile-bench'));
const A = path.join(BENCH_ROOT, 'projects', 'remote-a');
const B = path.join(BENCH_ROOT, 'projects', 'elsewhere', 'remote-b');
const TOKEN = crypto.randomBytes(12).toString('hex');

const opts = { reps: 3, sample: undefined, noopReps: 9, out: '', coldLocalMs: undefined };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--reps') opts.reps = Number(process.argv[++i]);
  else if (a === '--sample') opts.sample = Number(process.argv[++i]);
  else if (a === '--noop-reps') opts.noopReps = Number(process.argv[++i]);
  else if (a === '--out') opts.out = process.argv[++i];
  // The cold local run measured before (it takes minutes): skips measuring it again.
  else if (a === '--cold-local-ms') opts.coldLocalMs = Number(process.argv[++i]);
  else throw new Error(`unknown argument ${a}`);
}

const log = (m) => process.stderr.write(`[remote-bench] ${m}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const range = (xs) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;

/** One `batch --json --no-tests` process in `dir`, with the token and no remote cache from this
 * shell's environment; the token must never be printed. */
function batch(dir, args = []) {
  const sample = opts.sample !== undefined ? String(opts.sample) : undefined;
  const r = batchJson(dir, args, { BATCH_REMOTE_CACHE_TOKEN: TOKEN, BATCH_REMOTE_CACHE_URL: undefined, BATCH_REMOTE_CACHE_TEAM: undefined, FLIGHTS_SAMPLE: sample });
  if (r.stderr.includes(TOKEN) || JSON.stringify(r.doc).includes(TOKEN)) throw new Error('the token was printed');
  return r;
}

/** The example's sources copied to `dir`, as in bench/cache-restore.mjs. */
const checkout = copyExample;

const server = await startCacheServer(TOKEN);
const remote = ['--remote-cache', server.url, '--remote-cache-team', 'bench'];
const results = {
  started: new Date().toISOString(),
  machine: { cpus: os.availableParallelism(), node: process.version, kernel: os.release(), fs: sh(`df -T ${shq(BENCH_ROOT)} | tail -1 | awk '{print $2}'`) },
  sample: opts.sample ?? 'full',
  reps: opts.reps,
};
try {
  checkout(A);
  checkout(B);
  let coldLocal = { ms: opts.coldLocalMs, load: 'earlier' };
  let reference;
  if (opts.coldLocalMs === undefined) {
    log('cold run without a remote (--no-cache), checkout A');
    coldLocal = batch(A, ['--no-cache']);
    reference = treeDigest(A);
    log(`  ${fmt(coldLocal.ms)}; ${reference.files} files, ${(reference.bytes / 2 ** 20).toFixed(0)} MiB`);
    sh(`cd ${shq(A)} && rm -rf .cache logs build output`);
  }
  log('cold run with the remote (runs, stores, uploads), checkout A');
  const cold = batch(A, remote);
  const up = cold.doc.remoteCache;
  if (!up || up.uploads.length !== cold.doc.steps.length) throw new Error(`expected every step uploaded: ${JSON.stringify(up)}`);
  if (reference && treeDigest(A).digest !== reference.digest) throw new Error('cold run with the remote wrote other bytes');
  reference ??= treeDigest(A);
  const upBytes = up.uploads.reduce((n, u) => n + u.bytes, 0);
  log(`  ${fmt(cold.ms)}; uploaded ${up.uploads.length} entries, ${(upBytes / 2 ** 20).toFixed(0)} MiB`);
  results.cold = { localMs: coldLocal.ms, remoteMs: cold.ms, uploads: up.uploads.length, uploadBytes: upBytes, load: [coldLocal.load, cold.load] };
  results.outputs = { files: reference.files, bytes: reference.bytes };

  const restores = [];
  const loads = [];
  for (let i = 0; i < opts.reps; i++) {
    sh(`cd ${shq(B)} && rm -rf .cache logs build output`);
    const r = batch(B, remote);
    const remoteHits = r.doc.steps.filter((s) => s.action === 'restored' && s.source === 'remote').length;
    if (remoteHits !== r.doc.steps.length) throw new Error(`checkout B: expected every step restored from the remote, got ${JSON.stringify(r.doc.steps.map((s) => [s.name, s.action, s.source]))}\n${r.stderr}`);
    if (treeDigest(B).digest !== reference.digest) throw new Error('checkout B: restored outputs differ from A');
    restores.push(r.ms);
    loads.push(r.load);
    log(`  B, all restored from the remote #${i + 1}: ${fmt(r.ms)} (load ${r.load})`);
  }
  results.remoteRestore = { ms: restores, median: median(restores), load: loads };

  // Settle B: the first run after a restore hashes the fresh outputs again.
  batch(B, remote);
  batch(B, remote);
  const withRemote = [];
  const without = [];
  for (let i = 0; i < opts.noopReps; i++) {
    const w = batch(B, remote);
    if (w.doc.counts.upToDate !== w.doc.steps.length) throw new Error('no-op expected');
    if (w.doc.remoteCache.hits + w.doc.remoteCache.misses !== 0) throw new Error('a no-op asked the remote');
    withRemote.push(w.ms);
    without.push(batch(B).ms);
  }
  results.noop = { withRemoteMs: withRemote, withoutMs: without, withMedian: median(withRemote), withoutMedian: median(without) };
} finally {
  await server.stop();
}

const out = opts.out || path.join(BENCH_ROOT, 'results', `remote-cache-${results.started.replace(/[:.]/g, '-').slice(0, 19)}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
const md = [
  `Example pipeline (${results.sample === 'full' ? 'full data' : `FLIGHTS_SAMPLE=${results.sample}`}): ${results.outputs.files} output files, ${(results.outputs.bytes / 2 ** 20).toFixed(0)} MiB; ${results.machine.cpus} CPUs, ${results.machine.fs}, Node ${results.machine.node}; server and both checkouts on this machine (loopback).`,
  '',
  '| run | wall |',
  '|---|---:|',
  `| cold, no remote (--no-cache), 1 run | ${fmt(results.cold.localMs)} |`,
  `| cold, remote configured: runs, stores, uploads ${results.cold.uploads} entries (${(results.cold.uploadBytes / 2 ** 20).toFixed(0)} MiB), 1 run | ${fmt(results.cold.remoteMs)} |`,
  `| second checkout's first run: every step restored from the remote, median (min–max) of ${opts.reps} | ${range(results.remoteRestore.ms)} |`,
  `| no-op with the remote configured, median (min–max) of ${opts.noopReps} | ${range(results.noop.withRemoteMs)} |`,
  `| no-op without a remote, alternated with the above | ${range(results.noop.withoutMs)} |`,
  '',
  `Cold / restored from remote: ${(results.cold.remoteMs / results.remoteRestore.median).toFixed(1)}×. Load average before each: ${[...new Set([...results.cold.load, ...results.remoteRestore.load])].join('; ')}.`,
  `Raw numbers: ${out}`,
];
process.stdout.write(`${md.join('\n')}\n`);
