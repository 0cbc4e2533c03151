// A run checks a step in full (hashing its inputs for its key) only shortly before it can
// execute: at most `-j` checked steps wait for a slot (schedule/check-gate.ts). A first build
// of many independent steps used to hash every step's inputs in one stretch while only the
// first `-j` steps ran. The executor here finishes each step on a later turn of the event
// loop (its output written through the thread pool), as a real process's exit arrives. The
// built modules are used (dist/), as the CLI runs them.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';
import type { ExecOutcome, ExecRequest, Executor } from '../../../src/executors/types.js';
import type { StatCache as StatCacheType } from '../../../src/fingerprint/stat-cache.js';

const { loadBatchfile } = (await import(path.join(REPO, 'dist/batchfile/load.js'))) as typeof import('../../../src/batchfile/load.js');
const { KINDS } = (await import(path.join(REPO, 'dist/kinds/registry.js'))) as typeof import('../../../src/kinds/registry.js');
const { ExecutorRegistry } = (await import(path.join(REPO, 'dist/executors/registry.js'))) as typeof import('../../../src/executors/registry.js');
const { runPipeline } = (await import(path.join(REPO, 'dist/app/pipeline.js'))) as typeof import('../../../src/app/pipeline.js');
const { openStore } = (await import(path.join(REPO, 'dist/store/store.js'))) as typeof import('../../../src/store/store.js');
const { StatCache } = (await import(path.join(REPO, 'dist/fingerprint/stat-cache.js'))) as typeof import('../../../src/fingerprint/stat-cache.js');

const STEPS = 30;
const INPUTS = 5;
const JOBS = 2;

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

/** Notes how many steps' inputs the run had hashed when each step was sent to execute (a
 * file hashed in this run has a hash in the run's stat cache; the pre-run check only stats
 * them), then writes its outputs asynchronously (the step ends on a later turn of the event
 * loop). */
class CountingExecutor implements Executor {
  readonly checkedAtStart: number[] = [];
  constructor(private readonly stats: StatCacheType) {}
  async execute(req: ExecRequest): Promise<ExecOutcome> {
    let checked = 0;
    for (let s = 0; s < STEPS; s++) if (this.stats.peek(`in/s${s}/f0.txt`)) checked++;
    this.checkedAtStart.push(checked);
    for (const o of req.outputs) await fs.promises.writeFile(o, req.step.name);
    return { ok: true };
  }
  async close(): Promise<void> {}
}

async function build(project: TempProject): Promise<{ checkedAtStart: number[]; ran: number }> {
  const cacheDir = project.path('.cache');
  const loaded = await loadBatchfile(project.dir, project.path('Batchfile.ts'), cacheDir, KINDS);
  const store = openStore(cacheDir);
  const stats = new StatCache(project.dir, store);
  const ex = new CountingExecutor(stats);
  try {
    const out = await runPipeline(loaded.config, store, ExecutorRegistry.of({ pool: ex, process: ex }), {
      root: project.dir, cacheDir, logsDir: project.path('logs'), targets: [], force: false, jobs: JOBS, keepGoing: false, flags: [],
      env: process.env, signal: new AbortController().signal, stats, emit: () => {},
    });
    expect(out.record.status).toBe('PASS');
    return { checkedAtStart: ex.checkedAtStart, ran: out.results.filter((r) => r.action === 'ran').length };
  } finally {
    await store.close();
  }
}

describe('checks close to execution', () => {
  it('a first build hashes a step’s inputs shortly before it runs, not every step’s at once', async () => {
    const steps: string[] = [];
    const files: Record<string, string> = {};
    for (let s = 0; s < STEPS; s++) {
      const inputs = Array.from({ length: INPUTS }, (_, i) => `'in/s${s}/f${i}.txt'`).join(', ');
      steps.push(`s${s}: { command: 'true', inputs: [${inputs}], outputs: ['out/s${s}.txt'] },`);
      for (let i = 0; i < INPUTS; i++) files[`in/s${s}/f${i}.txt`] = `input ${s} ${i}`;
    }
    p = TempProject.create({ 'Batchfile.ts': batchfile(steps.join('\n')), ...files });
    fs.mkdirSync(p.path('out'));

    const { checkedAtStart, ran } = await build(p);
    expect(ran).toBe(STEPS);
    expect(checkedAtStart).toHaveLength(STEPS);
    // When the k-th step (from 0) starts, at most the steps started before it, itself and the
    // `-j` checked ones waiting to be sent have had their inputs hashed.
    checkedAtStart.forEach((steps, k) => expect(steps, `step #${k}`).toBeLessThanOrEqual(k + 1 + JOBS));
    // Every step's outputs were written, and the next run finds them all up to date.
    for (let s = 0; s < STEPS; s++) expect(fs.readFileSync(p.path(`out/s${s}.txt`), 'utf8')).toBe(`s${s}`);
    expect((await build(p)).ran).toBe(0);
  });
});
