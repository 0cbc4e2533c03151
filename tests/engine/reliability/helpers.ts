// Helpers of the reliability suite (tests/engine/reliability): small projects, output
// snapshots and clean copies. Batchfile text and store views come from the core helpers.
import fs from 'node:fs';
import path from 'node:path';
import { TempProject } from '../rig.js';

export { batchfile, cmd, csvRows, isAlive, killQuietly, pgidOf, pidsIn, readStore, table, waitDead } from '../core/util.js';

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
