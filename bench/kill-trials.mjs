#!/usr/bin/env node
// kill -9 trials (issue 6): a small pipeline of every step kind is edited, `batch` started and
// killed with SIGKILL at a random moment of its run (half the trials time the kill from the
// start, half from the moment batch took the project lock, i.e. past start-up); then
//   - the next run must exit 0 (the LMDB store opens, the stale lock is taken over),
//   - its outputs must equal, byte for byte, a clean build of the same sources in a fresh copy,
//   - a run after it must find every step up to date (what it recorded is what is on disk),
//   - no process of the killed run may be left once its orphans are reaped.
// Command steps run in their own process group, started by batch's spawn helpers, which kill
// every running step's group when batch dies (even by kill -9); each trial still reaps any
// survivor before the next run starts, so a regression shows as a failed trial, not a hang.
//
//   node bench/kill-trials.mjs [--trials 60] [--seed N] [--bin path/to/batch.js] [--json] [--keep]
//
// Prints one line per trial and a summary; --json prints the summary as JSON (the CI test
// tests/engine/reliability/kill.test.ts runs a few trials through it). Exit 1 if any trial failed.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const FAKE = path.join(REPO, 'tests/engine/fixtures/fake-step.mjs');

function parseArgs(argv) {
  const o = { trials: 60, seed: Date.now() % 1_000_000, bin: path.join(REPO, 'bin/batch.js'), json: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--trials') o.trials = Number(argv[++i]);
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--bin') o.bin = path.resolve(argv[++i]);
    else if (a === '--json') o.json = true;
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}
const opts = parseArgs(process.argv.slice(2));

/** mulberry32: a small seeded PRNG, so a failing trial can be replayed with --seed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(opts.seed);
const pick = (list) => list[Math.floor(rand() * list.length)];

const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const fake = (...args) => [process.execPath, FAKE, ...args].map(q).join(' ');

/** The pipeline: every kind of step, two levels of fan-in, a slow writer (so kills land
 * mid-write), the worker pool, globs, params and an env variable. */
function batchfile(v) {
  const steps = {
    gather: { command: 'node tools/gather.mjs out/gather.txt', inputs: ['data/*.txt'], outputs: ['out/gather.txt'], params: { v: v.gather } },
    upper: { run: 'steps/upper.ts', inputs: ['out/gather.txt'], outputs: ['out/upper.txt'], params: { suffix: v.suffix } },
    slow: { command: 'node tools/slow.mjs out/gather.txt out/slow.txt', inputs: ['out/gather.txt'], outputs: ['out/slow.txt'] },
    join: { run: 'steps/join.ts', inputs: ['out/upper.txt', 'out/slow.txt'], outputs: ['out/join.txt', 'out/join.len'], env: ['KILL_TRIAL_MODE'] },
    shell: { command: 'cat out/join.txt out/slow.txt > out/shell.txt && printf "%s" "$KILL_TRIAL_MODE" >> out/shell.txt', inputs: ['out/join.txt', 'out/slow.txt'], outputs: ['out/shell.txt'], env: ['KILL_TRIAL_MODE'] },
    last: { command: fake('--in', 'out/shell.txt', '--in', 'out/join.len', '--text', v.text, '--out', 'out/last.txt'), inputs: ['out/shell.txt', 'out/join.len'], outputs: ['out/last.txt'] },
    side: { command: fake('--in', 'data/extra.csv', '--out', 'out/side.txt'), inputs: ['data/extra.csv'], outputs: ['out/side.txt'], cache: false },
  };
  return `import { defineBatch } from 'batchfile';\nexport default defineBatch({ steps: ${JSON.stringify(steps, null, 2)} });\n`;
}

const FILES = {
  'tools/gather.mjs': `import fs from 'node:fs';
const files = fs.readdirSync('data').filter((f) => f.endsWith('.txt')).sort();
fs.mkdirSync('out', { recursive: true });
fs.writeFileSync(process.argv[2], files.map((f) => f + ':' + fs.readFileSync('data/' + f, 'utf8')).join('\\n'));
`,
  // Writes its output in 40 pieces, 5 ms apart: a kill often finds it half written.
  'tools/slow.mjs': `import fs from 'node:fs';
const text = fs.readFileSync(process.argv[2], 'utf8').split('').reverse().join('');
const fd = fs.openSync(process.argv[3], 'w');
const n = 40;
for (let i = 0; i < n; i++) {
  fs.writeSync(fd, text.slice(Math.floor((i * text.length) / n), Math.floor(((i + 1) * text.length) / n)));
  await new Promise((r) => setTimeout(r, 5));
}
fs.closeSync(fd);
`,
  'steps/upper.ts': `import fs from 'node:fs';
export default async (ctx: { inputs: string[]; outputs: string[]; params: { suffix: string } }) => {
  fs.writeFileSync(ctx.outputs[0]!, fs.readFileSync(ctx.inputs[0]!, 'utf8').toUpperCase() + ctx.params.suffix);
};
`,
  'steps/join.ts': `import fs from 'node:fs';
export default async (ctx: { inputs: string[]; outputs: string[] }) => {
  const text = ctx.inputs.map((f) => fs.readFileSync(f, 'utf8')).join('|') + (process.env.KILL_TRIAL_MODE ?? '-');
  fs.writeFileSync(ctx.outputs[0]!, text);
  fs.writeFileSync(ctx.outputs[1]!, String(text.length));
};
`,
};

function initialState() {
  return {
    v: { gather: 1, suffix: '!', text: 'end' },
    data: { 'a.txt': 'alpha', 'b.txt': 'bravo', 'c.txt': 'charlie' },
    extra: 'x,y',
    mode: 'one',
  };
}

function writeProject(dir, s) {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  for (const [f, c] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), c);
  }
  fs.writeFileSync(path.join(dir, 'Batchfile.ts'), batchfile(s.v));
  for (const f of fs.readdirSync(path.join(dir, 'data'))) if (f.endsWith('.txt') && !(f in s.data)) fs.rmSync(path.join(dir, 'data', f));
  for (const [f, c] of Object.entries(s.data)) fs.writeFileSync(path.join(dir, 'data', f), c);
  fs.writeFileSync(path.join(dir, 'data/extra.csv'), s.extra);
}

