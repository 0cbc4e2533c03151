// The project files a Batchfile reads while it is evaluated (fs calls made by its top-level
// code: readFileSync, readdirSync, existsSync, statSync, …, and their promise forms). Watch
// mode watches them and loads the Batchfile afresh when one changes. Node's own `fs` functions
// are wrapped for the duration of the import only; syncBuiltinESMExports makes the wrappers
// reach named imports (`import { readFileSync } from 'node:fs'`) too.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SYNC = ['readFileSync', 'readdirSync', 'existsSync', 'statSync', 'lstatSync', 'openSync', 'opendirSync', 'accessSync'] as const;
const ASYNC = ['readFile', 'readdir', 'stat', 'lstat', 'open', 'opendir', 'access'] as const;
const NOT_PROJECT = /^(\.cache|\.git|node_modules|logs)(\/|$)/;

type Fn = (...args: unknown[]) => unknown;

function pathOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof URL && arg.protocol === 'file:') return fileURLToPath(arg);
  if (Buffer.isBuffer(arg)) return arg.toString();
  return undefined;
}

/** Runs `fn` (an import of the compiled Batchfile) and returns what it gave and the
 * project-relative files and folders read meanwhile, sorted. */
export async function trackReads<T>(root: string, fn: () => Promise<T>): Promise<{ value: T; reads: string[] }> {
  const reads = new Set<string>();
  const note = (arg: unknown): void => {
    const p = pathOf(arg);
    if (p === undefined) return;
    const rel = path.relative(root, path.resolve(root, p)).split(path.sep).join('/');
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) && !NOT_PROJECT.test(rel)) reads.add(rel);
  };
  const saved: [Record<string, unknown>, string, Fn][] = [];
  const wrap = (obj: Record<string, unknown>, name: string): void => {
    const orig = obj[name] as Fn | undefined;
    if (typeof orig !== 'function') return;
    saved.push([obj, name, orig]);
    obj[name] = function (this: unknown, ...args: unknown[]) {
      note(args[0]);
      return orig.apply(this, args);
    };
  };
  const sync = fs as unknown as Record<string, unknown>;
  const promises = fs.promises as unknown as Record<string, unknown>;
  for (const n of SYNC) wrap(sync, n);
  for (const n of ASYNC) {
    wrap(sync, n);
    wrap(promises, n);
  }
  syncBuiltinESMExports();
  try {
    const value = await fn();
    return { value, reads: [...reads].sort() };
  } finally {
    for (const [obj, name, orig] of saved.reverse()) obj[name] = orig;
    syncBuiltinESMExports();
  }
}
