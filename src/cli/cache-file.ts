// Where a V8 code cache file lives and how it is written: shared by the CLI bundle's cache
// (cli/cached-load.ts) and the packages' (cli/package-cache.ts). Part of load.cjs: imports
// nothing of the engine.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

/** The cache file for `file` (and `kind`: '' for the bundle itself) under this Node and these
 * V8 flags. V8 refuses a cache made under other flags (the daemon's heap settings, a
 * NODE_OPTIONS heap limit): one file per set keeps the daemon and the CLI from rewriting each
 * other's. */
export function codeCachePath(file: string, kind = ''): string {
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ').trim();
  const tag = flags === '' || typeof zlib.crc32 !== 'function' ? '' : `-${(zlib.crc32(flags) >>> 0).toString(16)}`;
  return `${file}.${process.version}-${process.arch}${tag}${kind === '' ? '' : `.${kind}`}.v8cache`;
}

/** Whether compiled code may come from a cache at all: not when the user turned it off
 * (BATCH_CODE_CACHE=0), nor without zlib.crc32 (Node before 20.15: no cache could be trusted),
 * nor under a Node policy (--experimental-policy), whose integrity checks run only in Node's
 * own loader: a package file compiled here would skip them. */
export function codeCacheAllowed(): boolean {
  if (typeof zlib.crc32 !== 'function' || process.env.BATCH_CODE_CACHE === '0') return false;
  return ![...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--experimental-policy'));
}

/** Temp files a process that died mid-write left (older than a minute: not being written). */
function sweepTemps(dir: string): void {
  try {
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.tmp') || !f.includes('.v8cache.')) continue;
      const at = path.join(dir, f);
      if (Date.now() - (fs.statSync(at, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 60_000) fs.rmSync(at, { force: true });
    }
  } catch {
    // only tidying
  }
}

/** Writes the cache `file` whole (through a rename) with the bytes `make` returns, where its
 * folder is writable: a read-only install (another user's, a system folder) never gets one,
 * and is not worth serialising the bytecode each time to find that out. Never throws. */
export function writeCacheFile(file: string, make: () => Buffer): void {
  const dir = path.dirname(file);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    sweepTemps(dir);
    fs.writeFileSync(tmp, make());
    fs.renameSync(tmp, file);
  } catch {
    // a cache is only ever a shortcut
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // left for the next writer's sweep
    }
  }
}