/** One random edit (the run then has work to do); returns its description and whether the
 * run should be --force. */
function edit(s) {
  const kind = pick(['data', 'data', 'add', 'remove', 'param', 'suffix', 'text', 'env', 'extra', 'force']);
  const word = () => Array.from({ length: 1 + Math.floor(rand() * 8) }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(rand() * 36)]).join('');
  switch (kind) {
    case 'data': {
      const f = pick(Object.keys(s.data));
      s.data[f] = word();
      return `edit data/${f}`;
    }
    case 'add': {
      const f = `n${Math.floor(rand() * 5)}.txt`;
      s.data[f] = word();
      return `add data/${f}`;
    }
    case 'remove': {
      const keys = Object.keys(s.data);
      if (keys.length < 2) return edit(s);
      const f = pick(keys);
      delete s.data[f];
      return `remove data/${f}`;
    }
    case 'param':
      s.v.gather++;
      return 'params of gather';
    case 'suffix':
      s.v.suffix = word();
      return 'params of upper';
    case 'text':
      s.v.text = word();
      return 'command of last';
    case 'env':
      s.mode = pick(['one', 'two', '', 'three']);
      return `KILL_TRIAL_MODE=${s.mode}`;
    case 'extra':
      s.extra = word();
      return 'edit data/extra.csv';
    default:
      return 'force';
  }
}

/** Runs batch; with `kill`, sends SIGKILL `kill.afterMs` after the start or, with
 * `kill.fromLock`, after the project lock appeared (the run is past start-up). Reports when
 * the lock appeared (ms from the start), for measuring start-up. */
