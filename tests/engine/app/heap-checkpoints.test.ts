// The pre-run checks are one synchronous loop over every selected step (10,000 at the largest
// benchmark, seconds of work): a daemon's timer cannot fire in it, so it passes the engine's
// heap checkpoint once per step (util/heap-checkpoint.ts; the daemon's HeapWatch sets the
// check, docs/daemon.md "Memory"). The built modules are used (dist/), as a daemon runs them.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, TempProject } from '../rig.js';
import { batchfile, WritingExecutor } from '../helpers.js';
import { loadBatchfile, KINDS, ExecutorRegistry, runPipeline, openStore, StatCache } from '../dist-pipeline.js';

const { setHeapCheckpoint } = (await import(path.join(REPO, 'dist/util/heap-checkpoint.js'))) as typeof import('../../../src/util/heap-checkpoint.js');

const STEPS = 320;

let p: TempProject | undefined;
afterEach(() => {
  setHeapCheckpoint(undefined);
  p?.cleanup();
  p = undefined;
});

async function run(project: TempProject): Promise<void> {
  const cacheDir = project.path('.cache');
  const loaded = await loadBatchfile(project.dir, project.path('Batchfile.ts'), cacheDir, KINDS);
  const store = openStore(cacheDir);
  const ex = new WritingExecutor();
  try {
    const out = await runPipeline(loaded.config, store, ExecutorRegistry.of({ pool: ex, process: ex }), {
      root: project.dir, cacheDir, logsDir: project.path('logs'), targets: [], force: false, jobs: 2, keepGoing: false, flags: [],
      env: process.env, signal: new AbortController().signal, stats: new StatCache(project.dir, store), emit: () => {},
    });
    expect(out.record.status).toBe('PASS');
  } finally {
    await store.close();
  }
}

describe('heap checkpoints', () => {
  it('the pre-run checks pass one per step', async () => {
    const steps = Array.from({ length: STEPS }, (_, s) => `s${s}: { command: 'true', inputs: ['in/s${s}.txt'], outputs: ['out/s${s}.txt'] },`);
    p = TempProject.create({ 'Batchfile.ts': batchfile(steps.join('\n')) });
    fs.mkdirSync(p.path('out'));
    for (let s = 0; s < STEPS; s++) p.write(`in/s${s}.txt`, String(s));
    await run(p);
    // A no-op: the pre-run checks prove every step; the hook counts the looks they ask for.
    let inChecks = 0;
    setHeapCheckpoint(() => {
      if (new Error().stack?.includes('checkAll')) inChecks++;
    });
    await run(p);
    expect(inChecks).toBeGreaterThanOrEqual(Math.floor(STEPS / 64));
  });
});
