// The engine's side of the CLI loader's code cache for packages (cli/package-cache.ts): when
// bin/batch.js runs the CLI bundle from its code cache, it also offers one for the CommonJS
// files of the packages the engine requires on every run (lmdb, and msgpackr and the rest it
// loads), through a slot on globalThis: the loader is its own small bundle (load.cjs), and the
// engine cannot import it. Anywhere else (tsc's output, the workers, the daemon's tests, source
// maps on, BATCH_CODE_CACHE=0) the slot is empty and packages load as usual.

/** How a package's files were compiled: all from the cache ('hit'); or at least one from
 * source: no entry for it ('miss'), an entry of another version of the file or a damaged cache
 * ('stale'), V8 refused the entry ('rejected'); or no cache in use / nothing compiled ('off'). */
export type PackageCacheUse = 'hit' | 'miss' | 'stale' | 'rejected' | 'off';

export type PackageLoader = <T>(load: () => T) => { value: T; use: PackageCacheUse };

export const PACKAGE_CACHE_SLOT = Symbol.for('batchfile.packageCodeCache');

/** Runs `load` (a `require` of a package) through the loader's cache when there is one. */
export function requirePackage<T>(load: () => T): { value: T; use: PackageCacheUse } {
  const loader = (globalThis as Record<symbol, unknown>)[PACKAGE_CACHE_SLOT] as PackageLoader | undefined;
  return loader ? loader(load) : { value: load(), use: 'off' };
}