function runBatch(dir, args, env, kill) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const cacheDir = path.join(dir, '.cache');
    fs.mkdirSync(cacheDir, { recursive: true });
    let lockAt;
    let timer;
    let killed = false;
    const arm = () => {
      if (kill && !timer) timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, kill.afterMs);
    };
    const onCache = () => {
      if (lockAt === undefined && fs.existsSync(path.join(cacheDir, 'lock'))) {
        lockAt = performance.now() - t0;
        if (kill?.fromLock) arm();
      }
    };
    const watcher = fs.watch(cacheDir, onCache);
    const child = spawn(process.execPath, [opts.bin, '-C', dir, ...args], { env: { ...process.env, NO_COLOR: '1', CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (!kill?.fromLock) arm();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      clearTimeout(guard);
      watcher.close();
      resolve({ code, signal, stdout, stderr, killed: killed && signal === 'SIGKILL', ms: performance.now() - t0, lockAt });
    });
  });
}

function pidsWithEnv(name, value) {
  const needle = Buffer.from(`${name}=${value}\0`);
  const pids = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (fs.readFileSync(`/proc/${e}/environ`).includes(needle)) pids.push(Number(e));
    } catch {
      // gone
    }
  }
  return pids;
}

async function reap(tag) {
  let killed = 0;
  for (let i = 0; i < 200; i++) {
    const pids = pidsWithEnv('KILL_TRIAL_TAG', tag);
    if (pids.length === 0) return killed;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // gone
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`processes of ${tag} survive SIGKILL`);
}

function snapshot(dir) {
  const out = {};
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else out[r] = crypto.createHash('sha1').update(fs.readFileSync(path.join(dir, r))).digest('hex');
    }
  };
  if (fs.existsSync(path.join(dir, 'out'))) walk('out');
  return out;
}

const summaryOf = (r) => {
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
};

