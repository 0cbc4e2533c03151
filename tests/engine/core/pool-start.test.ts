// When the worker pool starts and when steps are sent: on a first build, a Batchfile that
// names a `run` step starts its threads before it is compiled (a command-only one never does);
// a load that fails after that leaves no thread behind; ready steps are sent to execute before
// the steps queued behind them are checked, and a step that passed hands its slot on before
// its own bookkeeping.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../../src/batchfile/config.js';
import type { ExecOutcome, ExecRequest, Executor } from '../../../src/execute/types.js';
import type { RunEvent } from '../../../src/execute/events.js';
import { REPO, TempProject } from '../rig.js';
import { batchfile, cmd } from './util.js';

// From dist/: the pool starts its threads from dist/execute/worker.js, beside the executor.
const { Session } = (await import(path.join(REPO, 'dist/run/session.js'))) as typeof import('../../../src/run/session.js');
const { parseArgs } = (await import(path.join(REPO, 'dist/cli/args.js'))) as typeof import('../../../src/cli/args.js');
const { namesRunStep, loadBatchfile } = (await import(path.join(REPO, 'dist/batchfile/load.js'))) as typeof import('../../../src/batchfile/load.js');
const { runPipeline } = (await import(path.join(REPO, 'dist/run/pipeline.js'))) as typeof import('../../../src/run/pipeline.js');
const { openStore } = (await import(path.join(REPO, 'dist/store/store.js'))) as typeof import('../../../src/store/store.js');
const { StatCache } = (await import(path.join(REPO, 'dist/fingerprint/stat-cache.js'))) as typeof import('../../../src/fingerprint/stat-cache.js');
type PoolExecutor = import('../../../src/execute/pool-executor.js').PoolExecutor;

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

const STEP_MODULE = `import fs from 'node:fs';\nexport default async (ctx) => fs.writeFileSync(ctx.outputs[0], ctx.step);\n`;

function session(dir: string): ReturnType<typeof Session.open> {
  return Session.open(parseArgs(['-C', dir, '-j', '2', '--no-daemon']), new AbortController().signal);
}

/** MessagePorts alive in this process: each pool thread holds one until it is destroyed. */
function ports(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
}

describe('namesRunStep', () => {
  it('finds `run:` and the `{ run }` shorthand, not the word run in a command', () => {
    expect(namesRunStep(`a: { run: 'steps/a.ts', outputs: [] }`)).toBe(true);
    expect(namesRunStep(`const run = 'a.ts';\nsteps: { a: { run, outputs: [] } }`)).toBe(true);
    expect(namesRunStep(`a: { run }`)).toBe(true);
    expect(namesRunStep(`a: { command: 'npm run build', outputs: ['dist'] }`)).toBe(false);
    expect(namesRunStep(`a: { command: 'make', outputs: ['runner.txt'], rerun: 1 }`)).toBe(false);
  });
});

describe('early worker pool', () => {
  it('a first build of a Batchfile with run steps starts the pool while loading it; the run is the same', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`a: { run: 'steps/a.mjs', outputs: ['a.txt'] },\nb: { run: 'steps/a.mjs', outputs: ['b.txt'] },`),
      'steps/a.mjs': STEP_MODULE,
    });
    const s = await session(p.dir);
    try {
      const pool = s.executors.pool as PoolExecutor;
      expect(pool.started).toBe(false);
      const loaded = await s.load();
      expect(pool.started).toBe(true);
      const out = await s.runOnce(loaded, { targets: [], force: false }, () => {}, new AbortController().signal);
      expect(out.record.status).toBe('PASS');
      expect(p.read('a.txt')).toBe('a');
      expect(p.read('b.txt')).toBe('b');
      expect(pool.created).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('after an edit of a compiled Batchfile, loading it does not start the pool (its run steps are likely up to date)', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`a: { run: 'steps/a.mjs', outputs: ['a.txt'] },`),
      'steps/a.mjs': STEP_MODULE,
    });
    const first = await session(p.dir);
    try {
      const out = await first.runOnce(await first.load(), { targets: [], force: false }, () => {}, new AbortController().signal);
      expect(out.record.status).toBe('PASS');
    } finally {
      await first.close();
    }
    p.write('Batchfile.ts', batchfile(`a: { run: 'steps/a.mjs', outputs: ['a.txt'] },\nb: { command: ${cmd('--out', 'b.txt')}, outputs: ['b.txt'] },`));
    const s = await session(p.dir);
    try {
      const loaded = await s.load();
      expect(loaded.config.steps.has('b')).toBe(true);
      expect((s.executors.pool as PoolExecutor).started).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('a command-only Batchfile never starts the pool (first build, and once compiled)', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`a: { command: ${cmd('--out', 'a.txt')}, outputs: ['a.txt'] },\nb: { command: 'echo npm run build > b.txt', outputs: ['b.txt'] },`),
    });
    for (let i = 0; i < 2; i++) {
      const s = await session(p.dir);
      try {
        const loaded = await s.load();
        const out = await s.runOnce(loaded, { targets: ['a'], force: false }, () => {}, new AbortController().signal);
        expect(out.record.status).toBe('PASS');
        const pool = s.executors.pool as PoolExecutor;
        expect(pool.started).toBe(false);
        expect(pool.created).toBe(0);
      } finally {
        await s.close();
      }
    }
  });

  it('a Batchfile that names run steps but throws when evaluated: the started pool is destroyed on close', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`a: { run: 'steps/a.mjs', outputs: ['a.txt'] },`, `throw new Error('broken on purpose');`),
      'steps/a.mjs': STEP_MODULE,
    });
    const before = ports();
    const s = await session(p.dir);
    const pool = s.executors.pool as PoolExecutor;
    await expect(s.load()).rejects.toThrow(/broken on purpose/);
    expect(pool.started).toBe(true);
    await s.close();
    expect(ports()).toBe(before);
  });

  it('the CLI exits with the evaluation error, not held open by the pool it started', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`a: { run: 'steps/a.mjs', outputs: ['a.txt'] },`, `throw new Error('broken on purpose');`),
      'steps/a.mjs': STEP_MODULE,
    });
    const r = await p.batch(['--no-daemon', '-j', '2'], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('broken on purpose');
  });
});

