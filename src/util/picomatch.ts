// picomatch, loaded on first use: the modules that match globs load on every run, and a
// pipeline of literal paths (or a no-op whose graph comes from the cache) never matches one.
// Loading it was ~4-8 ms of every start (a CommonJS package of five files, read through the
// ESM loader's CommonJS translator).
import { createRequire } from 'node:module';
import type Picomatch from 'picomatch';

let loaded: typeof Picomatch | undefined;

export function picomatch(): typeof Picomatch {
  loaded ??= createRequire(import.meta.url)('picomatch') as typeof Picomatch;
  return loaded;
}
