#!/usr/bin/env node
// Watch mode's latency and memory on a generated 1,000-step pipeline (bench/generate.mjs,
// command steps `sh steps/sN.sh in/sN/f0.txt … > out/sN.txt`, 10 inputs of 4 KiB each).
//
//   node bench/watch-latency.mjs [--steps 1000] [--samples 20] [--cycles 200] [--out FILE.json]
//                                [--only latency|memory] [--debounce MS,MS] [--cpu-prof DIR]
//                                [--pair OTHER_REPO]
//
// One `batch --watch` process (-j2, --no-tests) is started on the project and driven by real
// writes; its progress lines (CI mode: "▶ sN: reason" when a step starts, "cycle N: …" when a
// cycle ends) are read from its stdout. It measures:
//   latency   time from just before a write to one step's input until the "▶ sN" line for that
//             step arrives: median, min and max of --samples writes, each to a different step
//             spread over the pipeline; once with the default debounce (100 ms) and once with
//             --debounce 10 (a second process) to show what is left besides the debounce
//   memory    after the first build and after every 50 of --cycles further cycles (each an edit
//             that reruns one step): the process's RSS (/proc/PID/status VmRSS), split into
//             anonymous memory (RssAnon: JS heap, native allocations) and file pages (RssFile:
//             mostly LMDB's memory map of .cache/store, which grows with the recorded runs), and
//             the live JS heap after the latest full GC (node --trace-gc, "Mark-Compact a -> b")
//   idle CPU  CPU time the process uses over 5 s with nothing changing (native events)
// The benchmarked processes run without NODE_EXTRA_CA_CERTS (on this machine it points at a CA
// bundle Node would parse at every start, a cost a plain install does not pay).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from './generate.mjs';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(REPO, 'bin', 'batch.js');
const ENV = { ...process.env, NO_COLOR: '1', CI: '1' };
delete ENV.NODE_EXTRA_CA_CERTS;

const opts = { steps: 1000, samples: 20, cycles: 200, out: '', only: '', debounce: '', cpuProf: '', pair: '' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (a === '--steps') opts.steps = Number(v);
  else if (a === '--samples') opts.samples = Number(v);
  else if (a === '--cycles') opts.cycles = Number(v);
  else if (a === '--out') opts.out = v;
  else if (a === '--only') opts.only = v;
  // Debounce values for the latency runs, one process each ('' = the default): e.g. "default,10".
  else if (a === '--debounce') opts.debounce = v;
  // Profile each latency process with node --cpu-prof into DIR (bench/profile-summary.mjs reads it).
  else if (a === '--cpu-prof') opts.cpuProf = path.resolve(v);
  // A/B on a busy machine: a second watch process runs OTHER_REPO's bin/batch.js (another build,
  // e.g. a git worktree of an older commit) on a copy of the project, and the two take turns,
  // one write each, so both see the same load.
  else if (a === '--pair') opts.pair = path.resolve(v);
  else throw new Error(`unknown argument ${a}`);
}

const log = (m) => process.stderr.write(`[watch-bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x) => Math.round(x * 10) / 10;

/** A running `batch --watch` whose stdout lines can be awaited. */
class Watch {
  constructor(dir, extra, nodeFlags = [], cli = CLI) {
    this.waiters = [];
    this.liveHeapMb = NaN;
    this.started = performance.now();
    this.child = spawn(process.execPath, [...nodeFlags, cli, '-C', dir, '--watch', '--no-tests', '-j', '2', ...extra], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const at = performance.now();
        const gc = /Mark-Compact[^,]*-> ([\d.]+) \(/.exec(line);
        if (gc) this.liveHeapMb = Number(gc[1]);
        for (const w of [...this.waiters]) {
          if (w.re.test(line)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            clearTimeout(w.timer);
            w.resolve({ line, at });
          }
        }
      }
    };
    this.child.stdout.on('data', onData);
    this.child.stderr.on('data', onData);
    this.exited = new Promise((r) =>
      this.child.on('close', (code) => {
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`batch --watch exited (${code}) while waiting for ${w.re}`));
        }
        r(code);
      }),
    );
  }

  /** The next line matching `re` (only lines that arrive from now on). */
  next(re, timeoutMs = 600_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}`)), timeoutMs);
      this.waiters.push({ re, resolve, reject, timer });
    });
  }

  /** RSS and its parts, in MB, and the live heap after the latest full GC. */
  memory() {
    const status = fs.readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
    return { rssMb: round(kb('VmRSS') / 1024), anonMb: round(kb('RssAnon') / 1024), fileMb: round(kb('RssFile') / 1024), liveHeapMb: this.liveHeapMb };
  }

  cpuMs() {
    const stat = fs.readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  }

  async stop() {
    for (const w of this.waiters.splice(0)) clearTimeout(w.timer);
    this.child.kill('SIGINT');
    return this.exited;
  }
}

