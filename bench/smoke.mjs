#!/usr/bin/env node
// Short version of the benchmark suite for CI, so the suite cannot rot: tiny pipelines, one run
// of every scenario, and checks of what batchfile did (from `batch --json`) instead of timings.
// Exits 1 when a scenario breaks: a no-op or a touch that reruns steps, a content or code
// change that does not rerun exactly the changed step, a peer whose build fails, or outputs
// that differ between tools. Installed peers (ninja, make, doit, snakemake) are checked too;
// a missing one is reported and skipped. Prints single-run times for information only.
//
//   node bench/smoke.mjs [--keep]      (generated projects in a temporary folder under /tmp)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from './generate.mjs';
import { BIN, CLI, TOOLS, batchJson, batchfileReady, checkRun, fmtMb, fmtMs, prepareScript, probe, scenarioArgs, sh, shq } from './lib.mjs';

const keep = process.argv.includes('--keep');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'batchfile-smoke-'));
const t0 = Date.now();
const failures = [];
const lines = [];
const note = (s) => {
  lines.push(s);
  process.stderr.write(`${s}\n`);
};

if (!batchfileReady()) {
  console.error(`smoke: the batchfile CLI (${CLI}) is not usable; run \`npm run build\` first`);
  process.exit(1);
}

/** Runs batchfile scenarios in order on a fresh copy of `base`, checking each. */
function batchScenarios(label, base, meta, scenarios) {
  const dir = path.join(root, `${label}-batchfile`);
  sh(`cp -a ${shq(base)} ${shq(dir)}`);
  for (const s of scenarios) {
    // Keep the outputs of the first build: the reference the peers' outputs must equal.
    if (s === 'noop' && !fs.existsSync(`${dir}-ref`)) sh(`mkdir ${shq(`${dir}-ref`)} && cp -a ${shq(dir)}/out ${shq(`${dir}-ref`)}/out`);
    try {
      const j = batchJson(dir, { prepare: prepareScript(s, dir, 'batchfile', meta), extra: scenarioArgs(s, 'batchfile') });
      const problems = checkRun(s, meta, j.doc, j.status);
      note(`${problems.length ? 'FAIL' : 'ok  '} ${label} batchfile ${s.padEnd(9)} ${fmtMs(j.ms).padStart(8)} ${fmtMb(j.rssKb).padStart(7)}  ran ${j.doc.counts?.ran ?? '?'}${problems.length ? `  <- ${problems.join('; ')}` : ''}`);
      for (const p of problems) failures.push(`${label} ${s}: ${p}`);
    } catch (e) {
      note(`FAIL ${label} batchfile ${s}: ${e.message.split('\n')[0]}`);
      failures.push(`${label} ${s}: ${e.message.slice(0, 1000)}`);
    }
  }
  return dir;
}

/** Builds a copy with each installed peer, checks a second run succeeds, and compares the
 * outputs with batchfile's (same work must give the same bytes). */
function peers(label, base, reference) {
  for (const tool of ['ninja', 'make', 'doit', 'snakemake']) {
    if (!BIN[tool]) {
      note(`skip ${label} ${tool}: not installed`);
      continue;
    }
    const dir = path.join(root, `${label}-${tool}`);
    sh(`cp -a ${shq(base)} ${shq(dir)}`);
    // Snakemake takes seconds even for a tiny no-op: its build is enough to catch rot.
    for (const s of tool === 'snakemake' ? ['first'] : ['first', 'noop']) {
      const r = probe(TOOLS[tool].argv(dir));
      note(`${r.status === 0 ? 'ok  ' : 'FAIL'} ${label} ${tool.padEnd(9)} ${s.padEnd(9)} ${fmtMs(r.ms).padStart(8)} ${fmtMb(r.rssKb).padStart(7)}`);
      if (r.status !== 0) failures.push(`${label} ${tool} ${s}: exit ${r.status}: ${r.stderr.slice(-500)}`);
    }
    try {
      sh(`diff -r ${shq(path.join(reference, 'out'))} ${shq(path.join(dir, 'out'))}`);
    } catch (e) {
      note(`FAIL ${label} ${tool}: outputs differ from batchfile's`);
      failures.push(`${label} ${tool}: outputs differ from batchfile's: ${e.message.slice(0, 500)}`);
    }
  }
}

/** The same scenarios through the project daemon (docs/daemon.md): each run checked, counted
 * as served, and the outputs equal to a direct build's. */
