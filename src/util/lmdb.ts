// lmdb, loaded through require(). Its CommonJS build is one bundled file, where its ESM entry
// is a graph of modules, and Node loads it ~30 ms faster that way at every start (measured:
// docs/performance.md). Under the CLI bundle its files (and msgpackr's, ~230 KB) compile from
// the loader's code cache (util/package-code-cache.ts). Import lmdb's types from 'lmdb' as
// usual, and its values from here: one process must load only one copy of lmdb (two copies
// would open the same environment twice, which LMDB forbids), so nothing else may import
// lmdb's values directly.
import { createRequire } from 'node:module';
import type * as Lmdb from 'lmdb';
import { requirePackage } from './package-code-cache.js';
import { mark } from './timing.js';

const loaded = requirePackage(() => createRequire(import.meta.url)('lmdb') as typeof Lmdb);
mark(`lmdb loaded (code cache ${loaded.use})`);

export const lmdb = loaded.value;
