// lmdb, loaded through require(). Its CommonJS build is one bundled file, where its ESM entry
// is a graph of modules, and Node loads it ~30 ms faster that way at every start (measured:
// docs/performance.md). Import lmdb's types from 'lmdb' as usual, and its values from here:
// one process must load only one copy of lmdb (two copies would open the same environment
// twice, which LMDB forbids), so nothing else may import lmdb's values directly.
import { createRequire } from 'node:module';
import type * as Lmdb from 'lmdb';

export const lmdb = createRequire(import.meta.url)('lmdb') as typeof Lmdb;