function daemonScenarios(label, base, meta) {
  const dir = path.join(root, `${label}-daemon`);
  sh(`cp -a ${shq(base)} ${shq(dir)}`);
  const batch = (...args) => probe([...TOOLS.batchfile.argv(dir).slice(0, 4), ...args]);
  const served = () => Number(batch('daemon', 'status').stdout.match(/(\d+) runs? served/)?.[1] ?? NaN);
  const first = batchJson(dir, { prepare: prepareScript('first', dir, 'batchfile', meta) });
  if (first.status !== 0) failures.push(`${label} daemon: the first build failed`);
  const start = batch('daemon', 'start');
  if (start.status !== 0) {
    failures.push(`${label} daemon start: exit ${start.status}: ${start.stderr.slice(-500)}`);
    return;
  }
  try {
    for (const s of ['noop', 'touch', 'content', 'noop', 'code', 'noop']) {
      const before = served();
      const j = batchJson(dir, { prepare: prepareScript(s, dir, 'batchfile', meta) });
      const problems = checkRun(s, meta, j.doc, j.status);
      if (served() !== before + 1) problems.push('not served by the daemon');
      note(`${problems.length ? 'FAIL' : 'ok  '} ${label} daemon    ${s.padEnd(9)} ${fmtMs(j.ms).padStart(8)} ${fmtMb(j.rssKb).padStart(7)}  ran ${j.doc.counts?.ran ?? '?'}${problems.length ? `  <- ${problems.join('; ')}` : ''}`);
      for (const p of problems) failures.push(`${label} daemon ${s}: ${p}`);
    }
    // Incremental (served) outputs must equal a clean forced build's, made without the daemon.
    sh(`cp -a ${shq(path.join(dir, 'out'))} ${shq(`${dir}-served-out`)}`);
    const forced = batchJson(dir, { extra: ['--force', '--no-daemon'] });
    if (forced.status !== 0) failures.push(`${label} daemon: the --force --no-daemon build failed`);
    try {
      sh(`diff -r ${shq(`${dir}-served-out`)} ${shq(path.join(dir, 'out'))}`);
      note(`ok   ${label} daemon    outputs equal a --force --no-daemon build`);
    } catch {
      failures.push(`${label} daemon: served outputs differ from a --force --no-daemon build`);
    }
  } catch (e) {
    failures.push(`${label} daemon: ${e.message.slice(0, 1000)}`);
  } finally {
    batch('daemon', 'stop');
  }
}

try {
  // Command steps: the whole scenario list, then the peers on the same sources.
  const cmdBase = path.join(root, 'command');
  const cmd = generate({ out: cmdBase, kind: 'command', steps: 10, inputs: 3 });
  const cmdDir = batchScenarios('command', cmdBase, cmd, ['first', 'noop', 'touch', 'content', 'noop', 'code', 'noop', 'touch-all']);
  peers('command', cmdBase, `${cmdDir}-ref`);
  daemonScenarios('command', cmdBase, cmd);

  // `run` steps (worker pool) and their process-per-step form for the peers.
  const runBase = path.join(root, 'run');
  const run = generate({ out: runBase, kind: 'run', steps: 4, inputs: 3 });
  const runDir = batchScenarios('run', runBase, run, ['first', 'noop', 'content', 'code', 'noop']);
  const runFresh = `${runDir}-ref`;
  for (const tool of ['ninja']) {
    if (!BIN[tool]) continue;
    const dir = path.join(root, `run-${tool}`);
    sh(`cp -a ${shq(runBase)} ${shq(dir)}`);
    const r = probe(TOOLS[tool].argv(dir));
    note(`${r.status === 0 ? 'ok  ' : 'FAIL'} run ${tool} first ${fmtMs(r.ms)}`);
    if (r.status !== 0) failures.push(`run ${tool}: exit ${r.status}: ${r.stderr.slice(-500)}`);
    else {
      try {
        sh(`diff -r ${shq(path.join(runFresh, 'out'))} ${shq(path.join(dir, 'out'))}`);
      } catch (e) {
        failures.push(`run ${tool}: outputs differ from batchfile's`);
      }
    }
  }

  // CPU-bound kind, two steps of ~20 ms: the module and the calibration still work.
  const cpuBase = path.join(root, 'cpu');
  const cpu = generate({ out: cpuBase, kind: 'cpu', steps: 2, inputs: 2, cpuMs: 20 });
  batchScenarios('cpu', cpuBase, cpu, ['first', 'noop', 'force']);

  // Hash kind, 4 MiB: touching the big input reruns nothing.
  const hashBase = path.join(root, 'hash');
  const hash = generate({ out: hashBase, kind: 'hash', sizeMib: 4 });
  batchScenarios('hash', hashBase, hash, ['first', 'touch']);
} catch (e) {
  failures.push(`smoke: ${e.stack ?? e}`);
}

const secs = ((Date.now() - t0) / 1000).toFixed(1);
if (!keep) fs.rmSync(root, { recursive: true, force: true });
else console.error(`kept ${root}`);
if (failures.length) {
  console.error(`\nsmoke: ${failures.length} failure(s) in ${secs} s:\n${failures.map((f) => `- ${f}`).join('\n')}`);
  process.exit(1);
}
console.log(`smoke: every scenario behaved (${lines.filter((l) => l.startsWith('ok')).length} checks) in ${secs} s`);
