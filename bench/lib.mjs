// Shared pieces of the benchmark suite: the tools and how each is invoked, the generated
// projects (one copy per tool), hyperfine, peak RSS, and batchfile's --json check.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from './generate.mjs';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const CLI = path.join(REPO, 'bin', 'batch.js');
export const BENCH_ROOT = path.resolve(process.env.BENCH_ROOT ?? path.join(os.tmpdir(), 'batchfile-bench'));
/** Jobs for every tool: the machine has 2 cores and the targets are stated for 2 cores. */
export const JOBS = 2;

// The benchmarked processes run without NODE_EXTRA_CA_CERTS: on this machine it points at the
// system bundle, which Node would read and parse at every start (a cost no user of a plain
// install pays). Only the benchmark commands run this way; docs/performance.md says so.
// The daemon: every row but the interactive ones runs with BATCH_DAEMON=manual, so a direct
// batchfile stays direct (it would otherwise start the project's daemon by itself, as a run
// outside CI does) and a daemon started by hand is still used. The interactive rows run as a
// user's shell does (no CI, no BATCH_DAEMON): the daemon starts by itself; the CI rows with CI=1.
export const BENCH_ENV = { ...process.env, BATCH_DAEMON: 'manual' };
delete BENCH_ENV.NODE_EXTRA_CA_CERTS;
delete BENCH_ENV.CI;
export const INTERACTIVE_ENV = { ...BENCH_ENV };
delete INTERACTIVE_ENV.BATCH_DAEMON;
export const CI_ENV = { ...INTERACTIVE_ENV, CI: '1' };

const which = (cmd) => {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};
export const BIN = {
  node: process.execPath,
  ninja: which('ninja'),
  make: which('make'),
  // Debian's snakemake and doit run on /usr/bin/python3 (a pyenv python3 may be first on PATH).
  snakemake: fs.existsSync('/usr/bin/snakemake') ? '/usr/bin/snakemake' : which('snakemake'),
  doit: fs.existsSync('/usr/bin/doit') ? '/usr/bin/doit' : which('doit'),
  hyperfine: which('hyperfine'),
  xxhsum: which('xxhsum'),
  time: fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined,
};

/** The batchfile CLI is usable once `bin/batch.js` exists and `--version` exits 0. */
export function batchfileReady() {
  if (!fs.existsSync(CLI)) return false;
  const r = spawnSync(BIN.node, [CLI, '--version'], { encoding: 'utf8', env: BENCH_ENV, timeout: 30_000 });
  return r.status === 0;
}

/** How each tool is run on a project directory. `state` is what a first build removes
 * (besides out/): the tool's record of earlier runs. */
export const TOOLS = {
  batchfile: {
    argv: (dir, jobs = JOBS) => [BIN.node, CLI, '-C', dir, '-j', String(jobs)],
    state: ['.cache', 'logs'],
  },
  ninja: { argv: (dir, jobs = JOBS) => [BIN.ninja, '-C', dir, '-j', String(jobs)], state: ['.ninja_log', '.ninja_deps'] },
  make: { argv: (dir, jobs = JOBS) => [BIN.make, '-r', '-j', String(jobs), '-C', dir], state: [] },
  snakemake: {
    argv: (dir, jobs = JOBS) => [BIN.snakemake, '-d', dir, '-s', path.join(dir, 'Snakefile'), '--cores', String(jobs), '--quiet'],
    state: ['.snakemake'],
  },
  doit: {
    // Threads rather than processes: the actions are shell commands, nothing to pickle.
    argv: (dir, jobs = JOBS) => [BIN.doit, '-f', path.join(dir, 'dodo.py'), '-d', dir, '-n', String(jobs), '-P', 'thread'],
    state: ['.doit.db', '.doit.db.db', '.doit.db.dat', '.doit.db.dir', '.doit.db.bak'],
  },
};
export const PEERS = ['ninja', 'make', 'doit', 'snakemake'];

