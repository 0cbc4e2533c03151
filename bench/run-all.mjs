#!/usr/bin/env node
// The benchmark suite of issue 7 (`npm run bench`): batchfile side by side with GNU Make, Ninja,
// Snakemake and doit on the same generated pipelines, timed as whole processes with hyperfine.
//
//   node bench/run-all.mjs [--only n1000,n10000,curve,daemon,run,cpu,hash,example] [--tools a,b]
//                          [--quick] [--no-batchfile] [--out DIR] [--scenarios a,b] [--reuse]
//                          [--sizes 1000,10000]   (suite fast: only these pipeline sizes)
//
// Writes DIR/results.json, DIR/summary.md and every hyperfine JSON (DIR defaults to
// $BENCH_ROOT/results/<timestamp>, BENCH_ROOT to /tmp/batchfile-bench). Generated projects live
// under $BENCH_ROOT/projects and are reused between runs. Suites run one at a time, one
// command at a time: the machine has 2 cores and parallel benchmarks would measure each other.
import fs from 'node:fs';
import path from 'node:path';
import {
  BENCH_ROOT, BIN, CI_ENV, INTERACTIVE_ENV, JOBS, PEERS, REPO, TOOLS, batchJson, batchfileReady, checkRun, cmdline, fmtMb, fmtMs, fmtRange,
  hyperfine, log, machineInfo, prepareScript, probe, project, scenarioArgs, sh, shq,
} from './lib.mjs';
import { summarize } from './summarize.mjs';

// n10000 before curve: the curve reuses the no-op rows of n1000 and n10000 when they ran.
const SUITES = ['n1000', 'n10000', 'curve', 'daemon', 'fast', 'run', 'cpu', 'hash', 'example'];

function parseArgs(argv) {
  const o = { only: SUITES, tools: ['batchfile', ...PEERS], quick: false, batchfile: true, out: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') o.only = argv[++i].split(',');
    else if (a === '--tools') o.tools = argv[++i].split(',');
    else if (a === '--quick') o.quick = true;
    else if (a === '--no-batchfile') o.batchfile = false;
    else if (a === '--out') o.out = argv[++i];
    else if (a === '--scenarios') o.scenarios = argv[++i].split(',');
    else if (a === '--reuse') o.reuse = true;
    else if (a === '--sizes') o.sizes = argv[++i].split(',').map(Number);
    else throw new Error(`unknown argument ${a}`);
  }
  for (const s of o.only) if (!SUITES.includes(s)) throw new Error(`unknown suite ${s}; suites: ${SUITES.join(', ')}`);
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const outDir = path.resolve(opts.out || path.join(BENCH_ROOT, 'results', stamp));
fs.mkdirSync(outDir, { recursive: true });
// Only what this run uses must be installed (a suite of batchfile and Ninja needs no Snakemake).
const needed = new Set(['node', 'hyperfine', 'time', ...opts.tools.filter((t) => t !== 'batchfile'), ...(opts.only.some((x) => x === 'n1000' || x === 'hash') ? ['xxhsum'] : [])]);
for (const [k, v] of Object.entries(BIN)) if (!v && needed.has(k)) throw new Error(`${k} is not installed (see docs/performance.md: apt-get install ...)`);

const bfReady = opts.batchfile && opts.tools.includes('batchfile') && batchfileReady();
if (opts.tools.includes('batchfile') && !bfReady) log(`batchfile CLI not usable (${path.relative(REPO, 'bin/batch.js')}): its cells stay pending`);
const results = {
  started: new Date().toISOString(),
  machine: machineInfo(),
  env: 'benchmark commands run with NODE_EXTRA_CA_CERTS unset (env -u NODE_EXTRA_CA_CERTS)',
  jobs: JOBS,
  batchfile: bfReady ? 'measured' : 'pending',
  suites: {},
  failures: [],
};
const save = () => fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');

/** Untimed runs through a newly started daemon before its scenarios (see ensureBuilt). */
const DAEMON_WARMUP_RUNS = 2;

/** A tool as benchmarked: `id` names its directory and row; `jobs` its -j; `daemon`: batchfile
 * with its project daemon started after the setup build (docs/daemon.md). */
const variant = (tool, jobs = JOBS, id = tool, daemon = false) => ({ id, tool, jobs, daemon });
/** batchfile as a user's shell runs it (`auto`: no CI, no BATCH_DAEMON; its daemon starts by
 * itself, never by hand here) or as CI does (CI=1: no daemon). */
const asUser = (id, env, auto) => ({ ...variant('batchfile', JOBS, id), env, auto });

/** The pid of the daemon the project in `dir` has now, if any. */
function daemonPid(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, '.cache', 'daemon', 'daemon.json'), 'utf8')).pid;
  } catch {
    return undefined;
  }
}