/** An executor that records the order of calls and writes each step's output itself. */
class RecordingExecutor implements Executor {
  readonly log: string[] = [];
  constructor(
    private readonly stats: InstanceType<typeof StatCache>,
    private readonly hashedAtFirst: number[],
  ) {}
  async execute(req: ExecRequest): Promise<ExecOutcome> {
    if (this.hashedAtFirst.length === 0) this.hashedAtFirst.push(this.stats.filesHashed);
    this.log.push(`execute ${req.step.name}`);
    const fs = await import('node:fs');
    for (const o of req.outputs) fs.writeFileSync(o, req.step.name);
    return { ok: true };
  }
  async close(): Promise<void> {}
}

describe('dispatch order', () => {
  async function pipeline(jobs: number): Promise<{ log: string[]; hashedAtFirst: number }> {
    const steps = ['s1', 's2', 's3', 's4', 's5'];
    const files: Record<string, string> = {
      'Batchfile.ts': batchfile(steps.map((s) => `${s}: { command: 'true', inputs: ['in/${s}-1.txt', 'in/${s}-2.txt'], outputs: ['${s}.txt'] },`).join('\n')),
    };
    for (const s of steps) for (const i of [1, 2]) files[`in/${s}-${i}.txt`] = `${s} ${i}`;
    p?.cleanup();
    p = TempProject.create(files);
    const cacheDir = p.path('.cache');
    const loaded = await loadBatchfile(p.dir, p.path('Batchfile.ts'), cacheDir);
    const config: PipelineConfig = loaded.config;
    const store = openStore(cacheDir);
    const stats = new StatCache(p.dir, store);
    const hashed: number[] = [];
    const ex = new RecordingExecutor(stats, hashed);
    const events: string[] = ex.log;
    try {
      const out = await runPipeline(config, store, { pool: ex, proc: ex }, {
        root: p.dir, cacheDir, logsDir: p.path('logs'), targets: [], force: false, jobs, keepGoing: false, flags: [],
        env: process.env, signal: new AbortController().signal, stats,
        emit: (e: RunEvent) => {
          if (e.type === 'step-end') events.push(`end ${e.result.name}`);
        },
      });
      expect(out.record.status).toBe('PASS');
    } finally {
      await store.close();
    }
    return { log: events, hashedAtFirst: hashed[0]! };
  }

  it('the first steps are sent before the inputs of the steps queued behind them are hashed', async () => {
    // Each step has two inputs: at the first execute, only the first `jobs` steps were checked.
    expect((await pipeline(1)).hashedAtFirst).toBe(2);
    expect((await pipeline(2)).hashedAtFirst).toBe(4);
  });

  it('a step that passed hands its slot on before its own bookkeeping: the next step is sent before it ends', async () => {
    const { log } = await pipeline(1);
    expect(log[0]).toBe('execute s1');
    expect(log.indexOf('execute s2')).toBeLessThan(log.indexOf('end s1'));
  });
});