async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kill-trials-'));
  const dir = path.join(root, 'project');
  const state = initialState();
  writeProject(dir, state);
  const tag0 = crypto.randomUUID();
  const first = await runBatch(dir, ['--json', '--force'], { KILL_TRIAL_MODE: state.mode, KILL_TRIAL_TAG: tag0 });
  if (first.code !== 0) throw new Error(`the first build failed:\n${first.stderr}`);
  // A --force run's length: kills land uniformly over [0, span] (edited runs do less work, so some end before their kill).
  const forced = await runBatch(dir, ['--json', '--force'], { KILL_TRIAL_MODE: state.mode, KILL_TRIAL_TAG: tag0 });
  const span = forced.ms;
  // Start-up (node, modules, the Batchfile) until the lock is taken: half the kills are timed
  // from the lock instead, so most land while steps run and records are written.
  const startup = forced.lockAt ?? 0;
  const trials = [];
  const t0 = Date.now();
  for (let i = 0; i < opts.trials; i++) {
    const did = edit(state);
    writeProject(dir, state);
    const tag = crypto.randomUUID();
    const env = { KILL_TRIAL_MODE: state.mode, KILL_TRIAL_TAG: tag };
    const fromLock = rand() < 0.5;
    const delay = Math.round(rand() * (fromLock ? span - startup : span));
    const killedRun = await runBatch(dir, ['--json', '-j', String(1 + Math.floor(rand() * 3)), ...(did === 'force' ? ['--force'] : [])], env, { afterMs: delay, fromLock });
    const orphans = await reap(tag);
    const lockLeft = fs.existsSync(path.join(dir, '.cache/lock'));
    const partial = snapshot(dir);

    const clean = path.join(root, `clean-${i}`);
    writeProject(clean, state);
    const [recovery, cleanRun] = await Promise.all([runBatch(dir, ['--json'], env), runBatch(clean, ['--json'], env)]);
    const noop = await runBatch(dir, ['--json'], env);
    const trial = {
      i,
      edit: did,
      delayMs: delay,
      fromLock,
      killed: killedRun.killed,
      orphansReaped: orphans,
      lockLeft,
      recoveryExit: recovery.code,
      failures: [],
    };
    const fail = (m) => trial.failures.push(m);
    if (cleanRun.code !== 0) fail(`clean build exit ${cleanRun.code}: ${cleanRun.stderr.slice(-500)}`);
    if (recovery.code !== 0) fail(`recovery run exit ${recovery.code} (signal ${recovery.signal}): ${recovery.stderr.slice(-800)}`);
    const got = snapshot(dir);
    const want = snapshot(clean);
    const diff = [...new Set([...Object.keys(got), ...Object.keys(want)])].filter((f) => got[f] !== want[f]);
    if (diff.length > 0) fail(`outputs differ from the clean build: ${diff.join(', ')}`);
    const rec = summaryOf(recovery);
    if (rec) {
      trial.recoveryRan = rec.steps.filter((s) => s.action === 'ran' || s.action === 'restored').map((s) => s.name);
      trial.recoveryUpToDate = rec.steps.filter((s) => s.action === 'up-to-date').length;
      // An up-to-date step's outputs must be what it last wrote: the clean build's bytes.
      trial.damagedBeforeRecovery = Object.keys(want).filter((f) => partial[f] !== want[f]).length;
    }
    const no = summaryOf(noop);
    if (noop.code !== 0 || !no) fail(`no-op run exit ${noop.code}: ${noop.stderr.slice(-500)}`);
    else if (no.steps.some((s) => s.action !== 'up-to-date')) fail(`run after recovery is not a no-op: ${no.steps.filter((s) => s.action !== 'up-to-date').map((s) => `${s.name} ${s.action} (${s.reason})`).join(', ')}`);
    if (pidsWithEnv('KILL_TRIAL_TAG', tag).length > 0) fail('processes left after the recovery run');
    if (fs.existsSync(path.join(dir, '.cache/lock'))) fail('lock left after the recovery run');
    if (!opts.keep) fs.rmSync(clean, { recursive: true, force: true });
    trials.push(trial);
    if (!opts.json) {
      console.log(
        `trial ${String(i).padStart(3)} ${trial.failures.length === 0 ? 'ok  ' : 'FAIL'} ${did.padEnd(22)} kill ${String(delay).padStart(5)} ms after ${fromLock ? 'the lock' : 'start   '}${trial.killed ? '' : ' (run had ended)'}` +
          `${orphans ? `, ${orphans} orphan(s) reaped` : ''}${lockLeft ? ', stale lock' : ''}; recovery reran ${trial.recoveryRan?.join(',') || '-'}` +
          `${trial.failures.length ? `\n    ${trial.failures.join('\n    ')}` : ''}`,
      );
    }
  }
  const summary = {
    seed: opts.seed,
    trials: trials.length,
    killedMidRun: trials.filter((t) => t.killed).length,
    ranToEndFirst: trials.filter((t) => !t.killed).length,
    staleLocksTakenOver: trials.filter((t) => t.lockLeft).length,
    orphansReaped: trials.reduce((n, t) => n + t.orphansReaped, 0),
    trialsWithDamagedOutputs: trials.filter((t) => t.damagedBeforeRecovery > 0).length,
    failed: trials.filter((t) => t.failures.length > 0).length,
    spanMs: Math.round(span),
    startupMs: Math.round(startup),
    seconds: Math.round((Date.now() - t0) / 1000),
    failures: trials.filter((t) => t.failures.length > 0),
  };
  if (opts.json) console.log(JSON.stringify({ ...summary, trialsDetail: trials }, null, 2));
  else console.log(`\n${JSON.stringify(summary, null, 2)}`);
  if (!opts.keep) fs.rmSync(root, { recursive: true, force: true });
  else console.error(`kept ${root}`);
  process.exitCode = summary.failed > 0 ? 1 : 0;
}

await main();