/** Starts the project daemon in `dir` (with the benchmark's environment, which the timed
 * clients share) and returns its pid. */
function startDaemon(dir) {
  const r = probe([...TOOLS.batchfile.argv(dir).slice(0, 4), 'daemon', 'start']);
  if (r.status !== 0) throw new Error(`batch daemon start failed: ${r.stderr.slice(-1500)}`);
  return JSON.parse(fs.readFileSync(path.join(dir, '.cache', 'daemon', 'daemon.json'), 'utf8')).pid;
}

/** Runs the daemon in `dir` has served (from `batch daemon status`). */
function servedRuns(dir) {
  const r = probe([...TOOLS.batchfile.argv(dir).slice(0, 4), 'daemon', 'status']);
  const m = r.stdout.match(/(\d+) runs? served/);
  if (!m) throw new Error(`no daemon in ${dir}: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

/** The daemon's peak RSS so far (VmHWM), in KiB. */
function daemonPeakKb(pid) {
  let status = '';
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined; // it stopped (the row's check says why)
  }
  const m = status.match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) : undefined;
}

/** Brings `dir` to the built state without timing it. Snakemake on big pipelines takes many
 * minutes to build, so there it adopts another tool's identical outputs with --touch. */
function setup(p, v, dir) {
  const t = TOOLS[v.tool];
  if (v.tool === 'snakemake' && p.meta.steps > 2000) {
    const donor = ['ninja', 'make'].map((x) => p.dir(x)).find((d) => fs.existsSync(path.join(d, 'out', 's0.txt')));
    if (donor) {
      sh(`cp -a ${shq(donor)}/out/. ${shq(dir)}/out/`);
      const r = probe([...t.argv(dir, v.jobs), '--touch']);
      if (r.status !== 0) throw new Error(`snakemake --touch failed: ${r.stderr.slice(-2000)}`);
      return;
    }
  }
  const r = probe(v.tool === 'batchfile' ? [...t.argv(dir, v.jobs), '--json'] : t.argv(dir, v.jobs), { env: v.env });
  if (r.status !== 0) throw new Error(`${v.id} setup build failed (${r.status}): ${r.stderr.slice(-2000)}`);
}

/** Runs `scenarios` on project `spec` for every tool variant, scenario by scenario (so the
 * tools' numbers of one scenario are taken close together). Returns rows[scenario][id]. */
function runProject(suite, spec, scenarios, variants, extra = {}) {
  const p = project(spec);
  // Rows are filled in place inside `results`, so an interrupted suite keeps what it measured.
  const entry = (results.suites[suite] ??= { project: p.name, meta: p.meta, rows: {} });
  const rows = entry.rows;
  const live = variants.filter((v) => v.tool !== 'batchfile' || bfReady);
  for (const v of variants) if (!live.includes(v)) for (const s of scenarios) (rows[s] ??= {})[v.id] = { pending: true };
  // --scenarios keeps only some scenarios (a re-measurement); --reuse keeps each tool's
  // directory as an earlier run left it (already built) instead of a fresh copy + setup build.
  if (opts.scenarios) scenarios = scenarios.filter((s) => opts.scenarios.includes(s));
  const dirs = {};
  const reused = new Set();
  for (const v of live) {
    if (opts.reuse && fs.existsSync(path.join(p.dir(v.id), 'out'))) {
      dirs[v.id] = p.dir(v.id);
      reused.add(v.id);
    } else dirs[v.id] = p.fresh(v.id);
  }
  // A tool's directory must be built before any scenario but `first`; a tool whose first build
  // is skipped (or not part of this run) is set up lazily, after the others' first builds,
  // so that Snakemake can adopt their outputs.
  const built = new Set(reused);
  const daemons = {};
  const ensureBuilt = (v) => {
    if (!built.has(v.id)) {
      log(`${p.name}: setup build for ${v.id}`);
      setup(p, v, dirs[v.id]);
      built.add(v.id);
    }
    if (v.daemon && !daemons[v.id]) {
      daemons[v.id] = startDaemon(dirs[v.id]);
      // A new daemon's first served run stats every file; once it is over the daemon watches
      // their folders and stats them again (docs/daemon.md), which a run that comes first
      // finishes before it starts. Both are run here, untimed, so the scenarios measure the
      // daemon users have after that.
      for (let i = 0; i < DAEMON_WARMUP_RUNS; i++) {
        const r = probe(TOOLS[v.tool].argv(dirs[v.id], v.jobs));
        if (r.status !== 0) throw new Error(`${v.id} warm-up run failed (${r.status}): ${r.stderr.slice(-1500)}`);
      }
    }
  };
  for (const s of scenarios) {
    for (const v of live) {
      rows[s] ??= {};
      if (extra.skip?.[s]?.includes(v.id)) {
        rows[s][v.id] = { skipped: extra.skipWhy?.[s] ?? 'skipped' };
        continue;
      }
      if (extra.only?.[s] && !extra.only[s].includes(v.id)) {
        rows[s][v.id] = { skipped: 'not part of this row' };
        continue;
      }
      if (v.daemon && s === 'first') {
        rows[s][v.id] = { skipped: 'a first build removes .cache/, and the daemon with it' };
        continue;
      }
      const dir = dirs[v.id];
      if (s === 'first') built.add(v.id);
      else ensureBuilt(v);
      const argv = [...TOOLS[v.tool].argv(dir, v.jobs), ...scenarioArgs(s, v.tool)];
      const prepare = prepareScript(s, dir, v.tool, p.meta);
      const row = { command: cmdline(argv), prepare, ...(v.env ? { env: v.auto ? 'interactive: no CI, no BATCH_DAEMON (its daemon starts by itself)' : 'CI=1' } : {}) };
      try {
        // One untimed run first: the correctness check (batchfile --json), peak RSS, and the
        // estimate that picks hyperfine's run count.
        let est;
        if (v.tool === 'batchfile') {
          const servedBefore = v.daemon ? servedRuns(dir) : 0;
          const j = batchJson(dir, { prepare, jobs: v.jobs, extra: scenarioArgs(s, v.tool), env: v.env });
          row.problems = checkRun(s, p.meta, j.doc, j.status);
          if (v.daemon && servedRuns(dir) !== servedBefore + 1) row.problems.push('not served by the daemon');
          row.ran = j.doc.counts;
          row.rssKb = j.rssKb;
          est = j.ms;
          if (row.problems.length) {
            results.failures.push(`${suite}/${s}/${v.id}: ${row.problems.join('; ')}`);
            log(`  CHECK FAILED ${s} ${v.id}: ${row.problems.join('; ')}`);
          }
        } else {
          const r = probe(argv, { prepare, env: v.env });
          if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr.slice(-1500)}`);
          row.rssKb = r.rssKb;
          est = r.ms;
        }
        if (est > (extra.singleRunOverMs ?? Infinity)) {
          // Too slow to repeat in a suite run (minutes): the checked run is the measurement.
          Object.assign(row, { median: est, min: est, max: est, runs: 1, warmup: 0, single: true, command: `/usr/bin/time -f %M ${cmdline(argv)} (one run)` });
          log(`  one run only: ${fmtMs(est)}`);
          rows[s][v.id] = row;
          save();
          continue;
        }
        log(`${p.name} ${s} ${v.id}: one run ${fmtMs(est)}, hyperfine...`);
        row.json = `${p.name}-${s}-${v.id}.json`;
        Object.assign(row, hyperfine(`${p.name}-${s}-${v.id}`, argv, { prepare, estimateMs: est, quick: opts.quick, outDir, env: v.env, ...(extra.hf?.[s] ?? {}) }));
        log(`  ${fmtRange(row)}`);
      } catch (e) {
        row.error = String(e.message ?? e).slice(0, 3000);
        results.failures.push(`${suite}/${s}/${v.id}: ${row.error.split('\n')[0]}`);
        log(`  FAILED ${s} ${v.id}: ${row.error.slice(0, 500)}`);
      }
      if (daemons[v.id]) row.daemonRssKb = daemonPeakKb(daemons[v.id]);
      if (v.auto) {
        // The daemon it started by itself: its peak RSS so far, and that it serves (the row's
        // runs after the first were served: the count is over its lifetime).
        const pid = daemonPid(dir);
        if (pid !== undefined) {
          row.daemonPid = pid;
          row.daemonRssKb = daemonPeakKb(pid);
          try {
            row.daemonServed = servedRuns(dir);
          } catch {
            row.daemonServed = 0;
          }
        }
      }
      rows[s][v.id] = row;
      save();
    }
  }
  for (const v of live) if (daemons[v.id] || v.auto) probe([...TOOLS.batchfile.argv(dirs[v.id]).slice(0, 4), 'daemon', 'stop']);
  return entry;
}

