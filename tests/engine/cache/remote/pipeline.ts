// The two-step project the remote-cache tests share: a `run` step writing out/x.txt and
// out/y.txt, and a `command` step concatenating them; and the set-up each test file repeats
// around it: one real cache server for the file, temp checkouts removed after each test.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { TempProject } from '../../rig.js';
import { batchfile, cmd, GEN_STEP } from '../helpers.js';
import { startCacheServer, stopAllCacheServers, type CacheServer } from './servers.js';

export const PIPELINE = batchfile(`
  gen: { run: 'gen.ts', inputs: ['names.txt'], outputs: ['out/'], params: { text: '!' } },
  cat: { command: ${cmd('--in', 'out/x.txt', '--in', 'out/y.txt', '--out', 'final/cat.txt', '--mark', 'marks.txt')}, inputs: ['out/'], outputs: ['final/cat.txt'] },
`);

/** Checkouts of PIPELINE (plus `extra` files) in temp folders, removed after each test of the
 * calling file. */
export function pipelineCheckouts(): (extra?: Record<string, string>) => TempProject {
  const projects: TempProject[] = [];
  afterEach(() => {
    for (const p of projects.splice(0)) p.cleanup();
  });
  return (extra = {}) => {
    const p = TempProject.create({ 'names.txt': 'x\ny\n', 'gen.ts': GEN_STEP, 'Batchfile.ts': PIPELINE, ...extra });
    projects.push(p);
    return p;
  };
}

/** A real turborepo-remote-cache server for the calling file's tests, started before them
 * (with `token`) and stopped after them, with any other server they started. */
export function cacheServerForFile(token: string): () => CacheServer {
  let server: CacheServer | undefined;
  beforeAll(async () => {
    server = await startCacheServer({ token });
  });
  afterAll(stopAllCacheServers);
  return () => {
    if (!server) throw new Error('the cache server is started in beforeAll');
    return server;
  };
}
