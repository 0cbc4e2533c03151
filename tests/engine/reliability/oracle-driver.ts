// Runs one oracle case: builds the world's project, then for each round applies the edits,
// runs `batch` incrementally and, at the same time, a clean build of the same state in a
// fresh copy (sources only: no .cache/, logs/ or outputs), and checks
//   - both agree on success (or both refuse the same bad state with exit 2),
//   - every output byte equals the clean build's,
//   - minimality: a step ran (or was restored) exactly when the model says its fingerprint or
//     outputs differ from what it last recorded, and its reasons are true ones,
//   - no process of the run is left behind.
// A kill round holds a step mid-write and kill -9s batch; the steps that might have recorded
// become "unknown" to the model until the next run settles them.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, TempProject, type RunSummary } from '../rig.js';
import { bytesUnder, cleanCopy, killWithEnv, pidsWithEnv } from './helpers.js';
import { killQuietly, waitDead } from '../helpers.js';
import { fingerprintOf, outputsIn, parseReason, reasonsToRun, type Hashes, type Recorded } from './oracle-model.js';
import { batchfileOf, DIRS, GLOB_DIRS, HOLDABLE, LITERALS, libOf, moduleOf, outputsOf, projectFiles, toolOf, type Case, type Mutation, type Round, type World } from './oracle-world.js';

export interface OracleStats {
  cases: number;
  rounds: number;
  /** batch processes started (incremental + clean). */
  processes: number;
  mutations: number;
  kills: number;
  /** Rounds whose state both builds refused (exit 2). */
  refused: number;
  stepsRan: number;
  stepsRestored: number;
  stepsUpToDate: number;
  /** Step decisions checked against the minimality model. */
  decisionsChecked: number;
}

export const newStats = (): OracleStats => ({
  cases: 0, rounds: 0, processes: 0, mutations: 0, kills: 0, refused: 0, stepsRan: 0, stepsRestored: 0, stepsUpToDate: 0, decisionsChecked: 0,
});

/** The CLI to run: the repo's, or a frozen copy (long runs while others rebuild dist/). */
const BATCH_BIN = process.env.BATCH_BIN ?? BIN;

interface Proc {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `batch`; resolves when it exits, or (with `hold`) once the held step started, after
 * kill -9 of batch. */
function runBatch(dir: string, args: string[], env: NodeJS.ProcessEnv, hold?: string): Promise<Proc & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const holdDir = path.join(dir, 'hold');
    const holdFile = hold === undefined ? undefined : path.join(holdDir, `${hold}.pid`);
    if (holdFile) fs.mkdirSync(holdDir, { recursive: true });
    const child = spawn(process.execPath, [BATCH_BIN, '-C', dir, ...args], {
      // A 50 ms racy window (not 2 s) lets the stat-snapshot fast path decide most steps here,
      // as it would for older files, so the oracle checks it too.
      env: { ...process.env, NO_COLOR: '1', CI: '1', BATCH_RACY_WINDOW_MS: '50', ...env, ...(hold !== undefined ? { ORACLE_HOLD: hold } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const check = (): void => {
      if (!killed && holdFile && fs.existsSync(holdFile)) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    const watcher = holdFile ? fs.watch(holdDir, check) : undefined;
    check();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`batch ${args.join(' ')} did not finish in 120 s\n${stdout}\n${stderr}`));
    }, 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      watcher?.close();
      resolve({ code, signal, stdout, stderr, killed });
    });
  });
}

const taggedPids = (tag: string): number[] => pidsWithEnv('ORACLE_TAG', tag);
const killTagged = (tag: string): Promise<void> => killWithEnv('ORACLE_TAG', tag);

function write(p: TempProject, rel: string, content: string | Uint8Array): void {
  p.write(rel, content);
}

function dataFiles(w: World): string[] {
  return [...w.data.keys()].sort();
}

function existingOutputs(w: World, p: TempProject): string[] {
  return w.steps.flatMap((s, i) => outputsOf(i, s)).filter((f) => p.exists(f));
}

const ADD_FOLDERS = [`${GLOB_DIRS[0]}:txt`, `${GLOB_DIRS[1]}:txt`, `${GLOB_DIRS[0]}:csv`, DIRS[0]!, DIRS[1]!, `${DIRS[1]}/sub`];
const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);
const show = (b: Uint8Array): string => JSON.stringify(Buffer.from(b).toString('utf8').slice(0, 12));

