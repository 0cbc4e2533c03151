#!/usr/bin/env node
// Where a direct no-op's time goes, phase by phase: runs `batch` N times in a built project
// with CI=1 (no daemon) and BATCH_TIMING=1, and gives each phase's median increase (wall and
// CPU, with min and max), beside a bare `node -e 0` (Node's own start) timed the same way.
//
//   env -u NODE_EXTRA_CA_CERTS node bench/noop-phases.mjs DIR [RUNS=21] [--out FILE.json]
//
// DIR must be built and past the racy window (a no-op decided by stat snapshots). The runs
// alternate with the bare Node starts so that both see the same machine load.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args.splice(outAt, 2)[1] : undefined;
const [dir, runsArg] = args;
if (!dir) {
  console.error('usage: node bench/noop-phases.mjs DIR [RUNS] [--out FILE.json]');
  process.exit(2);
}
const runs = Number(runsArg ?? 21);
const env = { ...process.env, CI: '1', BATCH_TIMING: '1', BATCH_DAEMON: '0' };
delete env.NODE_EXTRA_CA_CERTS;

/** CPU (user + system) of a finished child, from /proc-free getrusage of children. */
function timed(cmd, argv) {
  const before = process.resourceUsage ? childCpu() : 0;
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { env, encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall, cpu: childCpu() - before, stdout: r.stdout, stderr: r.stderr };
}

/** CPU time of all children waited for so far (ms), via `/proc/self/stat` cutime + cstime. */
function childCpu() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 100; // USER_HZ on Linux
  return ((Number(f[13]) + Number(f[14])) * 1000) / tick;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const phases = new Map();
const bare = [];
const whole = [];
for (let i = 0; i < runs; i++) {
  bare.push(timed(process.execPath, ['-e', '0']));
  const r = timed(process.execPath, [path.join(REPO, 'bin/batch.js'), '-C', dir]);
  if (!/0 ran, \d+ up-to-date/.test(r.stdout)) throw new Error(`not a no-op:\n${r.stdout}`);
  whole.push(r);
  for (const m of r.stderr.matchAll(/^ {2}(\S.*?)\s+wall\s+[\d.]+ ms \(\+\s*([\d.]+)\)\s+cpu\s+[\d.]+ ms \(\+\s*([\d.]+)\)/gm)) {
    const p = phases.get(m[1]) ?? { wall: [], cpu: [] };
    p.wall.push(Number(m[2]));
    p.cpu.push(Number(m[3]));
    phases.set(m[1], p);
  }
}
const fmt = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
const rows = [['node -e 0 (Node start, exit)', bare.map((b) => b.wall), bare.map((b) => b.cpu)], ...[...phases].map(([k, v]) => [k, v.wall, v.cpu]), ['whole process', whole.map((w) => w.wall), whole.map((w) => w.cpu)]];
console.log(`${runs} runs in ${dir}; load average ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
console.log('| phase | wall ms, median (min–max) | CPU ms, median (min–max) |\n|---|---|---|');
for (const [k, w, c] of rows) console.log(`| ${k} | ${fmt(w)} | ${fmt(c)} |`);
if (out) fs.writeFileSync(out, `${JSON.stringify({ dir, runs, at: new Date().toISOString(), loadavg: fs.readFileSync('/proc/loadavg', 'utf8').trim(), env: 'NODE_EXTRA_CA_CERTS unset, CI=1, BATCH_TIMING=1', rows: rows.map(([k, w, c]) => ({ phase: k, wallMs: w, cpuMs: c })) }, null, 2)}\n`);
