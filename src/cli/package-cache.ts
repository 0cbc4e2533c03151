// A V8 code cache for the CommonJS files of packages the engine requires on every run (lmdb,
// and msgpackr, ordered-binary and the rest lmdb loads: ~260 KB compiled at every start, and
// again lazily as the run calls into them). Node 20 caches no compiled code for them; this
// compiles each file the way Node's loader does (the same wrapper, its own `require`, module,
// __filename and __dirname, so lmdb finds its native add-on and its dependencies exactly as
// before) but through `vm.Script` with the bytecode a previous run left. Only while a load
// handed to `load` runs (util/package-code-cache.ts): the engine asks for it by name, so no
// other package's files are touched.
//
// One file beside the bundle's own cache, per Node version, architecture and set of V8 flags,
// written (whole, through a rename, where the folder is writable) after a run that compiled any
// of the files from source. Each entry names the file it was made from: its path, stat (size,
// mtime, change time, device, inode) and a CRC-32 of the source Node read (V8 knows a source
// only by its length: an upgraded lmdb of the same size must not run the old bytecode), and
// carries a CRC-32 of its bytecode (V8 does not check it in release builds).
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import Module from 'node:module';
import zlib from 'node:zlib';
import type { PackageCacheUse } from '../util/package-code-cache.js';
import { writeCacheFile } from './cache-file.js';

const MAGIC = 'BFV8PK01';
/** Each entry: the key's length, the bytecode's length and its CRC-32 (u32 each). */
const ENTRY_HEAD = 12;

/** Node's CommonJS loader, as far as this uses it (public, if underscored, and stable). */
interface LoaderModule {
  exports: unknown;
  require(id: string): unknown;
}
type Compile = (this: LoaderModule, content: string, filename: string, format?: string) => unknown;
interface LoaderStatics {
  prototype: { _compile: Compile };
  _resolveFilename(request: string, parent: LoaderModule, isMain: boolean, options?: { paths?: string[] }): string;
  _resolveLookupPaths(request: string, parent: LoaderModule): string[] | null;
  _extensions: NodeJS.RequireExtensions;
  _cache: NodeJS.Dict<NodeJS.Module>;
  wrap(source: string): string;
}
const Loader = Module as unknown as LoaderStatics;

/** `import()` in a cached file works as in any CommonJS file (none of lmdb's uses it today).
 * Node versions without it get no package cache. */
const DEFAULT_LOADER = (vm.constants as Partial<typeof vm.constants> | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER;

/** What names the source a bytecode entry may be used for; undefined when the file is gone. */
export function sourceKey(filename: string, source: string): string | undefined {
  const st = fs.statSync(filename, { throwIfNoEntry: false });
  if (!st) return undefined;
  return `${filename}|${st.size}|${st.mtimeMs}|${st.ctimeMs}|${st.dev}|${st.ino}|${zlib.crc32(source) >>> 0}`;
}

export function encodeEntries(entries: ReadonlyMap<string, { key: string; code: Buffer }>): Buffer {
  const parts: Buffer[] = [Buffer.from(MAGIC, 'latin1'), Buffer.alloc(4)];
  parts[1]!.writeUInt32LE(entries.size);
  for (const { key, code } of entries.values()) {
    const keyBytes = Buffer.from(key, 'utf8');
    const head = Buffer.alloc(ENTRY_HEAD);
    head.writeUInt32LE(keyBytes.length, 0);
    head.writeUInt32LE(code.length, 4);
    head.writeUInt32LE(zlib.crc32(code), 8);
    parts.push(head, keyBytes, code);
  }
  return Buffer.concat(parts);
}

/** The entries of a whole, undamaged cache file by the file each names; undefined otherwise. */
export function decodeEntries(bytes: Buffer): Map<string, { key: string; code: Buffer }> | undefined {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 8) !== MAGIC) return undefined;
  const count = bytes.readUInt32LE(8);
  const entries = new Map<string, { key: string; code: Buffer }>();
  let at = 12;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_HEAD > bytes.length) return undefined;
    const keyLen = bytes.readUInt32LE(at);
    const codeLen = bytes.readUInt32LE(at + 4);
    const crc = bytes.readUInt32LE(at + 8);
    at += ENTRY_HEAD;
    if (at + keyLen + codeLen > bytes.length || codeLen === 0) return undefined;
    const key = bytes.toString('utf8', at, at + keyLen);
    const code = bytes.subarray(at + keyLen, at + keyLen + codeLen);
    if (zlib.crc32(code) !== crc) return undefined;
    // The key is the path and six numbers, each after a '|' (a path may hold one too).
    entries.set(key.split('|').slice(0, -6).join('|'), { key, code });
    at += keyLen + codeLen;
  }
  return at === bytes.length ? entries : undefined;
}

