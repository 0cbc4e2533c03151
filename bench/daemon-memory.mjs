#!/usr/bin/env node
// The daemon's memory over its lifetime on the 10,000-step × 100,000-file pipeline (issue 20's
// last row), with what it is made of: an interactive first build (no CI, no BATCH_DAEMON: the
// daemon starts by itself during it, as suite `fast` sets its interactive rows up), then served
// no-ops and one changed input. After each run: the daemon's VmHWM (peak RSS so far), VmRSS,
// RssAnon, RssFile, the resident part of each LMDB file's mapping (smaps), and the heap the
// daemon logged for the run (.cache/daemon/daemon.log).
//
//   node bench/daemon-memory.mjs [--cli path/to/bin/batch.js] [--steps 10000] [--noops 5] [--pause MS] [--sample MS] [--out FILE]
//
// --cli: the batch build to measure (default: this repository's), so that two builds can be
// measured on the same generated project. --pause: wait that long after each run and sample
// again (the daemon collects its garbage after a quiet second: what it holds, not what it
// left). --sample: also read the daemon's /proc status every MS ms (default 20) while a run is
// served and after it, and keep the sample of the highest RSS in each stretch (a run, the
// daemon's work after it), so that the peak's own make-up is known, not only the state after
// the run. Run it with NODE_EXTRA_CA_CERTS unset, one at a time.
import fs from 'node:fs';
import path from 'node:path';
import { BIN, CLI, INTERACTIVE_ENV, JOBS, log, machineInfo, project, sh } from './lib.mjs';
import { spawn, spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const cli = path.resolve(arg('--cli', CLI));
const steps = Number(arg('--steps', '10000'));
const noops = Number(arg('--noops', '5'));
const out = arg('--out');
const pause = Number(arg('--pause', '0'));
const sampleMs = Number(arg('--sample', '20'));

const p = project({ kind: 'command', steps, inputs: 10 });
const dir = p.fresh(`mem-${path.basename(path.dirname(path.dirname(cli)))}`);
const env = { ...INTERACTIVE_ENV };

async function run(what) {
  const t = performance.now();
  const child = spawn(BIN.node, [cli, '-C', dir, '-j', String(JOBS), '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const status = await new Promise((resolve) => child.on('close', resolve));
  const ms = performance.now() - t;
  if (status !== 0) throw new Error(`${what}: exit ${status}: ${stderr.slice(-1500)}`);
  const doc = JSON.parse(stdout);
  return { what, ms: Math.round(ms), counts: doc.counts };
}

/** The highest-RSS sample of the daemon's status in the current stretch (see --sample). */
class Sampler {
  constructor(pid) {
    this.pid = pid;
    this.peak = undefined;
    this.timer = setInterval(() => this.take(), sampleMs);
  }
  take() {
    let status;
    try {
      status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return;
    }
    const rss = kb(status, 'VmRSS');
    if (this.peak && this.peak.vmRssKb >= rss) return;
    this.peak = { vmRssKb: rss, rssAnonKb: kb(status, 'RssAnon'), rssFileKb: kb(status, 'RssFile'), rssShmemKb: kb(status, 'RssShmem'), threads: kb0(status, 'Threads') };
  }
  /** The stretch's peak, and a new stretch. */
  cut() {
    this.take();
    const p = this.peak;
    this.peak = undefined;
    return p;
  }
  stop() {
    clearInterval(this.timer);
  }
}

function daemonPid() {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, '.cache', 'daemon', 'daemon.json'), 'utf8')).pid;
  } catch {
    return undefined;
  }
}