/** Applies one edit to the world and the project; returns what it did, for failure reports. */
export function applyMutation(w: World, m: Mutation, p: TempProject): string {
  switch (m.m) {
    case 'write': {
      const f = pick([...new Set([...dataFiles(w), ...LITERALS])].sort(), m.pick)!;
      w.data.set(f, m.bytes);
      write(p, f, m.bytes);
      return `write ${f} ${show(m.bytes)}`;
    }
    case 'add': {
      const [folder, ext] = pick(ADD_FOLDERS, m.folder)!.split(':');
      const f = `${folder}/${m.name}-new${ext ? `.${ext}` : ''}`;
      w.data.set(f, m.bytes);
      write(p, f, m.bytes);
      return `add ${f} ${show(m.bytes)}`;
    }
    case 'delete': {
      const f = pick(dataFiles(w), m.pick);
      if (f === undefined) return 'delete (nothing)';
      w.data.delete(f);
      p.remove(f);
      return `delete ${f}`;
    }
    case 'touch': {
      const f = pick([...dataFiles(w), 'Batchfile.ts', 'tools/cat.mjs', 'steps/lib/fmt.ts', ...existingOutputs(w, p)], m.pick)!;
      if (!p.exists(f)) return `touch ${f} (absent)`;
      p.touch(f);
      return `touch ${f}`;
    }
    case 'module': {
      const i = pick(w.steps.map((s, j) => (s.kind === 'run' || s.kind === 'run-lib' ? j : -1)).filter((j) => j >= 0), m.pick);
      if (i === undefined) return 'module (no run step)';
      const s = w.steps[i]!;
      s.version++;
      write(p, `steps/s${i}.ts`, moduleOf(s));
      return `edit steps/s${i}.ts (v${s.version})`;
    }
    case 'lib':
      if (m.comment) w.lib.comments++;
      else w.lib.version++;
      write(p, 'steps/lib/fmt.ts', libOf(w));
      return `edit steps/lib/fmt.ts (${m.comment ? 'comment' : `v${w.lib.version}`})`;
    case 'tool':
      if (m.comment) w.tool.comments++;
      else w.tool.version++;
      write(p, 'tools/cat.mjs', toolOf(w));
      return `edit tools/cat.mjs (${m.comment ? 'comment' : `v${w.tool.version}`})`;
    case 'params': {
      const s = pick(w.steps, m.pick)!;
      s.params = { ...s.params, n: m.n };
      write(p, 'Batchfile.ts', batchfileOf(w));
      return `params of ${s.name}: n=${m.n}`;
    }
    case 'variant': {
      const s = pick(w.steps.filter((x) => x.kind !== 'run' && x.kind !== 'run-lib'), m.pick);
      if (!s) return 'variant (no command step)';
      s.variant = m.v;
      write(p, 'Batchfile.ts', batchfileOf(w));
      return `command of ${s.name}: variant ${m.v}`;
    }
    case 'rmOut': {
      const f = pick(existingOutputs(w, p), m.pick);
      if (f === undefined) return 'rm output (none)';
      p.remove(f);
      return `rm ${f}`;
    }
    case 'corrupt': {
      const f = pick(existingOutputs(w, p), m.pick);
      if (f === undefined) return 'corrupt output (none)';
      const bytes = m.bytes ?? fs.readFileSync(p.path(f));
      write(p, f, bytes);
      return m.bytes ? `corrupt ${f} ${show(bytes)}` : `rewrite ${f} with its own bytes`;
    }
    case 'env':
      w.env[m.name] = m.value;
      return `env ${m.name}=${m.value === undefined ? '(unset)' : JSON.stringify(m.value)}`;
  }
}

function summaryOf(r: Proc, what: string): RunSummary {
  try {
    return JSON.parse(r.stdout) as RunSummary;
  } catch {
    throw new Error(`${what}: no JSON summary (exit ${r.code}, signal ${r.signal})\n${r.stdout}\n${r.stderr}`);
  }
}

const errorLine = (stderr: string): string => stderr.split('\n').find((l) => l.startsWith('error:')) ?? `(no error line) ${stderr}`;

function sameHashes(a: Hashes, b: Hashes): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

const NOOP: Round = { muts: [], force: false, kill: null, jobs: 2, noCache: false };

/** Runs one case; throws with the whole story on the first disagreement. */
/** With `daemon`, the incremental runs are served by a project daemon (started before round 0,
 * from an environment other than the runs': steps get each run's own); the clean builds never
 * are. The checks are the same: a served run must be indistinguishable from a direct one. */
