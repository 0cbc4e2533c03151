// How the query commands reach the store: from the project folder alone, read-only, never
// loading the Batchfile (history stays readable even when the Batchfile is broken).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectPaths, type ProjectPaths } from '../app/project.js';
import type { Args } from './args.js';
import { openStore, type Store } from '../store/store.js';
import { lockHolderAlive } from '../store/lock.js';
import { BatchError } from '../util/errors.js';

export type QueryPaths = ProjectPaths;

export function queryPaths(args: Args): QueryPaths {
  return projectPaths(path.resolve(args.cwd ?? process.cwd()));
}

/** --json and --csv are each a whole document on stdout; both at once is a usage error. */
export function outputMode(args: Args): 'text' | 'json' | 'csv' {
  if (args.json && args.csv) throw new BatchError('--json and --csv cannot be combined', 2);
  return args.json ? 'json' : args.csv ? 'csv' : 'text';
}

export async function withReadStore<T>(args: Args, fn: (store: Store, paths: QueryPaths) => T | Promise<T>): Promise<T> {
  const paths = queryPaths(args);
  const store = openStore(paths.cacheDir, { readOnly: true, root: paths.root });
  try {
    return await fn(store, paths);
  } finally {
    await store.close();
  }
}

/** Is a batch running in this project now? (Its run record says INTERRUPTED until it ends.) */
export function batchRunning(cacheDir: string): boolean {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(cacheDir, 'lock'), 'utf8')) as { pid?: number; host?: string; startedAt?: number };
    if (typeof info.pid !== 'number' || info.host !== os.hostname()) return false;
    // As the lock itself judges its holder: a reused pid or a zombie is no batch running.
    return lockHolderAlive(info.pid, typeof info.startedAt === 'number' ? info.startedAt : Date.now());
  } catch {
    return false;
  }
}
