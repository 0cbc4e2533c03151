// Helpers of the reliability suite (tests/engine/reliability): small projects, output
// snapshots and clean copies. Batchfile text and store views come from the core helpers.
import fs from 'node:fs';
import path from 'node:path';
import { TempProject } from '../rig.js';
import { isAlive } from '../helpers.js';

export { batchfile, cmd, csvRows, isAlive, killQuietly, pgidOf, pidsIn, readStore, table, waitDead } from '../helpers.js';

/** Every file under `rel` as raw bytes (base64 keys would hide nothing: compare buffers). */
export function bytesUnder(p: TempProject, rel: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(p.path(dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(r);
      else out.set(r, fs.readFileSync(p.path(r)));
    }
  };
  walk(rel);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A printable form of a byte map for assertion messages and equality. */
export function showBytes(m: Map<string, Buffer>): Record<string, string> {
  return Object.fromEntries([...m].map(([k, v]) => [k, v.toString('base64')]));
}

/** Folders a clean copy leaves out: the engine's state and everything a run writes. */
export const RUN_STATE = new Set(['.cache', 'logs']);

/** A fresh project with the sources of `p` (not .cache/, logs/ or the folders in `skip`). */
export function cleanCopy(p: TempProject, skip: readonly string[]): TempProject {
  const q = TempProject.create();
  for (const e of fs.readdirSync(p.dir)) {
    if (RUN_STATE.has(e) || skip.includes(e)) continue;
    fs.cpSync(p.path(e), q.path(e), { recursive: true, verbatimSymlinks: true });
  }
  return q;
}

/** The store's data file. */
export function dataFile(p: TempProject): string {
  return p.path('.cache/store/data.mdb');
}

/** No stack trace in a message meant for a user. */
export const STACK = /\n\s+at .+\(?.*:\d+:\d+\)?/;

/** Live processes whose environment holds `NAME=value` (Linux /proc): every process a batch
 * run starts inherits its environment, so this finds what a run left behind. */
export function pidsWithEnv(name: string, value: string): number[] {
  const needle = Buffer.from(`${name}=${value}\0`);
  const pids: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/environ`).includes(needle) && isAlive(Number(e))) pids.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Kills every live process with `NAME=value` in its environment and waits until none is left. */
export async function killWithEnv(name: string, value: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const pids = pidsWithEnv(name, value);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`processes with ${name}=${value} survive SIGKILL: ${pidsWithEnv(name, value).join(', ')}`);
}
