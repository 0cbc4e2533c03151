// The engine's pipeline as the CLI runs it: the built modules (dist/), for tests that drive a
// run in-process with an executor of their own. Typed as their sources.
import path from 'node:path';
import { REPO } from './rig.js';

const dist = <T>(rel: string): Promise<T> => import(path.join(REPO, 'dist', rel)) as Promise<T>;

export const { loadBatchfile } = await dist<typeof import('../../src/batchfile/load.js')>('batchfile/load.js');
export const { KINDS } = await dist<typeof import('../../src/kinds/registry.js')>('kinds/registry.js');
export const { ExecutorRegistry } = await dist<typeof import('../../src/executors/registry.js')>('executors/registry.js');
export const { runPipeline } = await dist<typeof import('../../src/app/pipeline.js')>('app/pipeline.js');
export const { openStore } = await dist<typeof import('../../src/store/store.js')>('store/store.js');
export const { StatCache } = await dist<typeof import('../../src/fingerprint/stat-cache.js')>('fingerprint/stat-cache.js');