export async function runCase(c: Case, stats: OracleStats, opts: { daemon?: boolean } = {}): Promise<void> {
  const w = structuredClone(c.world);
  const tag = randomUUID();
  const p = TempProject.create();
  for (const [f, content] of projectFiles(w)) write(p, f, content);
  const daemonPid = opts.daemon ? await startDaemon(p.dir) : undefined;
  const rec: (Recorded | 'unknown' | undefined)[] = w.steps.map(() => undefined);
  const story: string[] = [];
  let clean: TempProject | undefined;
  let cleanRun: Proc | undefined;
  const fail = (msg: string): never => {
    throw new Error(`${msg}\n\n--- Batchfile.ts\n${batchfileOf(w)}\n--- rounds\n${story.join('\n')}\n--- project ${p.dir}`);
  };
  stats.cases++;
  try {
    // Round 0 builds from nothing; the last round changes nothing and must rerun nothing.
    for (const [ri, round] of [NOOP, ...c.rounds, NOOP].entries()) {
      stats.rounds++;
      const did = round.muts.map((m) => applyMutation(w, m, p));
      stats.mutations += round.muts.length;
      const outsBefore = w.steps.map((_, i) => outputsIn(w, i, p.dir));
      const env = { ...w.env, ORACLE_TAG: tag };
      // A round without edits has the previous round's state: its clean build still stands.
      const reuse = round.muts.length === 0 && clean !== undefined && cleanRun !== undefined;
      if (!reuse) {
        clean?.cleanup();
        clean = cleanCopy(p, ['out', 'hold']);
      }
      const q = clean!;
      const cleanDone = reuse ? Promise.resolve(cleanRun!) : runBatch(q.dir, ['--json'], env);
      let force = round.force;
      let hold: string | undefined;
      if (round.kill !== null) {
        // Hold a step that has a reason to run (the model needs the clean build first), or
        // any with --force: otherwise the held step would mostly not run and nothing be killed.
        const cl = await cleanDone;
        const holdable = w.steps.flatMap((s, i) => (HOLDABLE.includes(s.kind) ? [i] : []));
        const due = cl.code !== 0 ? [] : holdable.filter((i) => rec[i] === 'unknown' || reasonsToRun(rec[i] as Recorded | undefined, fingerprintOf(w, i, q.dir), outsBefore[i]!, force).length > 0);
        if (due.length === 0 && holdable.length > 0 && cl.code === 0) force = true;
        const from = due.length > 0 ? due : holdable;
        const i = pick(from, round.kill);
        hold = i === undefined ? undefined : w.steps[i]!.name;
      }
      // A served run whose client was killed is stopped by the daemon (as Ctrl-C would): --wait
      // lets the next round wait for its lock rather than find it taken.
      const args = ['--json', '-j', String(round.jobs), ...(force ? ['--force'] : []), ...(round.noCache ? ['--no-cache'] : []), ...(opts.daemon ? ['--wait'] : [])];
      story.push(`round ${ri}: ${did.join('; ') || 'no edit'} | batch ${args.slice(1).join(' ')}${hold !== undefined ? ` (kill -9 while ${hold} runs)` : ''}`);
      const [inc, cl] = await Promise.all([runBatch(p.dir, args, env, hold), cleanDone]);
      if (daemonPid !== undefined && !inc.killed && /not using the daemon|lost the connection/.test(inc.stderr)) fail(`round ${ri}: not served by the daemon:\n${inc.stderr}`);
      cleanRun = cl;
      stats.processes += reuse ? 1 : 2;
      if (inc.killed) {
        stats.kills++;
        await killTagged(tag);
        story[story.length - 1] += ' → killed';
      } else {
        const left = taggedPids(tag);
        if (left.length > 0) fail(`round ${ri}: processes left behind after the run: ${left.join(', ')}`);
      }
      p.remove('hold');

      if (cl.code === 2) {
        // A state the engine must refuse (an input deleted): both refuse it alike, nothing runs.
        stats.refused++;
        if (inc.code !== 2 || errorLine(inc.stderr) !== errorLine(cl.stderr)) {
          fail(`round ${ri}: the clean build refused the state (${errorLine(cl.stderr)}) but the incremental run exited ${inc.code}: ${errorLine(inc.stderr)}`);
        }
        for (const [i] of w.steps.entries()) {
          if (!sameHashes(outputsIn(w, i, p.dir), outsBefore[i]!)) fail(`round ${ri}: a refused run changed the outputs of ${w.steps[i]!.name}`);
        }
        story[story.length - 1] += ' → refused alike (exit 2)';
        continue;
      }
      if (cl.code !== 0) fail(`round ${ri}: the clean build failed (exit ${cl.code}, signal ${cl.signal})\n${cl.stderr}`);
      const fps = w.steps.map((_, i) => fingerprintOf(w, i, q.dir));
      const cleanOuts = w.steps.map((_, i) => outputsIn(w, i, q.dir));

      if (inc.killed) {
        // Steps with no reason to run were not touched; the others may or may not have recorded.
        for (const [i, s] of w.steps.entries()) {
          const r = rec[i];
          const must = r === 'unknown' || reasonsToRun(r, fps[i]!, outsBefore[i]!, force).length > 0;
          if (must) rec[i] = 'unknown';
          else if (!sameHashes(outputsIn(w, i, p.dir), outsBefore[i]!)) fail(`round ${ri}: the killed run touched the outputs of ${s.name}, which had no reason to run`);
        }
        continue;
      }

      if (inc.code !== 0) fail(`round ${ri}: the incremental run failed (exit ${inc.code}, signal ${inc.signal})\n${inc.stderr}`);
      const summary = summaryOf(inc, `round ${ri}`);
      const incBytes = bytesUnder(p, 'out');
      const cleanBytes = bytesUnder(q, 'out');
      const diff = [...new Set([...incBytes.keys(), ...cleanBytes.keys()])].filter((f) => !incBytes.get(f)?.equals(cleanBytes.get(f) ?? Buffer.alloc(0)) || !cleanBytes.has(f) || !incBytes.has(f));
      if (diff.length > 0) {
        fail(`round ${ri}: outputs differ from the clean build: ${diff.map((f) => `${f}: incremental ${JSON.stringify(incBytes.get(f)?.toString())} clean ${JSON.stringify(cleanBytes.get(f)?.toString())}`).join('\n')}\nsteps: ${summary.steps.map((s) => `${s.name} ${s.action} (${s.reason})`).join(', ')}`);
      }
      for (const [i, s] of w.steps.entries()) {
        const got = summary.steps.find((x) => x.name === s.name);
        if (!got) fail(`round ${ri}: ${s.name} missing from the summary`);
        if (got!.status !== 'PASS') fail(`round ${ri}: ${s.name} is ${got!.status}: ${got!.reason}`);
        const ran = got!.action === 'ran' || got!.action === 'restored';
        if (got!.action === 'ran') stats.stepsRan++;
        else if (got!.action === 'restored') stats.stepsRestored++;
        else stats.stepsUpToDate++;
        const r = rec[i];
        if (r !== 'unknown') {
          stats.decisionsChecked++;
          const why = reasonsToRun(r, fps[i]!, outsBefore[i]!, force);
          if (why.length > 0 !== ran) {
            fail(`round ${ri}: ${s.name} was ${got!.action} (${got!.reason}) but the model says ${why.length > 0 ? `it must run: ${why.join('; ')}` : 'nothing changed for it'}`);
          }
          if (ran) {
            const { listed, total } = parseReason(got!.reason);
            const untrue = listed.filter((x) => !why.includes(x));
            if (untrue.length > 0 || total !== why.length) fail(`round ${ri}: ${s.name}'s reasons "${got!.reason}" are not the true ones: ${why.join('; ')}`);
            if (force && got!.action !== 'ran') fail(`round ${ri}: ${s.name} was ${got!.action} under --force`);
          }
        }
        if (ran || r === 'unknown') rec[i] = { fp: fps[i]!, outputs: cleanOuts[i]! };
      }
      story[story.length - 1] += ` → ran ${summary.steps.filter((x) => x.action === 'ran').map((x) => x.name).join(',') || '-'}; restored ${summary.steps.filter((x) => x.action === 'restored').map((x) => x.name).join(',') || '-'}`;
    }
    if (daemonPid !== undefined) await stopDaemon(p.dir, daemonPid);
    p.cleanup();
  } finally {
    clean?.cleanup();
    await killTagged(tag);
    if (daemonPid !== undefined) killQuietly([daemonPid]);
  }
}

/** `batch daemon start` for the project, from the oracle's base environment (no world's
 * variables, no tag: the daemon is not one of a run's processes); its pid. */
async function startDaemon(dir: string): Promise<number> {
  const r = await runBatch(dir, ['daemon', 'start'], {});
  if (r.code !== 0) throw new Error(`batch daemon start failed: ${r.stdout}${r.stderr}`);
  return (JSON.parse(fs.readFileSync(path.join(dir, '.cache/daemon/daemon.json'), 'utf8')) as { pid: number }).pid;
}

/** Stops it, and checks it served every incremental run (none went direct). */
async function stopDaemon(dir: string, pid: number): Promise<void> {
  const s = await runBatch(dir, ['daemon', 'stop'], {});
  if (s.code !== 0) throw new Error(`batch daemon stop failed: ${s.stdout}${s.stderr}`);
  await waitDead([pid], 20_000);
}
