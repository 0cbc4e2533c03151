// What a Batchfile's evaluation reads: the files (fs calls made by its top-level code:
// readFileSync, readdirSync, existsSync, statSync, …, and their promise forms) and the
// environment variables. Watch mode watches the project files among them and loads the
// Batchfile afresh when one changes; the validated-config cache (config-cache.ts) keys a
// cached config on all of them. Node's own `fs` functions are wrapped for the duration of the
// import only; syncBuiltinESMExports makes the wrappers reach named imports
// (`import { readFileSync } from 'node:fs'`) too.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SYNC = ['readFileSync', 'readdirSync', 'existsSync', 'statSync', 'lstatSync', 'openSync', 'opendirSync', 'accessSync', 'readlinkSync', 'realpathSync', 'createReadStream'] as const;
const ASYNC = ['readFile', 'readdir', 'stat', 'lstat', 'open', 'opendir', 'access', 'readlink', 'realpath'] as const;
/** Calls that change files: an evaluation that makes them has effects a cached config would
 * skip, so its config is not cached. */
const WRITES = ['writeFileSync', 'appendFileSync', 'mkdirSync', 'rmSync', 'rmdirSync', 'unlinkSync', 'renameSync', 'copyFileSync', 'cpSync', 'writeSync', 'symlinkSync', 'linkSync', 'truncateSync', 'utimesSync', 'chmodSync', 'createWriteStream', 'mkdtempSync'] as const;
const ASYNC_WRITES = ['writeFile', 'appendFile', 'mkdir', 'rm', 'rmdir', 'unlink', 'rename', 'copyFile', 'cp', 'write', 'symlink', 'link', 'truncate', 'utimes', 'chmod', 'mkdtemp'] as const;
const NOT_PROJECT = /^(\.cache|\.git|node_modules|logs)(\/|$)/;

type Fn = (...args: unknown[]) => unknown;

function pathOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof URL && arg.protocol === 'file:') return fileURLToPath(arg);
  if (Buffer.isBuffer(arg)) return arg.toString();
  return undefined;
}

/** What an evaluation touched. */
export interface Accessed<T> {
  value: T;
  /** Absolute paths read (as files, folders or stats), inside the project or not, sorted. */
  paths: string[];
  /** It called an fs function that writes, or set or deleted an environment variable. */
  wrote: boolean;
  /** Environment variables read, with the value each had (undefined: unset); `all`: it listed
   * the environment (Object.keys(process.env), a spread), so every variable counts. */
  env: { names: Map<string, string | undefined>; all: boolean };
}

/** Runs `fn` (an import of the compiled Batchfile) and returns what it gave, the paths it
 * read, whether it wrote, and the environment variables it read (see Accessed). `root`
 * resolves relative paths (the process's cwd is the project root). */
export async function trackAccess<T>(root: string, fn: () => Promise<T>): Promise<Accessed<T>> {
  const paths = new Set<string>();
  let wrote = false;
  const saved: [Record<string, unknown>, string, Fn][] = [];
  const wrap = (obj: Record<string, unknown>, name: string, on: (arg: unknown) => void): void => {
    const orig = obj[name] as Fn | undefined;
    if (typeof orig !== 'function') return;
    saved.push([obj, name, orig]);
    obj[name] = function (this: unknown, ...args: unknown[]) {
      on(args[0]);
      return orig.apply(this, args);
    };
  };
  const read = (arg: unknown): void => {
    const p = pathOf(arg);
    if (p !== undefined) paths.add(path.resolve(root, p));
  };
  const write = (): void => {
    wrote = true;
  };
  const sync = fs as unknown as Record<string, unknown>;
  const promises = fs.promises as unknown as Record<string, unknown>;
  for (const n of SYNC) wrap(sync, n, read);
  for (const n of ASYNC) {
    wrap(sync, n, read);
    wrap(promises, n, read);
  }
  for (const n of WRITES) wrap(sync, n, write);
  for (const n of ASYNC_WRITES) {
    wrap(sync, n, write);
    wrap(promises, n, write);
  }
  syncBuiltinESMExports();
  const env = { names: new Map<string, string | undefined>(), all: false };
  const realEnv = process.env;
  process.env = new Proxy(realEnv, {
    get(target, key) {
      if (typeof key === 'string' && !env.names.has(key)) env.names.set(key, target[key]);
      return Reflect.get(target, key);
    },
    has(target, key) {
      if (typeof key === 'string' && !env.names.has(key)) env.names.set(key, target[key]);
      return Reflect.has(target, key);
    },
    // process.env.hasOwnProperty('X'), Object.getOwnPropertyDescriptor(process.env, 'X').
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === 'string' && !env.names.has(key)) env.names.set(key, target[key]);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      env.all = true;
      return Reflect.ownKeys(target);
    },
    // Setting a variable is an effect (the steps of a direct run would see it): as a write.
    set(target, key, value) {
      wrote = true;
      return Reflect.set(target, key, value);
    },
    deleteProperty(target, key) {
      wrote = true;
      return Reflect.deleteProperty(target, key);
    },
    defineProperty(target, key, desc) {
      wrote = true;
      return Reflect.defineProperty(target, key, desc);
    },
  });
  try {
    const value = await fn();
    return { value, paths: [...paths].sort(), wrote, env };
  } finally {
    process.env = realEnv;
    for (const [obj, name, orig] of saved.reverse()) obj[name] = orig;
    syncBuiltinESMExports();
  }
}

/** The project-relative files and folders among `paths` (engine state, .git, node_modules and
 * logs left out), sorted: what watch mode watches. */
export function projectReads(root: string, paths: readonly string[]): string[] {
  const reads = new Set<string>();
  for (const p of paths) {
    const rel = path.relative(root, p).split(path.sep).join('/');
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) && !NOT_PROJECT.test(rel)) reads.add(rel);
  }
  return [...reads].sort();
}

/** Runs `fn` (an import of the compiled Batchfile) and returns what it gave and the
 * project-relative files and folders read meanwhile, sorted. */
export async function trackReads<T>(root: string, fn: () => Promise<T>): Promise<{ value: T; reads: string[] }> {
  const a = await trackAccess(root, fn);
  return { value: a.value, reads: projectReads(root, a.paths) };
}
