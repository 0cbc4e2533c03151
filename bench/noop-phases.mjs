#!/usr/bin/env node
// Where a direct no-op's time goes, phase by phase: runs `batch` N times in a built project
// with CI=1 (no daemon) and BATCH_TIMING=1, and gives each phase's median increase (wall and
// CPU, with min and max), beside a bare `node -e 0` (Node's own start) timed the same way.
//
//   env -u NODE_EXTRA_CA_CERTS node bench/noop-phases.mjs DIR [RUNS=21] [--out FILE.json]
//                                                        [--against BUILD]
//
// DIR must be built and past the racy window (a no-op decided by stat snapshots). The runs
// alternate with the bare Node starts so that both see the same machine load.
// --against BUILD: another checkout of batchfile with its build (a worktree of main, say) is
// timed too, in a copy of DIR of its own, its runs alternating with this one's: two tables
// measured side by side, and the ratio of the two whole processes' medians.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args.splice(outAt, 2)[1] : undefined;
const againstAt = args.indexOf('--against');
const against = againstAt >= 0 ? path.resolve(args.splice(againstAt, 2)[1]) : undefined;
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

/** One build's runs in its own copy of the project. */
function build(repo, project) {
  return { repo, project, phases: new Map(), whole: [] };
}
const builds = [build(REPO, dir)];
if (against) {
  const copy = fs.mkdtempSync(path.join(path.dirname(path.resolve(dir)), 'noop-phases-against-'));
  fs.cpSync(dir, copy, { recursive: true, preserveTimestamps: true });
  // Its first runs record its own stat snapshots and no-op record in the copy.
  for (let i = 0; i < 3; i++) spawnSync(process.execPath, [path.join(against, 'bin/batch.js'), '-C', copy], { env });
  builds.push(build(against, copy));
}
// A build's first runs after it changed re-validate the Batchfile and record afresh: not timed.
for (let i = 0; i < 2; i++) spawnSync(process.execPath, [path.join(REPO, 'bin/batch.js'), '-C', dir], { env });
process.on('exit', () => {
  for (const b of builds.slice(1)) fs.rmSync(b.project, { recursive: true, force: true });
});

const bare = [];
for (let i = 0; i < runs; i++) {
  bare.push(timed(process.execPath, ['-e', '0']));
  for (const b of i % 2 === 0 ? builds : [...builds].reverse()) {
    const r = timed(process.execPath, [path.join(b.repo, 'bin/batch.js'), '-C', b.project]);
    if (!/0 ran, \d+ up-to-date/.test(r.stdout)) throw new Error(`${b.repo}: not a no-op:\n${r.stdout}`);
    // The in-process CPU at the last mark: finer than the children's 10 ms ticks.
    const done = /^ {2}done\s+wall\s+[\d.]+ ms .*?cpu\s+([\d.]+) ms/m.exec(r.stderr);
    b.whole.push({ ...r, selfCpu: done ? Number(done[1]) : NaN });
    for (const m of r.stderr.matchAll(/^ {2}(\S.*?)\s+wall\s+[\d.]+ ms \(\+\s*([\d.]+)\)\s+cpu\s+[\d.]+ ms \(\+\s*([\d.]+)\)/gm)) {
      const p = b.phases.get(m[1]) ?? { wall: [], cpu: [] };
      p.wall.push(Number(m[2]));
      p.cpu.push(Number(m[3]));
      b.phases.set(m[1], p);
    }
  }
}
const fmt = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const tables = builds.map((b) => ({
  build: b.repo,
  rows: [
    ['node -e 0 (Node start, exit)', bare.map((x) => x.wall), bare.map((x) => x.cpu)],
    ...[...b.phases].map(([k, v]) => [k, v.wall, v.cpu]),
    ['whole process', b.whole.map((w) => w.wall), b.whole.map((w) => w.cpu)],
    ['whole process, its own CPU at exit (BATCH_TIMING)', b.whole.map((w) => w.wall), b.whole.map((w) => w.selfCpu)],
  ],
}));
console.log(`${runs} runs in ${dir}; load average ${loadavg()}`);
for (const t of tables) {
  console.log(`\n${t.build}\n| phase | wall ms, median (min–max) | CPU ms, median (min–max) |\n|---|---|---|`);
  for (const [k, w, c] of t.rows) console.log(`| ${k} | ${fmt(w)} | ${fmt(c)} |`);
}
const ratios = builds.length === 2 ? { wall: median(builds[0].whole.map((w) => w.wall)) / median(builds[1].whole.map((w) => w.wall)), cpu: median(builds[0].whole.map((w) => w.selfCpu)) / median(builds[1].whole.map((w) => w.selfCpu)) } : undefined;
if (ratios) console.log(`\nthis build / --against, medians of the whole process: wall ${ratios.wall.toFixed(3)}, own CPU ${ratios.cpu.toFixed(3)}`);
const json = (rows) => rows.map(([k, w, c]) => ({ phase: k, wallMs: w, cpuMs: c }));
if (out) fs.writeFileSync(out, `${JSON.stringify({ dir, runs, at: new Date().toISOString(), loadavg: fs.readFileSync('/proc/loadavg', 'utf8').trim(), env: 'NODE_EXTRA_CA_CERTS unset, CI=1, BATCH_TIMING=1', rows: json(tables[0].rows), ...(against ? { against, againstRows: json(tables[1].rows), ratios } : {}) }, null, 2)}\n`);
