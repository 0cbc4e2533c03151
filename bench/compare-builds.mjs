#!/usr/bin/env node
// Two builds of batchfile side by side on the same synthetic pipeline: "is it slower than
// before?" for a restructuring (issue 15's layers) or any change that should not cost speed.
// Each build gets its own copy of one generated project; runs alternate before, after,
// before, after … so drifting load hits both alike. Wall time and CPU time (user + system
// of the CLI and its children, /usr/bin/time) are recorded; medians with min and max, and
// the after/before ratio of each pair.
//
//   node bench/compare-builds.mjs --before DIR --after DIR [--steps 1000] [--inputs 10]
//                                 [--runs 15] [--first-runs 5] [--served] [--out FILE]
// DIR: a checkout of batchfile with its build (node_modules, dist/), e.g. a git worktree of
// an older commit after ./install.sh. NODE_EXTRA_CA_CERTS is unset for the timed processes
// (BENCH_ENV, lib.mjs), and the daemon is off (BATCH_DAEMON=manual): direct runs.
// --served: then also each build's daemon, started by hand in its copy (`batch daemon start`),
// serving no-ops and runs with one input changed (fresh content each time), alternating.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from './generate.mjs';
import { BENCH_ENV, BIN, REPO } from './lib.mjs';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const before = opt('before');
const after = opt('after', REPO);
if (!before) {
  console.error('usage: node bench/compare-builds.mjs --before DIR --after DIR [--steps 1000] [--inputs 10] [--runs 15] [--first-runs 5] [--out FILE]');
  process.exit(2);
}
const steps = Number(opt('steps', 1000));
const inputs = Number(opt('inputs', 10));
const RUNS = Number(opt('runs', 15));
const FIRST_RUNS = Number(opt('first-runs', 5));
const builds = { before: path.resolve(before), after: path.resolve(after) };
const rev = (dir) => spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-compare-'));
const base = path.join(root, 'base');
const meta = generate({ out: base, kind: 'command', steps, inputs, cpuMs: 0, sizeMib: 0, iters: 0 });
const served = process.argv.includes('--served');
const dirs = {};
for (const k of Object.keys(builds)) {
  dirs[k] = path.join(root, k);
  fs.cpSync(base, dirs[k], { recursive: true });
}

const cpuFile = path.join(root, 'cpu.txt');
function batch(k, extra = []) {
  const argv = [BIN.node, path.join(builds[k], 'bin/batch.js'), '-C', dirs[k], ...(extra[0] === 'daemon' ? [] : ['-j', '2']), ...extra];
  const full = [BIN.time, '-f', '%U %S', '-o', cpuFile, ...argv];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), { env: BENCH_ENV, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${k}: batch exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const [u, s] = fs.readFileSync(cpuFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { ms, cpuMs: (u + s) * 1000 };
}
const fresh = (k) => {
  for (const d of ['.cache', 'logs', 'out']) fs.rmSync(path.join(dirs[k], d), { recursive: true, force: true });
  fs.mkdirSync(path.join(dirs[k], 'out'));
};

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = (xs) => ({ medianMs: Math.round(med(xs)), minMs: Math.round(Math.min(...xs)), maxMs: Math.round(Math.max(...xs)) });
const ratio = (a, b) => {
  const rs = a.map((x, i) => x / b[i]);
  return { median: Number(med(rs).toFixed(3)), min: Number(Math.min(...rs).toFixed(3)), max: Number(Math.max(...rs).toFixed(3)) };
};

function series(label, runs, prepare) {
  const wall = { before: [], after: [] };
  const cpu = { before: [], after: [] };
  for (let i = 0; i < runs; i++) {
    for (const k of ['before', 'after']) {
      prepare?.(k);
      const r = batch(k);
      wall[k].push(r.ms);
      cpu[k].push(r.cpuMs);
    }
  }
  return {
    label,
    runs,
    wall: { before: stats(wall.before), after: stats(wall.after), ratio: ratio(wall.after, wall.before) },
    cpu: { before: stats(cpu.before), after: stats(cpu.after), ratio: ratio(cpu.after, cpu.before) },
  };
}

const results = [series('first build', FIRST_RUNS, fresh)];
// Outputs aged past the racy window (2 s), then one run records the snapshots a no-op uses.
await new Promise((r) => setTimeout(r, 2500));
for (const k of ['before', 'after']) batch(k);
results.push(series('no-op', RUNS));
if (served) {
  for (const k of ['before', 'after']) batch(k, ['daemon', 'start']);
  for (const k of ['before', 'after']) batch(k); // the first served run stats every file
  await new Promise((r) => setTimeout(r, 1500)); // the daemons' work after it
  results.push(series('served no-op', RUNS));
  let n = 0;
  const change = (k) => fs.writeFileSync(path.join(dirs[k], meta.changeInput), `changed ${process.pid} ${n++}\n`);
  results.push(series('served, one input changed', RUNS, change));
  for (const k of ['before', 'after']) batch(k, ['daemon', 'stop']);
}

const out = {
  date: new Date().toISOString(),
  steps,
  inputs,
  builds: { before: { dir: builds.before, rev: rev(builds.before) }, after: { dir: builds.after, rev: rev(builds.after) } },
  cpus: os.availableParallelism(),
  loadavg: os.loadavg(),
  note: `direct runs (BATCH_DAEMON=manual)${served ? ', then served runs (a daemon started by hand in each copy)' : ''}, -j 2, NODE_EXTRA_CA_CERTS unset; ratio = after / before per alternating pair`,
  results,
};
const file = opt('out', path.join(REPO, 'bench/results', `compare-builds-${out.builds.before.rev}-${out.builds.after.rev}-${steps}.json`));
fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
fs.rmSync(root, { recursive: true, force: true });
