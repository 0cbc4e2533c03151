// When steps are sent: ready steps are sent to execute before the steps queued behind them are
// checked, and a step that passed hands its slot on before its own bookkeeping; a command-only
// Batchfile never starts the worker pool.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../../src/batchfile/config.js';
import type { ExecOutcome, ExecRequest, Executor } from '../../../src/executors/types.js';
import type { RunEvent } from '../../../src/schedule/events.js';
import { REPO, TempProject } from '../rig.js';
import { batchfile, cmd } from '../helpers.js';
import { loadBatchfile, KINDS, ExecutorRegistry, runPipeline, openStore, StatCache } from '../dist-pipeline.js';

// From dist/: the pool starts its threads from dist/executors/worker.js, beside the executor.
const { Session } = (await import(path.join(REPO, 'dist/app/session.js'))) as typeof import('../../../src/app/session.js');
const { resolveProject } = (await import(path.join(REPO, 'dist/app/project.js'))) as typeof import('../../../src/app/project.js');
type PoolExecutor = import('../../../src/executors/pool-executor.js').PoolExecutor;

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

function session(dir: string): ReturnType<typeof Session.open> {
  const settings = { targets: [], force: false, keepGoing: false, tests: true, cache: true, wait: false, jobs: 2 };
  return Session.open(resolveProject({ cwd: dir }), settings, new AbortController().signal);
}

describe('worker pool', () => {
  it('a command-only Batchfile never starts the pool (first build, and once compiled)', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`a: { command: ${cmd('--out', 'a.txt')}, outputs: ['a.txt'] },`),
    });
    for (let i = 0; i < 2; i++) {
      const s = await session(p.dir);
      try {
        const loaded = await s.load();
        const out = await s.runOnce(loaded, { targets: [], force: false }, () => {}, new AbortController().signal);
        expect(out.record.status).toBe('PASS');
        const pool = s.executors.get('pool') as PoolExecutor;
        expect(pool.started).toBe(false);
        expect(pool.created).toBe(0);
      } finally {
        await s.close();
      }
    }
  });
});

describe('worker pool start', () => {
  it('starts once the run steps are checked, before the first is sent: first build, and --force with the modules compiled', async () => {
    p = TempProject.create({
      'steps/w.mjs': `import fs from 'node:fs';\nexport default async (ctx) => fs.writeFileSync(ctx.outputs[0], ctx.step);\n`,
      'Batchfile.ts': batchfile(['a', 'b', 'c'].map((n) => `${n}: { run: 'steps/w.mjs', outputs: ['${n}.txt'] },`).join('\n')),
    });
    const seen: { started: boolean; created: number }[] = [];
    for (const force of [false, true]) {
      const s = await session(p.dir);
      try {
        const pool = s.executors.get('pool') as PoolExecutor;
        const execute = pool.execute.bind(pool);
        const atExecute: boolean[] = [];
        pool.execute = (req) => {
          atExecute.push(pool.started);
          return execute(req);
        };
        const out = await s.runOnce(await s.load(), { targets: [], force }, () => {}, new AbortController().signal);
        expect(out.record.status).toBe('PASS');
        // Every step found the pool started when it was sent.
        expect(atExecute.every(Boolean)).toBe(true);
        seen.push({ started: pool.started, created: pool.created });
      } finally {
        await s.close();
      }
    }
    // One pool each (steps that start together share it).
    expect(seen).toEqual([{ started: true, created: 1 }, { started: true, created: 1 }]);
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
    const loaded = await loadBatchfile(p.dir, p.path('Batchfile.ts'), cacheDir, KINDS);
    const config: PipelineConfig = loaded.config;
    const store = openStore(cacheDir);
    const stats = new StatCache(p.dir, store);
    const hashed: number[] = [];
    const ex = new RecordingExecutor(stats, hashed);
    const events: string[] = ex.log;
    try {
      const out = await runPipeline(config, store, ExecutorRegistry.of({ pool: ex, process: ex }), {
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
