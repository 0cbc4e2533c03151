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
import { loadBatchfile, KINDS, ExecutorRegistry, runPipeline, openStore, StatCache } from '../dist-pipeline.js';
import type { ExecOutcome, ExecRequest, Executor } from '../../../src/executors/types.js';
import type { StatCache as StatCacheType } from '../../../src/fingerprint/stat-cache.js';
import type { CacheBackend } from '../../../src/cache/backend.js';


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

interface BuildOptions {
  jobs?: number;
  /** The executor (default: a CountingExecutor over the run's stat cache). */
  executor?: (stats: StatCacheType) => Executor & { checkedAtStart?: number[] };
  outputCache?: CacheBackend;
  signal?: AbortSignal;
}

async function build(project: TempProject, o: BuildOptions = {}): Promise<{ checkedAtStart: number[]; ran: number; status: string; results: { name: string; action: string; reason: string }[] }> {
  const cacheDir = project.path('.cache');
  const loaded = await loadBatchfile(project.dir, project.path('Batchfile.ts'), cacheDir, KINDS);
  const store = openStore(cacheDir);
  const stats = new StatCache(project.dir, store);
  const ex = o.executor ? o.executor(stats) : new CountingExecutor(stats);
  try {
    const out = await runPipeline(loaded.config, store, ExecutorRegistry.of({ pool: ex, process: ex }), {
      root: project.dir, cacheDir, logsDir: project.path('logs'), targets: [], force: false, jobs: o.jobs ?? JOBS, keepGoing: false, flags: [],
      env: process.env, signal: o.signal ?? new AbortController().signal, stats, emit: () => {},
      ...(o.outputCache ? { outputCache: o.outputCache } : {}),
    });
    return { checkedAtStart: ex.checkedAtStart ?? [], ran: out.results.filter((r) => r.action === 'ran').length, status: out.record.status, results: out.results };
  } finally {
    await store.close();
  }
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
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

    const { checkedAtStart, ran, status } = await build(p);
    expect(status).toBe('PASS');
    expect(ran).toBe(STEPS);
    expect(checkedAtStart).toHaveLength(STEPS);
    // When the k-th step (from 0) starts, at most the steps started before it, itself and the
    // `-j` checked ones waiting to be sent have had their inputs hashed.
    checkedAtStart.forEach((steps, k) => expect(steps, `step #${k}`).toBeLessThanOrEqual(k + 1 + JOBS));
    // Every step's outputs were written, and the next run finds them all up to date.
    for (let s = 0; s < STEPS; s++) expect(fs.readFileSync(p.path(`out/s${s}.txt`), 'utf8')).toBe(`s${s}`);
    expect((await build(p)).ran).toBe(0);
  });

  // A restore takes no slot; from a remote cache it may be a slow download. Held at the gate
  // while it restored, it kept the next step from being checked and sent, and with as many
  // restores as -j the slots sat idle behind them.
  it('a step restoring from the output cache does not hold the gate: the next step is checked and runs meanwhile', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
        r: { command: 'true', inputs: ['in/r.txt'], outputs: ['out/r.txt'] },
        s: { command: 'true', inputs: ['in/s.txt'], outputs: ['out/s.txt'] },
      `),
      'in/r.txt': 'r',
      'in/s.txt': 's',
    });
    fs.mkdirSync(p.path('out'));
    const restoring = deferred();
    const sRan = deferred();
    const slow = {
      name: 'slow-test-cache',
      lookup: async (step: { name: string }) => (step.name === 'r' ? { fromRun: 'earlier' } : undefined),
      // The restore ends only once s has run: with r holding the gate (-j1), s could not be
      // checked until it ended, and the run would never finish.
      restore: async (step: { name: string }) => {
        restoring.resolve();
        await sRan.promise;
        fs.writeFileSync(p!.path(`out/${step.name}.txt`), step.name);
        return { outputs: { [`out/${step.name}.txt`]: 'restored' }, bytes: 1, fromRun: 'earlier' };
      },
      save: async () => undefined,
      status: async () => { throw new Error('not used'); },
      prune: async () => { throw new Error('not used'); },
    } as unknown as CacheBackend;
    class Exec implements Executor {
      async execute(req: ExecRequest): Promise<ExecOutcome> {
        await restoring.promise;
        for (const o of req.outputs) await fs.promises.writeFile(o, req.step.name);
        sRan.resolve();
        return { ok: true };
      }
      async close(): Promise<void> {}
    }
    const out = await Promise.race([
      build(p, { jobs: 1, executor: () => new Exec(), outputCache: slow }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the run never finished: the restore held the gate')), 20_000)),
    ]);
    expect(out.status).toBe('PASS');
    expect(out.results.map((r) => `${r.name} ${r.action}`).sort()).toEqual(['r restored', 's ran']);
  });

  // Steps queued at the gate when the run is interrupted are not checked: an interrupt waited
  // for every one of them to hash its inputs.
  it('an interrupt while steps wait at the gate: they are not started, and their inputs are not hashed', async () => {
    const steps: string[] = [];
    const files: Record<string, string> = {};
    for (let s = 0; s < 10; s++) {
      steps.push(`s${s}: { command: 'true', inputs: ['in/s${s}.txt'], outputs: ['out/s${s}.txt'] },`);
      files[`in/s${s}.txt`] = `input ${s}`;
    }
    p = TempProject.create({ 'Batchfile.ts': batchfile(steps.join('\n')), ...files });
    fs.mkdirSync(p.path('out'));
    const ac = new AbortController();
    let statsOfRun: StatCacheType | undefined;
    class Interrupting implements Executor {
      async execute(req: ExecRequest): Promise<ExecOutcome> {
        // The first step to execute is interrupted (Ctrl-C) as it runs.
        ac.abort();
        return { ok: false, error: 'interrupted' };
      }
      async close(): Promise<void> {}
    }
    const out = await build(p, { jobs: 1, signal: ac.signal, executor: (stats) => ((statsOfRun = stats), new Interrupting()) });
    expect(out.status).toBe('INTERRUPTED');
    const notStarted = out.results.filter((r) => r.action === 'not-run');
    expect(notStarted.length).toBeGreaterThanOrEqual(8);
    for (const r of notStarted) expect(r.reason).toBe('not started: run interrupted');
    // Only the interrupted step and the one checked and waiting beside it were hashed.
    const hashed = Array.from({ length: 10 }, (_, s) => `in/s${s}.txt`).filter((f) => statsOfRun!.peek(f));
    expect(hashed.length).toBeLessThanOrEqual(2);
  });
});
