#!/usr/bin/env node
// forEach against hand-written steps, side by side: the same 1,000 partitions (one file each in
// data/raw/), processed by one step declared with `forEach: 'data/raw/*.csv'` (project A) or by
// 1,000 steps written out in the Batchfile (project B). After a first build of each, no-op runs
// alternate A, B, A, B … (direct runs, then runs the daemon serves) and each one's wall time is
// measured (wall time, and CPU time of the client and its children); medians with min and max,
// and the ratio A/B.
//   node bench/fan-out.mjs [N=1000] [RUNS=9]      (results: bench/results/fan-out-*.json)
// NODE_EXTRA_CA_CERTS is unset for the benchmarked processes (BENCH_ENV, lib.mjs).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_ENV, BIN, CLI, REPO } from './lib.mjs';

const N = Number(process.argv[2] ?? 1000);
const RUNS = Number(process.argv[3] ?? 9);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-fanout-'));
const name = (i) => `p${String(i).padStart(5, '0')}`;

function project(dir, batchfile) {
  fs.mkdirSync(path.join(dir, 'data/raw'), { recursive: true });
  for (let i = 0; i < N; i++) fs.writeFileSync(path.join(dir, 'data/raw', `${name(i)}.csv`), `id,v\n${i},${i * 7}\n`);
  fs.writeFileSync(path.join(dir, 'Batchfile.ts'), batchfile);
}

const A = path.join(root, 'foreach');
const B = path.join(root, 'hand');
project(A, `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  tidy: { forEach: 'data/raw/*.csv', command: 'cp {path} build/tidy/{stem}.csv', inputs: ['{path}'], outputs: ['build/tidy/{stem}.csv'] },
}});
`);
const names = Array.from({ length: N }, (_, i) => name(i));
project(B, `import { defineBatch } from 'batchfile';
const names = ${JSON.stringify(names)};
const steps: Record<string, { command: string; inputs: string[]; outputs: string[] }> = {};
for (const n of names) steps['tidy:' + n] = { command: 'cp data/raw/' + n + '.csv build/tidy/' + n + '.csv', inputs: ['data/raw/' + n + '.csv'], outputs: ['build/tidy/' + n + '.csv'] };
export default defineBatch({ steps });
`);

// CPU time (user + system of the client and its children, from /usr/bin/time) beside wall time:
// the machine may be shared, and CPU time is far less disturbed by that than wall time.
const cpuFile = path.join(root, 'cpu.txt');
function batch(dir, args = []) {
  const argv = [BIN.node, CLI, '-C', dir, '-j', '2', '--json', ...args];
  const full = BIN.time ? [BIN.time, '-f', '%U %S', '-o', cpuFile, ...argv] : argv;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), { env: BENCH_ENV, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`batch in ${dir} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  let cpuMs;
  if (BIN.time) {
    const [u, s] = fs.readFileSync(cpuFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    cpuMs = (u + s) * 1000;
  }
  return { ms, cpuMs, summary: args.includes('daemon') ? undefined : JSON.parse(r.stdout) };
}

for (const dir of [A, B]) {
  fs.mkdirSync(path.join(dir, 'build/tidy'), { recursive: true });
  const first = batch(dir);
  if (first.summary.counts.ran !== N) throw new Error(`first build of ${dir} ran ${first.summary.counts.ran} steps`);
  batch(dir); // outputs hashed again past the racy window: snapshots recorded
}
// Let every output age past the racy window (2 s), then one more run records the snapshots.
await new Promise((r) => setTimeout(r, 2500));
for (const dir of [A, B]) batch(dir);

function series(label, extra = []) {
  const t = { A: [], B: [] };
  const c = { A: [], B: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const [k, dir] of [['A', A], ['B', B]]) {
      const r = batch(dir, extra);
      if (r.summary.counts.ran !== 0 || r.summary.steps.length !== N) throw new Error(`${label}: a no-op of ${dir} ran ${r.summary.counts.ran} of ${r.summary.steps.length}`);
      t[k].push(r.ms);
      if (r.cpuMs !== undefined) c[k].push(r.cpuMs);
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const stats = (xs) => ({ medianMs: Math.round(med(xs)), minMs: Math.round(Math.min(...xs)), maxMs: Math.round(Math.max(...xs)) });
  const ratio = (a, b) => {
    const rs = a.map((x, i) => x / b[i]);
    return { median: Number(med(rs).toFixed(3)), min: Number(Math.min(...rs).toFixed(3)), max: Number(Math.max(...rs).toFixed(3)) };
  };
  const cpu = c.A.length === RUNS ? { forEach: stats(c.A), handWritten: stats(c.B), ratio: ratio(c.A, c.B) } : undefined;
  return { label, runs: RUNS, forEach: stats(t.A), handWritten: stats(t.B), ratio: ratio(t.A, t.B), cpu };
}

const results = [series('direct no-op')];
for (const dir of [A, B]) spawnSync(BIN.node, [CLI, '-C', dir, 'daemon', 'start'], { env: BENCH_ENV, encoding: 'utf8' });
try {
  for (const dir of [A, B]) batch(dir); // the daemon's first run, then its idle work
  await new Promise((r) => setTimeout(r, 1500));
  results.push(series('daemon no-op'));
} finally {
  for (const dir of [A, B]) spawnSync(BIN.node, [CLI, '-C', dir, 'daemon', 'stop'], { env: BENCH_ENV, encoding: 'utf8' });
}
const out = { date: new Date().toISOString(), partitions: N, host: os.hostname(), cpus: os.availableParallelism(), loadavg: os.loadavg(), note: 'machine shared with other work; NODE_EXTRA_CA_CERTS unset', results };
const file = path.join(REPO, 'bench/results', `fan-out-${N}.json`);
fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
fs.rmSync(root, { recursive: true, force: true });
