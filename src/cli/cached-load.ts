// Loads the CLI's CommonJS bundle (dist/bundle/cli.cjs, scripts/bundle.mjs) through a V8 code
// cache kept beside it. Compiling the engine's ~600 KB at every start cost ~20-30 ms of a
// no-op's CPU (Node 20 has no compile cache for modules: `module.enableCompileCache` came in
// 22); from the cache V8 deserializes the bytecode instead, including the functions the run
// after which the cache was written had compiled lazily. bin/batch.js requires this as its own
// small CommonJS file (dist/bundle/load.cjs) before the CLI: it imports nothing of the engine.
//
// The cache is one file per Node version and architecture, written (whole, through a rename)
// after a run that found none or found it unusable, only where the engine's folder is writable.
// V8 checks its own version and flags, but knows the source only by its length, and does not
// checksum the bytecode in release builds: so the file names the bundle it was made from (path,
// size, mtime, change time, inode) and carries a CRC-32 of the bytecode; any mismatch compiles the bundle
// as usual and writes the cache again. The CommonJS packages the engine loads on every run
// (lmdb) get a cache of their own beside it (cli/package-cache.ts).
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import Module, { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { PACKAGE_CACHE_SLOT, type PackageLoader } from '../util/package-code-cache.js';
import { codeCacheAllowed, codeCachePath, writeCacheFile } from './cache-file.js';
import { PackageCodeCache } from './package-cache.js';

const MAGIC = 'BFV8CC01';
/** Magic, then the key's length and the bytecode's CRC-32 (u32 each), then key and bytecode. */
const HEAD = 16;

/** How the bundle was compiled: from the cache, or from source (no cache yet, a cache of
 * another build or damaged, V8 refused it), or from source with no cache possible. */
export type CacheUse = 'hit' | 'miss' | 'stale' | 'rejected' | 'off';

export interface LoadedCli<T> {
  exports: T;
  use: CacheUse;
  /** Writes the cache when this process compiled from source; call after the work, so the
   * functions it compiled lazily are in it. Never throws. */
  save(): void;
}

/** The bundle's source and identity (path, size, mtime, inode), read from one descriptor: a
 * rebuilt bundle of the same length must not run the old bytecode. No identity when the file
 * changed while it was read. */
function readBundle(file: string): { source: string; key: string | undefined } {
  const fd = fs.openSync(file, 'r');
  try {
    const id = (): string => {
      const st = fs.fstatSync(fd);
      // The change time too: tar and `npm pack` keep or fix mtimes, and an inode number is
      // reused at once (a rebuilt bundle extracted over an install had the old one's key).
      return `${file}|${st.size}|${st.mtimeMs}|${st.ctimeMs}|${st.dev}|${st.ino}`;
    };
    const before = id();
    const source = fs.readFileSync(fd, 'utf8');
    return { source, key: id() === before ? before : undefined };
  } finally {
    fs.closeSync(fd);
  }
}

/** The bytecode in `bytes` if it is a whole cache made for `key`. */
export function readCache(bytes: Buffer, key: string): Buffer | undefined {
  if (bytes.length < HEAD || bytes.toString('latin1', 0, 8) !== MAGIC) return undefined;
  const keyLen = bytes.readUInt32LE(8);
  if (HEAD + keyLen > bytes.length || bytes.toString('utf8', HEAD, HEAD + keyLen) !== key) return undefined;
  const code = bytes.subarray(HEAD + keyLen);
  return code.length > 0 && zlib.crc32(code) === bytes.readUInt32LE(12) ? code : undefined;
}

export function encodeCache(code: Buffer, key: string): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const head = Buffer.alloc(HEAD);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(keyBytes.length, 8);
  head.writeUInt32LE(zlib.crc32(code), 12);
  return Buffer.concat([head, keyBytes, code]);
}

/** Runs the CommonJS bundle `file` and returns its exports. `importEsm` is handed to it for
 * its dynamic imports (util/import-esm.ts): the bundle's own code cannot call `import()`. */
export function loadCli<T>(file: string, importEsm: (specifier: string) => Promise<unknown>): LoadedCli<T> {
  // Node maps stack traces (--enable-source-maps) only for code its module loader compiled.
  if (process.sourceMapsEnabled) return { exports: loadMapped<T>(file, importEsm), use: 'off', save() {} };
  const bundle = readBundle(file);
  const { source } = bundle;
  const key = codeCacheAllowed() ? bundle.key : undefined;
  const cacheFile = codeCachePath(file);
  let cached: Buffer | undefined;
  let use: CacheUse = key === undefined ? 'off' : 'miss';
  if (key !== undefined) {
    try {
      cached = readCache(fs.readFileSync(cacheFile), key);
      use = cached ? 'hit' : 'stale';
    } catch {
      // no cache yet
    }
  }
  // One line, as Node's own wrapper: line numbers in stack traces stay the bundle's.
  const wrapped = `(function (exports, require, module, __filename, __dirname, __import) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: file, ...(cached ? { cachedData: cached } : {}) });
  if (cached && script.cachedDataRejected === true) use = 'rejected';
  // The packages the engine requires on every run (lmdb) compile from a cache of their own.
  const packages = key !== undefined && PackageCodeCache.available() ? new PackageCodeCache(codeCachePath(file, 'packages')) : undefined;
  if (packages) {
    const loader: PackageLoader = (load) => packages.load(load);
    (globalThis as Record<symbol, unknown>)[PACKAGE_CACHE_SLOT] = loader;
  }
  const mod = { exports: {} as T };
  (script.runInThisContext() as (...a: unknown[]) => void)(mod.exports, createRequire(file), mod, file, path.dirname(file), importEsm);
  return {
    exports: mod.exports,
    use,
    save() {
      if (key !== undefined && use !== 'hit') writeCacheFile(cacheFile, () => encodeCache(script.createCachedData(), key));
      packages?.save();
    },
  };
}

/** The bundle through Node's own CommonJS loader, which reads its source map; its dynamic
 * imports reach `importEsm` through a global of this engine's name (the loader's wrapper has
 * no parameter for it). The directive stays first, so the code stays strict. */
function loadMapped<T>(file: string, importEsm: (specifier: string) => Promise<unknown>): T {
  const slot = Symbol.for('batchfile.importEsm');
  (globalThis as Record<symbol, unknown>)[slot] = importEsm;
  const m = new Module(file) as Module & { _compile(content: string, filename: string): void };
  m.filename = file;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
  m._compile(`"use strict";var __import = globalThis[Symbol.for('batchfile.importEsm')];${fs.readFileSync(file, 'utf8')}`, file);
  return m.exports as T;
}
