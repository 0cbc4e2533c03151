#!/usr/bin/env node
// The Redis executor against the local executor (docs/distributed.md, *Results*).
//
// 1. Speed-up: a CPU-bound synthetic pipeline (STEPS independent `run` steps, each a fixed
//    amount of hashing work in a worker thread, then one step that joins them), run with
//    `--force` by the local executor (-j1 and -j2) and by 1, 2 and 4 `batch worker`
//    processes of one slot each. Wall time of the whole `batch` process, median of REPS.
// 2. Per-step overhead of the queue: a chain of CHAIN trivial steps (each waits for the one
//    before), local -j1 against one worker -j1; (distributed − local) / CHAIN of the runs'
//    recorded durations (first step scheduled to last settled), median of REPS; the median of
//    the recorded queue waits; and the fixed cost per run (process wall difference less the
//    steps' difference: loading BullMQ and ioredis, connecting, closing).
//
// A real redis-server on a free loopback port in a temp folder; worker processes are real
// processes. Runs one measurement at a time. The benchmarked processes run without
// NODE_EXTRA_CA_CERTS (BENCH_ENV in lib.mjs).
//
// 3. File mode `cache` (mode 2): the same chain on one worker that shares no disk (its own
//    folder, files through a real turborepo-remote-cache server on loopback), against the
//    same chain on one mode-1 worker, measured in turn in the same script run.
// 4. (`--only start --before DIR`) the coordinator's fixed start through the queue: a
//    one-step pipeline and a no-op, by this build and by the build in DIR (a copy of bin/,
//    dist/, package.json), alternated; and whether the no-op connected to Redis at all
//    (redis-server's total_connections_received before and after).
//
//   node bench/distributed.mjs [--reps N] [--steps N] [--chain N] [--only cpu,chain,start] [--before DIR] [--out FILE.json]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startCacheServer } from './cache-server.mjs';
import { BENCH_ENV, CLI } from './lib.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const REPS = Number(arg('--reps', '5'));
const STEPS = Number(arg('--steps', '8'));
const CHAIN = Number(arg('--chain', '40'));
const OUT = arg('--out', undefined);
const WORK_ROUNDS = Number(arg('--work', '6000000'));
const ONLY = new Set(arg('--only', 'cpu,chain').split(','));
const BEFORE = arg('--before', undefined);
const TOKEN = 'bench-token';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'batchfile-dist-bench-'));
const say = (s) => process.stderr.write(`${s}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const dir = path.join(root, 'redis');
  fs.mkdirSync(dir);
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => new Promise((r) => (child.on('exit', r), child.kill('SIGTERM'))) };
}

/** A project folder with the given Batchfile body and step module. */
function project(name, steps) {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'steps'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Batchfile.ts'), `import { defineBatch } from 'batchfile';\nexport default defineBatch({ steps: {\n${steps}\n} });\n`);
  fs.writeFileSync(path.join(dir, 'steps/work.ts'), `import crypto from 'node:crypto';
import fs from 'node:fs';
// CPU-bound: a fixed number of rounds of hashing, the same bytes every run.
export default function (ctx: { root: string; params: { rounds: number; seed: string }; inputs: string[]; outputs: string[] }) {
  let h = ctx.params.seed + ctx.inputs.map((f) => fs.readFileSync(f, 'utf8')).join('');
  for (let i = 0; i < ctx.params.rounds; i++) if (i % 1000 === 0) h = crypto.createHash('sha256').update(h).digest('hex'); else h = h.slice(1) + h[0];
  fs.mkdirSync(ctx.root + '/out', { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, h + '\\n');
}
`);
  return dir;
}

function cpuProject() {
  const parts = [];
  for (let i = 0; i < STEPS; i++) parts.push(`  w${i}: { run: 'steps/work.ts', params: { rounds: ${WORK_ROUNDS}, seed: 's${i}' }, outputs: ['out/w${i}.txt'] },`);
  parts.push(`  join: { run: 'steps/work.ts', params: { rounds: 1000, seed: 'j' }, inputs: [${Array.from({ length: STEPS }, (_, i) => `'out/w${i}.txt'`).join(', ')}], outputs: ['out/join.txt'] },`);
  return project('cpu', parts.join('\n'));
}

function chainProject() {
  const parts = [];
  for (let i = 0; i < CHAIN; i++) parts.push(`  c${i}: { run: 'steps/work.ts', params: { rounds: 1, seed: 'c${i}' }, ${i > 0 ? `inputs: ['out/c${i - 1}.txt'], ` : ''}outputs: ['out/c${i}.txt'] },`);
  return project('chain', parts.join('\n'));
}

function runBatch(dir, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const env = { ...BENCH_ENV, NO_COLOR: '1', CI: '1', BATCH_REMOTE_CACHE_TOKEN: TOKEN, ...opts.env };
    const child = spawn(process.execPath, [opts.cli ?? CLI, '-C', dir, ...(opts.noForce ? [] : ['--force']), '--no-cache', '--json', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`batch ${args.join(' ')} exited ${code}: ${err}`));
      resolve({ ms, doc: JSON.parse(out) });
    });
  });
}

/** `mode2`: { cacheUrl, queue } — workers in folders of their own, files through the cache server. */
async function startWorkers(dir, url, n, mode2) {
  const ws = [];
  for (let i = 0; i < n; i++) {
    let args = [CLI, '-C', dir, 'worker', '--redis', url, '-j', '1'];
    let cwd;
    if (mode2) {
      cwd = fs.mkdtempSync(path.join(root, 'worker-'));
      args = [CLI, 'worker', '--redis', url, '-j', '1', '--queue', mode2.queue, '--remote-cache', mode2.cacheUrl, '--remote-cache-team', 'bench'];
    }
    const child = spawn(process.execPath, args, { cwd, env: { ...BENCH_ENV, NO_COLOR: '1', BATCH_REMOTE_CACHE_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`worker did not start: ${out}`)), 20_000);
      const on = (d) => {
        out += d;
        if (/serving queue|waiting for a coordinator/.test(out)) {
          clearTimeout(t);
          resolve();
        }
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
    });
    ws.push(child);
  }
  return {
    stop: () => Promise.all(ws.map((c) => new Promise((r) => (c.on('exit', r), c.kill('SIGTERM'))))),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stat = (xs) => ({ median: Math.round(median(xs)), min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)), n: xs.length });

async function measure(label, dir, args) {
  await runBatch(dir, args); // warm: compiled modules, page cache, workers' pools
  const ms = [];
  const runMs = [];
  const waits = [];
  let outputs;
  for (let i = 0; i < REPS; i++) {
    const r = await runBatch(dir, args);
    ms.push(r.ms);
    runMs.push(r.doc.durationMs);
    for (const s of r.doc.steps) if (s.queueWaitMs !== undefined) waits.push(s.queueWaitMs);
    const now = fs.readdirSync(path.join(dir, 'out')).sort().map((f) => fs.readFileSync(path.join(dir, 'out', f), 'utf8')).join('');
    if (outputs !== undefined && outputs !== now) throw new Error(`${label}: outputs differ between runs`);
    outputs = now;
  }
  const res = { label, wall: stat(ms), run: stat(runMs), ...(waits.length ? { queueWait: stat(waits) } : {}), outputs };
  say(`${label.padEnd(30)} wall median ${res.wall.median} ms (min ${res.wall.min}, max ${res.wall.max}); steps ${res.run.median} ms${res.queueWait ? `; queue wait median ${res.queueWait.median} ms` : ''}`);
  return res;
}

const redis = await startRedis();
const results = { when: new Date().toISOString(), host: os.hostname(), cpus: os.availableParallelism(), node: process.version, reps: REPS, steps: STEPS, chain: CHAIN, workRounds: WORK_ROUNDS, cpu: [], chainRuns: [] };
try {
  if (ONLY.has('cpu')) await cpuPart();
  if (ONLY.has('chain')) await chainPart();
  if (ONLY.has('start')) await startPart();
} finally {
  await redis.stop();
  fs.rmSync(root, { recursive: true, force: true });
}

async function cpuPart() {
  const cpu = cpuProject();
  results.cpu.push(await measure('local -j1', cpu, ['-j', '1']));
  results.cpu.push(await measure('local -j2', cpu, ['-j', '2']));
  for (const n of [1, 2, 4]) {
    const ws = await startWorkers(cpu, redis.url, n);
    try {
      results.cpu.push(await measure(`${n} worker process${n > 1 ? 'es' : ''} (-j1 each)`, cpu, ['--executor', redis.url]));
    } finally {
      await ws.stop();
    }
  }
  const ref = results.cpu[0].outputs;
  for (const r of results.cpu) {
    if (r.outputs !== ref) throw new Error(`${r.label}: outputs differ from the local run's`);
    r.speedupVsLocalJ1 = +(results.cpu[0].wall.median / r.wall.median).toFixed(2);
    delete r.outputs;
  }
}

