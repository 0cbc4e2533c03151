// Which files the pre-run check hashes ahead in helper threads: only those of steps whose
// verdict depends on them. A step that runs anyway (no recorded state, or --force) gets its
// key hashed by the main thread just before it runs, so a first build starts no helper
// threads to compete with the steps' processes; a later run whose inputs all changed still
// hashes them ahead. The built modules are used (dist/): the helpers run dist's hash-worker.js.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { REPO, TempProject } from '../rig.js';
import { batchfile, WritingExecutor } from '../helpers.js';
import { loadBatchfile, KINDS, ExecutorRegistry, runPipeline, openStore, StatCache } from '../dist-pipeline.js';

const pool = (await import(path.join(REPO, 'dist/fingerprint/hash-pool.js'))) as typeof import('../../../src/fingerprint/hash-pool.js');

/** Steps × inputs: 1,200 files, above the count that starts the helpers (1,000). */
const STEPS = 40;
const INPUTS = 30;

let p: TempProject | undefined;
afterEach(async () => {
  await pool.stopPool();
  p?.cleanup();
  p = undefined;
});
afterAll(async () => {
  await pool.stopPool();
});

function writeInputs(project: TempProject, stamp: string): void {
  for (let s = 0; s < STEPS; s++) for (let i = 0; i < INPUTS; i++) project.write(`in/s${s}/f${i}.txt`, `${stamp} ${s} ${i}`);
}

async function build(project: TempProject, force: boolean): Promise<{ ran: number; started: boolean }> {
  const cacheDir = project.path('.cache');
  const loaded = await loadBatchfile(project.dir, project.path('Batchfile.ts'), cacheDir, KINDS);
  const store = openStore(cacheDir);
  const ex = new WritingExecutor();
  try {
    const out = await runPipeline(loaded.config, store, ExecutorRegistry.of({ pool: ex, process: ex }), {
      root: project.dir, cacheDir, logsDir: project.path('logs'), targets: [], force, jobs: 2, keepGoing: false, flags: [],
      env: process.env, signal: new AbortController().signal, stats: new StatCache(project.dir, store), emit: () => {},
    });
    expect(out.record.status).toBe('PASS');
    return { ran: out.results.filter((r) => r.action === 'ran').length, started: pool.poolStarted() };
  } finally {
    await store.close();
  }
}

describe('hashing ahead', () => {
  it('a first build and a --force build start no helper threads; a run whose inputs all changed does', async () => {
    const steps: string[] = [];
    for (let s = 0; s < STEPS; s++) {
      const inputs = Array.from({ length: INPUTS }, (_, i) => `'in/s${s}/f${i}.txt'`).join(', ');
      steps.push(`s${s}: { command: 'true', inputs: [${inputs}], outputs: ['out/s${s}.txt'] },`);
    }
    p = TempProject.create({ 'Batchfile.ts': batchfile(steps.join('\n')) });
    fs.mkdirSync(p.path('out'));
    writeInputs(p, 'one');

    expect(await build(p, false)).toEqual({ ran: STEPS, started: false });
    expect(await build(p, true)).toEqual({ ran: STEPS, started: false });

    // Every step has a state now: whether it runs depends on its inputs' hashes.
    writeInputs(p, 'two');
    expect(await build(p, false)).toEqual({ ran: STEPS, started: true });
  });
});