/** A plain command timed like a tool (xxhsum). */
function runCommand(name, argv, prepare) {
  const r = probe(argv, { prepare });
  const row = { command: cmdline(argv), prepare, rssKb: r.rssKb };
  if (r.status !== 0) row.error = `exit ${r.status}: ${r.stderr.slice(-1000)}`;
  else Object.assign(row, hyperfine(name, argv, { prepare, estimateMs: r.ms, quick: opts.quick, outDir }));
  log(`${name}: ${fmtRange(row)}`);
  return row;
}

const tools = (list) => list.filter((t) => opts.tools.includes(t)).map((t) => variant(t));
const FIVE = ['batchfile', 'ninja', 'make', 'doit', 'snakemake'];

// ---------------------------------------------------------------- suites

const suites = {
  // The default pipeline of the issue: 1,000 steps × 10 inputs of 4 KiB, command steps.
  n1000() {
    const r = runProject('n1000', { kind: 'command', steps: 1000, inputs: 10 }, ['first', 'noop', 'touch', 'content', 'code'], tools(FIVE), { singleRunOverMs: 60000 });
    // First hash pass over 10,000 small files: batchfile after every input was touched
    // (content unchanged: everything is re-hashed, nothing reruns) against xxhsum over them.
    if (opts.scenarios && !opts.scenarios.includes('touch-all')) return r;
    runProject('n1000', { kind: 'command', steps: 1000, inputs: 10 }, ['touch-all'], tools(['batchfile', 'doit']));
    const dir = project({ kind: 'command', steps: 1000, inputs: 10 }).base;
    r.rows['touch-all'].xxhsum = runCommand('n1000-xxhsum-10k', ['sh', '-c', `cd ${shq(dir)} && exec xxhsum -H64 in/s*/f*.txt`]);
    return r;
  },
  // No-op cost against pipeline size (100 / 1,000 / 10,000 steps, K = 10).
  curve() {
    const out = {};
    for (const n of [100, 1000, 10000]) {
      const prior = n === 1000 ? results.suites.n1000 : n === 10000 ? results.suites.n10000 : undefined;
      out[n] = prior?.rows?.noop ?? runProject(`curve-${n}`, { kind: 'command', steps: n, inputs: 10 }, ['noop'], tools(FIVE)).rows.noop;
    }
    return { rows: out };
  },
  // 10,000 steps × 100,000 files. Snakemake's first build is left out (it takes well over
  // ten minutes a run here); its no-op state is set up with --touch from Ninja's outputs.
  n10000() {
    return runProject('n10000', { kind: 'command', steps: 10000, inputs: 10 }, ['first', 'noop', 'touch', 'content', 'code'], tools(['batchfile', 'ninja', 'make', 'doit', 'snakemake']), {
      // Snakemake's first build is left out, and its (and doit's) touch and code scenarios:
      // a single Snakemake no-op of 10,000 steps takes about a minute here.
      skip: { first: ['snakemake'], touch: ['snakemake', 'doit'], code: ['snakemake', 'doit'] },
      singleRunOverMs: 60000,
      skipWhy: { first: 'not run: too slow (one Snakemake first build of 1,000 steps takes 90 s or more here)', touch: 'not run (time)', code: 'not run (time)' },
    });
  },
  // batchfile with its project daemon (docs/daemon.md) beside a direct batchfile and Ninja, in
  // the same run: 1,000 and 10,000 steps. The client's RSS is the row's; the daemon's peak
  // RSS is recorded beside it.
  daemon() {
    const vs = [...tools(['batchfile']), ...(opts.tools.includes('batchfile') ? [variant('batchfile', JOBS, 'batchfile-daemon', true)] : []), ...tools(['ninja'])];
    const out = { rows: {} };
    for (const n of [1000, 10000]) out.rows[n] = runProject(`daemon-${n}`, { kind: 'command', steps: n, inputs: 10 }, n === 1000 ? ['noop', 'touch', 'content', 'code', 'touch-all'] : ['noop', 'touch', 'content', 'code'], vs).rows;
    return out;
  },
  // Issue 20's table, "fast by default", batchfile beside Ninja in one run: a user's shell (the
  // daemon starts by itself: never started by hand here; `restart-noop` times the run that
  // starts it), CI (CI=1: no daemon), first builds of command steps, at 1,000 and 10,000 steps.
  // The interactive daemon's peak RSS at 10,000 steps is recorded on its rows.
  fast() {
    const vs = [asUser('batchfile-interactive', INTERACTIVE_ENV, true), asUser('batchfile-ci', CI_ENV, false), ...tools(['ninja'])];
    const out = { rows: {} };
    const size = (n) => !opts.sizes || opts.sizes.includes(n);
    if (size(1000)) out.rows[1000] = runProject('fast-1000', { kind: 'command', steps: 1000, inputs: 10 }, ['first', 'restart-noop', 'noop', 'content'], vs, {
      only: { 'restart-noop': ['batchfile-interactive'], content: ['batchfile-interactive', 'ninja'] },
      singleRunOverMs: 60000,
    }).rows;
    if (size(10000)) out.rows[10000] = runProject('fast-10000', { kind: 'command', steps: 10000, inputs: 10 }, ['first', 'noop', 'content'], vs, {
      only: { first: ['batchfile-ci', 'ninja'], content: ['batchfile-interactive', 'ninja'] },
      singleRunOverMs: 30000,
    }).rows;
    return out;
  },
  // `run` steps (batchfile's worker pool) against Ninja/Make running the same module as one
  // Node process per step; the command-kind first builds of n1000 are the other reference.
  run() {
    return runProject('run', { kind: 'run', steps: 1000, inputs: 10 }, ['first', 'noop', 'code'], tools(['batchfile', 'ninja', 'make']), { singleRunOverMs: 60000 });
  },
  // CPU-bound `run` steps (~200 ms each): speed-up from -j1 to -j2. `first` is a cold first
  // build (batchfile compiles the Batchfile and the 20 modules in each run); `force` reruns
  // every step with the compile cache warm: the worker pool's own speed-up.
  cpu() {
    const vs = [];
    for (const t of ['batchfile', 'ninja']) if (opts.tools.includes(t)) vs.push(variant(t, 1, `${t}-j1`), variant(t, 2, `${t}-j2`));
    const hf = { warmup: 1, runs: opts.quick ? 2 : 5 };
    return runProject('cpu', { kind: 'cpu', steps: 20, inputs: 10, cpuMs: 200 }, ['first', 'force'], vs, { hf: { first: hf, force: hf } });
  },
  // Hash throughput on one 1 GiB input: `touch` it (content unchanged) and batchfile re-hashes
  // it without rerunning the step; the no-op is the baseline to subtract. doit (MD5) for scale.
  hash() {
    const spec = { kind: 'hash', sizeMib: 1024 };
    const r = runProject('hash', spec, ['noop', 'touch'], tools(['batchfile', 'doit']));
    const p = project(spec);
    r.rows.touch.xxhsum = runCommand('hash-xxhsum-1g', [BIN.xxhsum, '-H64', path.join(p.base, 'in', 'big.bin')]);
    r.bytes = p.meta.inputBytes;
    return r;
  },
  // The repository's example pipeline (Batchfile.ts at the repo root), on a copy under /tmp.
  example() {
    if (!fs.existsSync(path.join(REPO, 'Batchfile.ts'))) return { pending: 'no Batchfile.ts at the repository root yet' };
    if (!bfReady) return { pending: 'batchfile CLI not ready' };
    const dir = path.join(BENCH_ROOT, 'projects', 'example');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    // Everything the pipeline may read, without run-time folders; node_modules by symlink.
    sh(`cd ${shq(REPO)} && tar --exclude=./node_modules --exclude=./.git --exclude=./.cache --exclude=./logs --exclude=./output --exclude=./dist --exclude=./bench -cf - . | tar -C ${shq(dir)} -xf - && ln -s ${shq(path.join(REPO, 'node_modules'))} ${shq(dir)}/node_modules && ln -s ${shq(path.join(REPO, 'dist'))} ${shq(dir)}/dist`);
    const py = fs.readdirSync(path.join(dir, 'steps')).filter((f) => f.endsWith('.py')).sort()[0];
    const base = TOOLS.batchfile.argv(dir);
    const rows = {};
    const one = (name, argv, prepare, check) => {
      const row = { command: cmdline(argv), prepare };
      try {
        const j = batchJson(dir, { prepare, extra: argv.slice(base.length) });
        row.rssKb = j.rssKb;
        row.ran = j.doc.counts;
        row.problems = [];
        if (j.status !== 0 || j.doc.status !== 'PASS') row.problems.push(`exit ${j.status}, status ${j.doc.status}`);
        const ran = (j.doc.steps ?? []).filter((s) => s.action === 'ran').length;
        if (check && !check(ran, j.doc)) row.problems.push(`${ran} steps ran`);
        if (row.problems.length) results.failures.push(`example/${name}: ${row.problems.join('; ')}`);
        Object.assign(row, hyperfine(`example-${name}`, argv, { prepare, estimateMs: j.ms, quick: opts.quick, outDir }));
        log(`example ${name}: ${fmtRange(row)}`);
      } catch (e) {
        row.error = String(e.message ?? e).slice(0, 3000);
        results.failures.push(`example/${name}: ${row.error.split('\n')[0]}`);
      }
      rows[name] = { batchfile: row };
    };
    one('cold', [...base, '--force'], `cd ${shq(dir)} && rm -rf .cache logs output`, (ran, doc) => ran === doc.steps.length);
    one('noop', base, undefined, (ran) => ran === 0);
    if (py) {
      const file = `steps/${py}`;
      const orig = fs.readFileSync(path.join(dir, file), 'utf8');
      fs.writeFileSync(path.join(dir, '.bench-py.orig'), orig);
      one('edit-py', base, `cd ${shq(dir)} && { cat .bench-py.orig; echo "# edit $(date +%s%N)"; } > ${shq(file)}`, (ran) => ran >= 1);
      rows['edit-py'].batchfile.file = file;
    }
    return { rows };
  },
};

for (const s of SUITES) {
  if (!opts.only.includes(s)) continue;
  log(`suite ${s}`);
  try {
    results.suites[s] = suites[s]();
  } catch (e) {
    results.suites[s] = { ...(results.suites[s] ?? {}), error: String(e.stack ?? e) };
    results.failures.push(`${s}: ${String(e.message ?? e).split('\n')[0]}`);
    log(`suite ${s} failed: ${e.stack ?? e}`);
  }
  save();
}
results.finished = new Date().toISOString();
save();

// ---------------------------------------------------------------- summary

const md = summarize([{ dir: outDir, results }]);
fs.writeFileSync(path.join(outDir, 'summary.md'), md);
process.stdout.write(md + `\nResults: ${outDir}/results.json, ${outDir}/summary.md\n`);
process.exit(results.failures.length ? 1 : 0);
