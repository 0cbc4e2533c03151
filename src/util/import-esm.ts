// The engine's one way to import an ES module at run time (a package loaded lazily, the
// compiled Batchfile): `import()` here, and nowhere else in the CLI's code. The CLI ships as
// one CommonJS bundle run from a V8 code cache (scripts/bundle.mjs, cli/cached-load.ts); code
// compiled that way cannot use `import()` itself without an experimental Node flag, so the
// bundle build replaces this module with a call to the loader's own `import()`, and fails
// on any other dynamic import it finds.
/** Imports `specifier` (a package name, resolved from the engine's folder, or a file URL). */
export function importEsm<T>(specifier: string): Promise<T> {
  return import(specifier) as Promise<T>;
}
