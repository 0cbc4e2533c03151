// Helpers shared by the engine tests (tests/engine/): Batchfile text, process
// liveness, and read-only views of the records a run leaves (LMDB store, CSV log).
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { fake, TempProject } from './rig.js';
import type { ExecOutcome, ExecRequest, Executor } from '../../src/executors/types.js';

/** A Batchfile.ts whose `steps` object literal is `body` (TypeScript text). */
export function batchfile(body: string, extra = ''): string {
  return `import { defineBatch } from 'batchfile';\n${extra}\nexport default defineBatch({ steps: {\n${body}\n}});\n`;
}

/** A fake-step command line as a TS string literal, ready to paste into a Batchfile. */
export function cmd(...args: string[]): string {
  return JSON.stringify(fake(...args));
}

/** [name, status, action] of each step, for compact assertions. */
export function table(steps: { name: string; status: string; action: string }[]): Record<string, string> {
  return Object.fromEntries(steps.map((s) => [s.name, `${s.status} ${s.action}`]));
}

/** A process is alive when signal 0 reaches it and it is not a zombie waiting to be reaped
 * (pid 1 of a container may never reap orphans; a zombie runs nothing). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`not a process id: ${pid}`);
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The process group of a live process (Linux /proc). */
export function pgidOf(pid: number): number {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`not a process id: ${pid}`);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** Resolves once none of `pids` is alive; rejects after `timeoutMs` naming the survivors.
 * A killed process group dies promptly but not synchronously with the kill, so this polls. */
export async function waitDead(pids: number[], timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0) return;
    if (Date.now() > until) throw new Error(`still alive after ${timeoutMs} ms: ${alive.join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Kills leftovers of a failed test so they do not outlive the suite. */
export function killQuietly(pids: number[]): void {
  for (const pid of pids) {
    // kill(0) or kill(-n) would signal whole process groups (the test runner's among them).
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Pids a step wrote (one per line or whitespace separated) into a file. */
export function pidsIn(p: TempProject, rel: string): number[] {
  return p.read(rel).split(/\s+/).filter(Boolean).map(Number);
}

export interface StoreView {
  runs: Record<string, unknown>[];
  results: { key: [string, string]; value: Record<string, unknown> }[];
  state: Record<string, Record<string, unknown>>;
  /** Stat-cache entries of the files asked for (absent ones left out). */
  stat: Record<string, Record<string, unknown>>;
}

/** The project's LMDB store as plain data, read through src's openStore (read-only), so the
 * test does not depend on how each table is encoded. Only call while no batch runs there. */
export async function readStore(p: TempProject, statFiles: string[] = []): Promise<StoreView> {
  const view: StoreView = { runs: [], results: [], state: {}, stat: {} };
  if (!fs.existsSync(p.path('.cache/store'))) return view;
  const { openStore } = await import('../../src/store/store.js');
  const store = openStore(p.path('.cache'), { readOnly: true });
  try {
    for (const { value } of store.runs.getRange()) view.runs.push(value as unknown as Record<string, unknown>);
    // Through the query layer, which also gives the up-to-date results kept as name lists.
    const { resultsOf } = await import('../../src/history/query.js');
    for (const run of view.runs) {
      for (const r of resultsOf(store, run.id as string)) view.results.push({ key: [run.id as string, r.name], value: r as unknown as Record<string, unknown> });
    }
    for (const { key, value } of store.state.getRange()) view.state[key] = value as unknown as Record<string, unknown>;
    for (const f of statFiles) {
      const e = store.stat.get(f);
      if (e) view.stat[f] = e as unknown as Record<string, unknown>;
    }
    return view;
  } finally {
    await store.close();
  }
}

/** Rows of logs/execution_logs.csv as objects (the header names the fields). Handles quoted
 * fields with commas and doubled quotes, which reasons may contain. */
export function csvRows(p: TempProject): Record<string, string>[] {
  if (!p.exists('logs/execution_logs.csv')) return [];
  const text = p.read('logs/execution_logs.csv');
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += ch;
  }
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries((header ?? []).map((h, i) => [h, r[i] ?? ''])));
}

/** Every file under `rel` with its content, for comparing two builds. */
export function snapshot(p: TempProject, rel: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(p.path(dir), { withFileTypes: true })) {
      const r = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(r);
      else out[r] = p.read(r);
    }
  };
  if (p.exists(rel)) walk(rel);
  return out;
}

/** The correctness rule: `p`'s out/ equals that of a copy of its sources (no .cache, logs or
 * out) built from nothing with `--force`, under `env`. */
export async function expectCleanBuildEqual(p: TempProject, env: NodeJS.ProcessEnv): Promise<void> {
  const clean = TempProject.create({});
  try {
    fs.cpSync(p.dir, clean.dir, { recursive: true, filter: (src) => !/[/\\](\.cache|logs|out)$/.test(src) });
    fs.mkdirSync(clean.path('out'));
    fs.writeFileSync(clean.path('out/.keep'), '');
    const r = await clean.run(['--force'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(snapshot(p, 'out')).toEqual(snapshot(clean, 'out'));
  } finally {
    clean.cleanup();
  }
}

/** Starts a child in its own (inherited) process group that ignores SIGTERM, writes
 * "<own pid> <child pid>" to argv[2], and never finishes. */
export const SPAWNER = `import { spawn } from 'node:child_process';
import fs from 'node:fs';
const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
fs.writeFileSync(process.argv[2] + '.tmp', process.pid + ' ' + child.pid);
fs.renameSync(process.argv[2] + '.tmp', process.argv[2]);
setInterval(() => {}, 1000);
`;

/** An executor that writes each step's outputs itself (its name as the content): runs the
 * pipeline's own work (hashing, recording, checkpoints) with no child process. */
export class WritingExecutor implements Executor {
  async execute(req: ExecRequest): Promise<ExecOutcome> {
    for (const o of req.outputs) fs.writeFileSync(o, req.step.name);
    return { ok: true };
  }
  async close(): Promise<void> {}
}