async function chainPart() {
  const chain = chainProject();
  const local = await measure('chain, local -j1', chain, ['-j', '1']);
  let ws = await startWorkers(chain, redis.url, 1);
  let dist;
  try {
    dist = await measure('chain, 1 worker -j1', chain, ['--executor', redis.url, '-j', '1']);
  } finally {
    await ws.stop();
  }
  const cache = await startCacheServer(TOKEN, { parent: root });
  const mode2 = { cacheUrl: cache.url, queue: 'bench-mode2' };
  let dist2;
  try {
    ws = await startWorkers(chain, redis.url, 1, mode2);
    try {
      dist2 = await measure('chain, 1 mode-2 worker -j1', chain, ['--executor', redis.url, '-j', '1', '--queue', mode2.queue, '--worker-files', 'cache', '--remote-cache', cache.url, '--remote-cache-team', 'bench']);
    } finally {
      await ws.stop();
    }
  } finally {
    await cache.stop();
  }
  if (dist.outputs !== local.outputs || dist2.outputs !== local.outputs) throw new Error('chain: outputs differ');
  for (const r of [local, dist, dist2]) delete r.outputs;
  results.chainRuns.push(local, dist, dist2);
  // Per step: the runs' own durations (scheduling to last step, as recorded), which leave out
  // the process start and the executor's fixed start (loading BullMQ, connecting).
  results.perStepOverheadMs = +((dist.run.median - local.run.median) / CHAIN).toFixed(1);
  results.perStepMode2VsMode1Ms = +((dist2.run.median - dist.run.median) / CHAIN).toFixed(1);
  results.fixedStartMs = Math.round(dist.wall.median - local.wall.median - (dist.run.median - local.run.median));
  say(`per-step queue overhead: ${results.perStepOverheadMs} ms ((distributed − local) / ${CHAIN} chained steps, run durations, medians); fixed cost per run: ${results.fixedStartMs} ms`);
  say(`mode 2 over mode 1, per step: ${results.perStepMode2VsMode1Ms} ms`);
}