export const shq = (s) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`);
export const cmdline = (argv) => argv.map(shq).join(' ');

export function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ---------------------------------------------------------------- projects

export function projectName(spec) {
  return spec.kind === 'hash' ? `hash-${spec.sizeMib}m` : `${spec.kind}-n${spec.steps}-k${spec.inputs}`;
}

/** The generated project for `spec` under BENCH_ROOT/projects/NAME/base (kept between suite
 * runs: 100,000 input files take a while to write), and a fresh copy per tool. */
export function project(spec) {
  const name = projectName(spec);
  const home = path.join(BENCH_ROOT, 'projects', name);
  const base = path.join(home, 'base');
  const want = { kind: spec.kind, steps: spec.kind === 'hash' ? 1 : spec.steps, inputs: spec.kind === 'hash' ? 1 : spec.inputs };
  let meta;
  try {
    meta = JSON.parse(fs.readFileSync(path.join(base, 'bench.json'), 'utf8'));
    if (meta.kind !== want.kind || meta.steps !== want.steps || meta.inputs !== want.inputs || meta.generatorVersion !== GENERATOR_VERSION) meta = undefined;
  } catch {
    meta = undefined;
  }
  if (!meta) {
    log(`generating ${name} in ${base}`);
    meta = generate({ out: base, kind: spec.kind, steps: spec.steps, inputs: spec.inputs, cpuMs: spec.cpuMs ?? 200, sizeMib: spec.sizeMib ?? 1024, iters: 0 });
    meta.generatorVersion = GENERATOR_VERSION;
    fs.writeFileSync(path.join(base, 'bench.json'), JSON.stringify(meta, null, 2) + '\n');
  }
  return {
    name,
    spec,
    meta,
    base,
    dir: (tool) => path.join(home, tool),
    /** A pristine copy of the generated sources for `tool` (cp -a keeps mtimes). */
    fresh(tool) {
      const d = path.join(home, tool);
      fs.rmSync(d, { recursive: true, force: true });
      execFileSync('cp', ['-a', base, d]);
      return d;
    },
  };
}
// Bump when generate.mjs changes what it writes, so stale projects under /tmp are rebuilt.
export const GENERATOR_VERSION = 1;

// ---------------------------------------------------------------- scenarios' preparation

/** Shell run before each timed run (hyperfine --prepare), in the tool's directory. A change
 * writes content never seen before (a nanosecond stamp), so batchfile's output cache cannot
 * restore a previous result: every tool must really rerun the step. */
export function prepareScript(scenario, dir, tool, meta) {
  const cd = `cd ${shq(dir)}`;
  const state = [...TOOLS[tool]?.state ?? [], 'out'].map(shq).join(' ');
  switch (scenario) {
    case 'first':
      // batchfile: the daemon the last timed run started is stopped first (it waits until the
      // socket is gone); left to notice its state removed, it would exit during the next timed
      // run (closing its store, writing its code cache), which is no part of a first build.
      return tool === 'batchfile' ? `${cd} && ${shq(BIN.node)} ${shq(CLI)} -C . daemon stop >/dev/null 2>&1; rm -rf ${state} && mkdir out` : `${cd} && rm -rf ${state} && mkdir out`;
    case 'force':
      // Every step reruns, but the tool keeps its state: batchfile's compile cache (.cache)
      // stays warm, so this times the steps and the pool, not the cold compile.
      return `${cd} && rm -rf out && mkdir out`;
    case 'noop':
      return undefined;
    case 'restart-noop':
      // No daemon (stopped; it waits until the socket is gone): the timed run is the one that
      // starts it, in the background, and runs directly meanwhile.
      return `${cd} && ${shq(BIN.node)} ${shq(CLI)} -C . daemon stop >/dev/null`;
    case 'touch':
      return `${cd} && touch ${shq(meta.changeInput)}`;
    case 'touch-all':
      return `${cd} && find in -type f -exec touch {} +`;
    case 'content':
      // Same size (4,096 bytes): the first 4,064 bytes of the original, then a 32-byte stamp line.
      return `${cd} && { head -c 4064 .bench/input.a; printf '%031d\\n' "$(date +%s%N)"; } > ${shq(meta.changeInput)}`;
    case 'code': {
      const c = meta.changeCode.endsWith('.sh') ? '#' : '//';
      return `${cd} && { cat .bench/code.a; echo "${c} edit $(date +%s%N)"; } > ${shq(meta.changeCode)}`;
    }
    default:
      throw new Error(`no preparation for scenario ${scenario}`);
  }
}

export function sh(script, opts = {}) {
  const r = spawnSync('sh', ['-c', script], { stdio: opts.quiet === false ? 'inherit' : 'pipe', encoding: 'utf8', env: opts.env ?? BENCH_ENV });
  if (r.status !== 0) throw new Error(`sh -c ${script} exited ${r.status}: ${(r.stderr ?? '').slice(-2000)}`);
  return r.stdout;
}

/** Arguments a scenario adds to the tool's command line: `force` reruns every step with
 * `--force` in batchfile; the peers rerun every step because their outputs are gone. */
export function scenarioArgs(scenario, tool) {
  return scenario === 'force' && tool === 'batchfile' ? ['--force'] : [];
}

// ---------------------------------------------------------------- measuring

/** One run of argv under /usr/bin/time: exit code, stdout, wall time and peak RSS (kB of the
 * largest process of the tree that was waited for: ru_maxrss, as `time -f %M` reports it). */
export function probe(argv, opts = {}) {
  if (opts.prepare) sh(opts.prepare, { env: opts.env });
  const rssFile = path.join(os.tmpdir(), `bench-rss-${process.pid}.txt`);
  const full = BIN.time ? [BIN.time, '-f', '%M', '-o', rssFile, ...argv] : argv;
  const t = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), { encoding: 'utf8', env: opts.env ?? BENCH_ENV, maxBuffer: 1 << 30, timeout: opts.timeoutMs ?? 3_600_000 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  let rssKb;
  try {
    const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
    rssKb = Number(lines[lines.length - 1]);
    fs.rmSync(rssFile, { force: true });
  } catch {
    rssKb = undefined;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms, rssKb };
}

// ---------------------------------------------------------------- a quiet machine

function cpuTimes() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { total: f.reduce((a, b) => a + b, 0), idle: f[3] + (f[4] ?? 0) };
}
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Fraction of all CPUs busy over `ms` (other sessions share this machine). */
export function cpuBusy(ms = 1000) {
  const a = cpuTimes();
  sleep(ms);
  const b = cpuTimes();
  return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;
}

/** Waits (up to maxWaitMs) until the machine is nearly idle before a measurement, so other
 * work on the same 2 cores does not end up in the numbers; returns the last busy fraction,
 * recorded next to each result. */
export function waitQuiet(maxWaitMs = Number(process.env.BENCH_QUIET_WAIT_MS ?? 30000), threshold = 0.15) {
  const t0 = Date.now();
  let busy = cpuBusy(500);
  while (busy > threshold && Date.now() - t0 < maxWaitMs) {
    sleep(1500);
    busy = cpuBusy(500);
  }
  return busy;
}

/** hyperfine on one command; returns {median,min,max,mean,runs} in ms. Runs are chosen from
 * an estimate of one run (ms) so that slow peers (Snakemake) still finish in minutes. */
export function hyperfine(name, argv, opts) {
  const est = opts.estimateMs ?? 100;
  let warmup, runs;
  if (opts.quick) [warmup, runs] = [est < 2000 ? 1 : 0, est < 5000 ? 3 : 1];
  else if (est < 1000) [warmup, runs] = [2, undefined]; // hyperfine's default: ≥10 runs and ≥3 s
  else if (est < 5000) [warmup, runs] = [1, 5];
  else if (est < 30000) [warmup, runs] = [0, 3];
  else [warmup, runs] = [0, 1];
  if (opts.runs !== undefined) runs = opts.runs;
  if (opts.warmup !== undefined) warmup = opts.warmup;
  const json = path.join(opts.outDir, `${name}.json`);
  const args = ['-N', '--style', 'basic', '--warmup', String(warmup), '--export-json', json];
  if (runs !== undefined) args.push('--runs', String(runs));
  else args.push('--min-runs', '10');
  if (opts.prepare) args.push('--prepare', `sh -c ${shq(opts.prepare)}`);
  args.push(cmdline(argv));
  const busyBefore = opts.noWait ? undefined : waitQuiet();
  const r = spawnSync(BIN.hyperfine, args, { encoding: 'utf8', env: opts.env ?? BENCH_ENV, maxBuffer: 1 << 26 });
  const loadAfter = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  if (r.status !== 0) throw new Error(`hyperfine ${name} failed (${r.status}): ${r.stderr.slice(-3000)}`);
  const res = JSON.parse(fs.readFileSync(json, 'utf8')).results[0];
  const ms = (s) => s * 1000;
  return {
    median: ms(res.median),
    min: ms(res.min),
    max: ms(res.max),
    mean: ms(res.mean),
    // CPU time (user + system, mean per run, the tool and its children): less disturbed than
    // wall time when other work shares the machine.
    cpu: ms(res.user + res.system),
    runs: res.times.length,
    warmup,
    busyBefore: busyBefore === undefined ? undefined : Math.round(busyBefore * 100) / 100,
    loadAfter,
    command: `hyperfine ${args.slice(0, -1).map(shq).join(' ')} ${shq(cmdline(argv))}`,
  };
}

// ---------------------------------------------------------------- batchfile --json checks

/** Runs batchfile once with --json (after `prepare`) and returns the parsed document, timing
 * and peak RSS. Throws when the output is not the expected JSON. */
export function batchJson(dir, opts = {}) {
  const argv = [...TOOLS.batchfile.argv(dir, opts.jobs), '--json', ...(opts.extra ?? [])];
  const p = probe(argv, opts);
  let doc;
  try {
    doc = JSON.parse(p.stdout);
  } catch {
    throw new Error(`batchfile --json in ${dir} printed no JSON (exit ${p.status}): ${p.stdout.slice(0, 500)} ${p.stderr.slice(-1500)}`);
  }
  return { ...p, doc };
}

/** Names of the steps that really ran (or were restored from the output cache), and a
 * description of the run for error messages. */
export function ranSteps(doc) {
  return (doc.steps ?? []).filter((s) => s.action === 'ran' || s.action === 'restored').map((s) => s.name);
}

/** What a scenario must do in batchfile: every step ran, none ran, or exactly the changed one. */
export function expectRan(scenario, meta) {
  switch (scenario) {
    case 'first':
    case 'force':
      return { count: meta.steps };
    case 'noop':
    case 'restart-noop':
    case 'touch': // content unchanged: a content-checking tool reruns nothing
    case 'touch-all':
      return { count: 0 };
    case 'content':
    case 'code':
      return { count: 1, name: meta.changeStep };
    default:
      return undefined;
  }
}

export function checkRun(scenario, meta, doc, exit) {
  const problems = [];
  if (exit !== 0) problems.push(`exit ${exit}`);
  if (doc.status !== 'PASS') problems.push(`status ${doc.status}`);
  const ran = ranSteps(doc);
  const want = expectRan(scenario, meta);
  if (want) {
    if (ran.length !== want.count) problems.push(`${ran.length} steps ran (${ran.slice(0, 5).join(', ')}${ran.length > 5 ? ', ...' : ''}), expected ${want.count}`);
    if (want.name && ran.length === 1 && ran[0] !== want.name) problems.push(`step ${ran[0]} ran, expected ${want.name}`);
    const restored = (doc.steps ?? []).filter((s) => s.action === 'restored').length;
    if (restored && scenario !== 'first') problems.push(`${restored} steps restored from the output cache instead of running`);
  }
  return problems;
}

// ---------------------------------------------------------------- formatting

export const fmtMs = (ms) => (ms === undefined ? '–' : ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
export const fmtRange = (r) => (r ? `${fmtMs(r.median)} (${fmtMs(r.min)}–${fmtMs(r.max)})` : '–');
export const fmtMb = (kb) => (kb === undefined ? '–' : `${(kb / 1024).toFixed(0)} MB`);

export function machineInfo() {
  const run = (c) => {
    const r = spawnSync('sh', ['-c', c], { encoding: 'utf8' });
    return (r.stdout ?? '').trim();
  };
  return {
    nproc: run('nproc'),
    cpu: run("lscpu | grep 'Model name' | sed 's/.*: *//'"),
    memory: run("free -h | awk '/Mem:/{print $2}'"),
    node: process.version,
    kernel: run('uname -r'),
    fs: run(`df -hT ${shq(BENCH_ROOT.split('/').slice(0, 2).join('/') || '/')} | tail -1`),
    versions: {
      ninja: run('ninja --version'),
      make: run('make --version | head -1'),
      snakemake: run(`${BIN.snakemake} --version 2>/dev/null`),
      doit: run(`${BIN.doit} --version 2>/dev/null | head -1`),
      hyperfine: run('hyperfine --version'),
      xxhsum: run('xxhsum -V 2>&1 | head -1'),
    },
  };
}
