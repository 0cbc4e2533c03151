import os from 'node:os';
import { createExecutors, runPipeline } from '../../run/pipeline.js';
import { Progress } from '../../report/progress.js';
import { formatSummary, summaryJson } from '../../report/summary.js';
import { acquireLock } from '../../store/lock.js';
import { openStore } from '../../store/store.js';
import type { Args } from '../args.js';
import type { Io } from '../io.js';
import { loadProject, resolveProject } from '../project.js';
import { runTestPhase } from '../../integrity/run-tests.js';
import type { RunEvent } from '../../execute/events.js';

/** `batch [STEP...]`: one incremental run. Returns the exit code. */
export async function runCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const project = resolveProject(args);
  const loaded = await loadProject(project);
  const lock = await acquireLock(project.cacheDir, { wait: args.wait, signal });
  const jobs = args.jobs ?? os.availableParallelism();
  const executors = createExecutors(jobs, args.workerMemoryMb);
  const store = openStore(project.cacheDir);
  const progress = new Progress(io.human, io.style, io.human.isTTY === true && !process.env.CI);
  try {
    const flags = [args.force ? '--force' : '', args.keepGoing ? '--keep-going' : '', args.tests ? '' : '--no-tests', args.jobs ? `-j${args.jobs}` : ''].filter(Boolean);
    const tests = loaded.config.tests;
    const { record, results } = await runPipeline(loaded.config, store, executors, {
      root: project.root,
      cacheDir: project.cacheDir,
      logsDir: project.logsDir,
      targets: args.positionals,
      force: args.force,
      jobs,
      keepGoing: args.keepGoing,
      flags,
      env: process.env,
      signal,
      emit: (ev: RunEvent) => progress.on(ev),
      ...(tests && args.tests && args.positionals.length === 0
        ? { tests: (ctx) => runTestPhase({ config: loaded.config, tests, store: ctx.store, stats: ctx.stats, force: args.force, runId: ctx.runId, signal, emit: (ev) => progress.on(ev) }) }
        : {}),
    });
    if (args.json) io.out.write(`${JSON.stringify(summaryJson(record, results), null, 2)}\n`);
    io.say('');
    io.say(formatSummary(record, results, io.style, { maxSteps: 50 }));
    return record.status === 'PASS' ? 0 : record.status === 'INTERRUPTED' ? 130 : 1;
  } finally {
    await executors.pool.close();
    await executors.proc.close();
    await store.close();
    lock.release();
  }
}