/** Redis's count of connections accepted so far. */
async function redisConnections() {
  const port = new URL(redis.url).port;
  const out = await new Promise((resolve, reject) => {
    const c = spawn('redis-cli', ['-p', port, 'info', 'stats'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let o = '';
    c.stdout.on('data', (d) => (o += d));
    c.on('close', (code) => (code === 0 ? resolve(o) : reject(new Error(`redis-cli exited ${code}`))));
  });
  return Number(/total_connections_received:(\d+)/.exec(out)[1]) - 1; // less this redis-cli's own
}

async function startPart() {
  if (!BEFORE) throw new Error('--only start needs --before DIR (a copy of bin/, dist/ and package.json of the build to compare with)');
  const one = project('one', `  only: { run: 'steps/work.ts', params: { rounds: 1, seed: 'one' }, outputs: ['out/only.txt'] },`);
  const ws = await startWorkers(one, redis.url, 1);
  const builds = { before: path.join(BEFORE, 'bin', 'batch.js'), after: CLI };
  const wall = { before: [], after: [] };
  const noop = { before: [], after: [] };
  const noopConnections = { before: [], after: [] };
  try {
    for (const b of ['before', 'after']) await runBatch(one, ['--executor', redis.url], { cli: builds[b] }); // warm
    for (let i = 0; i < REPS; i++) {
      for (const b of i % 2 ? ['after', 'before'] : ['before', 'after']) {
        wall[b].push((await runBatch(one, ['--executor', redis.url], { cli: builds[b] })).ms);
        // A no-op as a user meets it: the steps proven up to date by their stat snapshots. The
        // first no-op after the forced run records them (with the racy window at 0, so they are
        // not refused as too new); the second is measured.
        const quiet = { cli: builds[b], noForce: true, env: { BATCH_RACY_WINDOW_MS: '0' } };
        await runBatch(one, ['--executor', redis.url], quiet);
        const c0 = await redisConnections();
        noop[b].push((await runBatch(one, ['--executor', redis.url], quiet)).ms);
        // Less one: the first count's own redis-cli connection is in the second count.
        noopConnections[b].push((await redisConnections()) - c0 - 1);
      }
    }
  } finally {
    await ws.stop();
  }
  results.start = {
    oneStep: { before: stat(wall.before), after: stat(wall.after) },
    noop: { before: stat(noop.before), after: stat(noop.after) },
    noopConnections,
  };
  say(`one step through the queue: before ${results.start.oneStep.before.median} ms (${results.start.oneStep.before.min}–${results.start.oneStep.before.max}), after ${results.start.oneStep.after.median} ms (${results.start.oneStep.after.min}–${results.start.oneStep.after.max})`);
  say(`no-op: before ${results.start.noop.before.median} ms, after ${results.start.noop.after.median} ms; Redis connections per no-op: before ${noopConnections.before.join(',')}, after ${noopConnections.after.join(',')}`);
}
const json = JSON.stringify(results, null, 2);
if (OUT) fs.writeFileSync(OUT, `${json}\n`);
process.stdout.write(`${json}\n`);