const kb = (status, key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+) kB`))?.[1]);
const kb0 = (status, key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))?.[1]);

/** Resident kB of each mapped file under .cache/ (smaps), by path relative to the project. */
function mappedFiles(pid) {
  const res = {};
  let file;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(.*)$/);
    if (head) file = head[1].startsWith(dir) ? path.relative(dir, head[1]) : undefined;
    else if (file && line.startsWith('Rss:')) res[file] = (res[file] ?? 0) + Number(line.split(/\s+/)[1]);
  }
  return res;
}

/** The heap the daemon logged after its last served run. */
function lastHeap() {
  try {
    const lines = fs.readFileSync(path.join(dir, '.cache', 'daemon', 'daemon.log'), 'utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const m = lines[i].match(/\(heap (\d+) MB, rss (\d+) MB\)/);
      if (m) return { heapMb: Number(m[1]), rssMb: Number(m[2]) };
    }
  } catch {
    // no log yet
  }
  return {};
}

const mb = (k) => `${(k / 1024).toFixed(0)} MB`;
const showPeak = (p) => (p ? `${mb(p.vmRssKb)} = anon ${mb(p.rssAnonKb)} + file ${mb(p.rssFileKb)} + shmem ${mb(p.rssShmemKb)}` : '?');

function sample(r, pid, peakDuring) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const row = {
    ...r,
    vmHwmKb: kb(status, 'VmHWM'),
    vmRssKb: kb(status, 'VmRSS'),
    rssAnonKb: kb(status, 'RssAnon'),
    rssFileKb: kb(status, 'RssFile'),
    mapped: mappedFiles(pid),
    ...lastHeap(),
    peakDuring,
    load: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
  log(`${r.what} (${r.ms} ms, ran ${r.counts?.ran ?? '?'}): VmHWM ${mb(row.vmHwmKb)}, RSS ${mb(row.vmRssKb)} = anon ${mb(row.rssAnonKb)} + file ${mb(row.rssFileKb)}; heap ${row.heapMb ?? '?'} MB; peak during the run ${showPeak(peakDuring)}; mapped ${Object.entries(row.mapped).map(([f, k]) => `${f} ${mb(k)}`).join(', ')}; load ${row.load}`);
  return row;
}

/** The rest of the stretch after a run (the daemon's work after it, a pause): its peak, and
 * with --pause what the daemon holds once it is over. */
async function after(row, sampler, pid) {
  if (pause > 0) {
    await new Promise((r) => setTimeout(r, pause));
    const later = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    row.afterPause = { ms: pause, vmRssKb: kb(later, 'VmRSS'), rssAnonKb: kb(later, 'RssAnon'), rssFileKb: kb(later, 'RssFile') };
    log(`  after ${pause} ms: RSS ${mb(row.afterPause.vmRssKb)} = anon ${mb(row.afterPause.rssAnonKb)} + file ${mb(row.afterPause.rssFileKb)}`);
  }
  row.peakAfter = sampler.cut();
}

const rows = [];
log(`daemon memory: ${cli} on ${dir}`);
const first = await run('first build (starts the daemon)');
const pid = daemonPid();
if (pid === undefined) throw new Error('no daemon started by the first build');
rows.push(sample(first, pid));
const sampler = new Sampler(pid);
await after(rows[0], sampler, pid);
for (let i = 1; i <= noops; i++) {
  const r = await run(`served no-op ${i}`);
  if (daemonPid() !== pid) throw new Error('the daemon changed');
  rows.push(sample(r, pid, sampler.cut()));
  await after(rows.at(-1), sampler, pid);
}
sh(`cd ${dir} && { head -c 4064 .bench/input.a; printf '%031d\\n' "$(date +%s%N)"; } > ${p.meta.changeInput}`);
rows.push(sample(await run('served, one input changed'), pid, sampler.cut()));
// The work after the last run, and its collection (a quiet second).
await new Promise((r) => setTimeout(r, Math.max(pause, 1500)));
rows.at(-1).peakAfter = sampler.cut();
sampler.stop();
const lastStatus = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
const files = {};
for (const f of ['.cache/store/data.mdb', '.cache/outputs/inline/data.mdb']) {
  const st = fs.statSync(path.join(dir, f), { throwIfNoEntry: false });
  if (st) files[f] = st.size;
}
const result = { cli, dir, steps, sampleMs, machine: machineInfo(), env: 'NODE_EXTRA_CA_CERTS unset; interactive (no CI, no BATCH_DAEMON)', files, peakKb: kb(lastStatus, 'VmHWM'), rows };
for (const r of rows.slice(1)) log(`  ${r.what}: peak during ${showPeak(r.peakDuring)}; after ${showPeak(r.peakAfter)}`);
log(`peak (VmHWM) ${(result.peakKb / 1024).toFixed(0)} MB; files ${JSON.stringify(files)}`);
spawnSync(BIN.node, [cli, '-C', dir, 'daemon', 'stop'], { env });
if (out) fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