/** The `require` Node's loader gives a module (its makeRequireFunction, without policies). */
function requireFor(mod: LoaderModule): NodeJS.Require {
  const require = ((id: string) => mod.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: { paths?: string[] }) => Loader._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => Loader._resolveLookupPaths(request, mod);
  require.resolve = resolve;
  require.main = process.mainModule;
  require.extensions = Loader._extensions;
  require.cache = Loader._cache;
  return require;
}

const WORST: readonly PackageCacheUse[] = ['rejected', 'stale', 'miss', 'hit'];

export class PackageCodeCache {
  /** The file's entries, read at the first file compiled. */
  private entries: Map<string, { key: string; code: Buffer }> | undefined;
  private damaged = false;
  /** Every file this process compiled through the cache, for `save`. */
  private readonly compiled = new Map<string, { key: string; script: vm.Script; use: PackageCacheUse }>();
  private active = false;

  constructor(private readonly file: string) {}

  /** Whether this Node can run files this way at all. */
  static available(): boolean {
    return DEFAULT_LOADER !== undefined && typeof zlib.crc32 === 'function';
  }

  /** Runs `load` with Node's compile step for CommonJS files replaced by this cache's. */
  load<T>(load: () => T): { value: T; use: PackageCacheUse } {
    if (this.active) return { value: load(), use: 'off' };
    const proto = Loader.prototype;
    const original = proto._compile;
    const uses: PackageCacheUse[] = [];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const cache = this;
    const compile: Compile = function (content, filename, format) {
      return cache.compile(this, content, filename, format, original, uses);
    };
    proto._compile = compile;
    this.active = true;
    try {
      return { value: load(), use: uses.length === 0 ? 'off' : WORST.find((u) => uses.includes(u))! };
    } finally {
      this.active = false;
      // Another hook installed meanwhile stays.
      if (proto._compile === compile) proto._compile = original;
    }
  }

  private compile(mod: LoaderModule, content: string, filename: string, format: string | undefined, original: Compile, uses: PackageCacheUse[]): unknown {
    const key = format === 'module' || !path.isAbsolute(filename) ? undefined : sourceKey(filename, content);
    if (key === undefined) return original.call(mod, content, filename, format);
    const entry = this.read().get(filename);
    const cached = entry?.key === key ? entry.code : undefined;
    let use: PackageCacheUse = cached ? 'hit' : entry || this.damaged ? 'stale' : 'miss';
    let script: vm.Script;
    try {
      script = new vm.Script(Loader.wrap(content), { filename, importModuleDynamically: DEFAULT_LOADER, ...(cached ? { cachedData: cached } : {}) });
    } catch {
      // Not plain CommonJS after all: Node's own compile reports it or deals with it.
      return original.call(mod, content, filename, format);
    }
    if (cached && script.cachedDataRejected === true) use = 'rejected';
    uses.push(use);
    this.compiled.set(filename, { key, script, use });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...a: unknown[]) => unknown;
    return wrapper.call(mod.exports, mod.exports, requireFor(mod), mod, filename, path.dirname(filename));
  }

  private read(): Map<string, { key: string; code: Buffer }> {
    if (this.entries) return this.entries;
    let bytes: Buffer | undefined;
    try {
      bytes = fs.readFileSync(this.file);
    } catch {
      // no cache yet
    }
    this.entries = bytes ? decodeEntries(bytes) : undefined;
    this.damaged = bytes !== undefined && this.entries === undefined;
    this.entries ??= new Map();
    return this.entries;
  }

  /** Writes the cache when any file was compiled from source; call after the work, so the
   * functions compiled lazily are in it. Never throws. */
  save(): void {
    if ([...this.compiled.values()].every((c) => c.use === 'hit')) return;
    writeCacheFile(this.file, () => encodeEntries(new Map([...this.compiled].map(([f, c]) => [f, { key: c.key, code: c.script.createCachedData() }]))));
  }
}