/** "412ms" / "1.23s" / "1m02s" as printed by formatMs. */
function parseMs(s) {
  const m = /^(?:(\d+)m)?([\d.]+)(ms|s)$/.exec(s);
  if (!m) return NaN;
  return (Number(m[1] ?? 0) * 60_000) + Number(m[2]) * (m[3] === 'ms' ? 1 : 1000);
}

let stamp = 0;
/** Rewrites one input of step k with content never seen before (so the output cache cannot
 * restore it: the step really runs). */
function touchInput(dir, k) {
  const rel = `in/s${k}/f0.txt`;
  const base = fs.readFileSync(path.join(dir, rel), 'utf8').split('\n# edit')[0];
  fs.writeFileSync(path.join(dir, rel), `${base}\n# edit ${process.pid}-${++stamp}\n`);
}

async function latency(dir, extra, label) {
  const prof = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`] : [];
  const pairDir = `${dir}-pair`;
  // Copied while no process runs in it (a store copied mid-write would be torn).
  if (opts.pair) {
    fs.rmSync(pairDir, { recursive: true, force: true });
    fs.cpSync(dir, pairDir, { recursive: true });
  }
  const runs = [{ w: new Watch(dir, extra, prof), dir, label }];
  if (opts.pair) runs.push({ w: new Watch(pairDir, extra, prof, path.join(opts.pair, 'bin', 'batch.js')), dir: pairDir, label: `${label} [${opts.pair}]` });
  const readies = runs.map((run) => run.w.next(/^cycle 1:/)); // both, before either line can arrive
  for (const [j, run] of runs.entries()) {
    const ready = await readies[j];
    log(`${run.label}: first cycle done after ${Math.round(ready.at - run.w.started)} ms: ${ready.line}`);
    Object.assign(run, { samples: [], engine: [], cycles: [], cpu: [], load: loadavg() });
  }
  const n = opts.samples + 2; // two warm-up writes, not counted
  for (let i = 0; i < n; i++) {
    const k = Math.floor(((i + 0.5) * opts.steps) / n);
    // Alternate which process goes first, so neither always follows the other's cycle.
    for (const run of i % 2 ? [...runs].reverse() : runs) {
      const w = run.w;
      const started = w.next(new RegExp(`^▶ s${k}:`));
      const summary = w.next(/^PASS\s+1 ran, \d+ up-to-date in /);
      const cycle = w.next(/^cycle \d+:/);
      const cpu0 = w.cpuMs();
      const t0 = performance.now();
      touchInput(run.dir, k);
      const s = await started;
      const sum = await summary;
      const c = await cycle;
      const cpu1 = w.cpuMs();
      if (!/ran: s\d+ \|/.test(c.line)) throw new Error(`unexpected cycle: ${c.line}`);
      if (i >= 2) {
        run.samples.push(s.at - t0);
        run.engine.push(parseMs(/ in ([\d.]+m?s)/.exec(sum.line)?.[1] ?? 'NaN'));
        run.cycles.push(c.at - t0);
        run.cpu.push(cpu1 - cpu0);
      }
    }
  }
  const out = [];
  for (const run of runs) {
    await run.w.stop();
    const r = {
      label: run.label,
      args: extra,
      samples: run.samples.map(round),
      median: round(median(run.samples)),
      min: round(Math.min(...run.samples)),
      max: round(Math.max(...run.samples)),
      // The run's own time as its summary prints it (running the steps and recording; the
      // pre-run check of every step is not in it).
      engineRunMedian: round(median(run.engine)),
      // From the write to the end of the cycle (summary, report, the "cycle N:" line).
      cycleMedian: round(median(run.cycles)),
      // CPU time (user + system) of the watch process itself per cycle, from /proc (10 ms ticks):
      // less affected by other load than wall time. The step's own `sh` is not included.
      cpuPerCycleMedian: round(median(run.cpu)),
      loadAvg: `${run.load} at start, ${loadavg()} at the end`,
    };
    log(`${r.label}: median ${r.median} ms, min ${r.min}, max ${r.max}; engine run ${r.engineRunMedian} ms; whole cycle ${r.cycleMedian} ms; CPU per cycle ${r.cpuPerCycleMedian} ms; load ${r.loadAvg}`);
    out.push(r);
  }
  return out;
}

async function memory(dir) {
  const w = new Watch(dir, [], ['--trace-gc']);
  const first = await w.next(/^cycle 1:/);
  log(`memory: first cycle: ${first.line}`);
  const rss = [{ cycle: 1, ...w.memory() }];
  // Idle: nothing changes for 5 s; native events cost no CPU while idle.
  const cpu0 = w.cpuMs();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 5000));
  const idleCpuPct = round((100 * (w.cpuMs() - cpu0)) / (performance.now() - t0));
  const cycleMs = [];
  for (let c = 1; c <= opts.cycles; c++) {
    const k = (c * 37) % opts.steps;
    const cycle = w.next(/^cycle \d+:/);
    const t = performance.now();
    touchInput(dir, k);
    const line = (await cycle).line;
    cycleMs.push(performance.now() - t);
    if (!new RegExp(`ran: s${k} \\|`).test(line)) throw new Error(`cycle ${c}: ${line}`);
    if (c % 50 === 0) {
      rss.push({ cycle: c + 1, ...w.memory() });
      log(`memory: after ${c} edit cycles ${JSON.stringify(rss.at(-1))}`);
    }
  }
  await w.stop();
  return { rss, idleCpuPct, cycleMedianMs: round(median(cycleMs)), cycles: opts.cycles };
}

const root = path.resolve(process.env.BENCH_ROOT ?? path.join(os.tmpdir(), 'batchfile-bench'), 'watch');
const dir = path.join(root, `command-n${opts.steps}-k10`);
log(`generating ${opts.steps} steps in ${dir}`);
const meta = generate({ out: dir, kind: 'command', steps: opts.steps, inputs: 10, cpuMs: 0, sizeMib: 0, iters: 0 });

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const results = {
  started: new Date().toISOString(),
  loadAvgAtStart: loadavg(),
  machine: { cpus: os.availableParallelism(), cpu: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 2 ** 30), node: process.version },
  project: meta,
  env: 'NODE_EXTRA_CA_CERTS unset; -j 2; --no-tests; CI=1 NO_COLOR=1',
};
// One process per debounce value; 'default' passes no --debounce (the CLI's default applies).
const debounces = (opts.debounce || 'default,10').split(',');
results.latency = [];
if (opts.only !== 'memory') {
  for (const d of debounces) {
    results.latency.push(...(await latency(dir, d === 'default' ? [] : ['--debounce', d], d === 'default' ? 'default debounce' : `--debounce ${d}`)));
  }
}
if (opts.only !== 'latency') results.memory = await memory(dir);
results.finished = new Date().toISOString();
results.loadAvgAtEnd = loadavg();

const out = opts.out || path.join(root, 'results.json');
fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
const L = (r) => `| ${r.label} | ${r.median} ms | ${r.min} ms | ${r.max} ms | ${r.engineRunMedian} ms | ${r.cycleMedian} ms | ${r.cpuPerCycleMedian} ms | ${r.loadAvg} |`;
const mem = results.memory;
process.stdout.write(
  [
    `Watch mode, ${opts.steps} command steps × 10 inputs; ${results.machine.cpus} cores, ${results.machine.cpu}, Node ${results.machine.node}; ${results.env}`,
    '',
    `| write → step starts (${opts.samples} writes) | median | min | max | engine run (median) | write → cycle end (median) | CPU per cycle (median) | load average |`,
    '|---|---|---|---|---|---|---|---|',
    ...results.latency.map(L),
    '',
    ...(mem
      ? [
          `| cycles | ${mem.rss.map((x) => x.cycle).join(' | ')} |`,
          `|---|${mem.rss.map(() => '---').join('|')}|`,
          `| RSS (MB) | ${mem.rss.map((x) => x.rssMb).join(' | ')} |`,
          `| of which anonymous (MB) | ${mem.rss.map((x) => x.anonMb).join(' | ')} |`,
          `| of which file pages (MB) | ${mem.rss.map((x) => x.fileMb).join(' | ')} |`,
          `| live JS heap after full GC (MB) | ${mem.rss.map((x) => x.liveHeapMb).join(' | ')} |`,
          '',
          `Idle CPU over 5 s: ${mem.idleCpuPct}%. Median edit-to-cycle-end: ${mem.cycleMedianMs} ms.`,
        ]
      : []),
    `Load average: ${results.loadAvgAtStart} at start, ${results.loadAvgAtEnd} at the end.`,
    `Results: ${out}`,
    '',
  ].join('\n'),
);
