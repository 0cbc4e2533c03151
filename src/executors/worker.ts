// Entry of the Piscina worker threads that run `run` steps. One task at a time per thread.
import fs from 'node:fs';
import { format } from 'node:util';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import type { JsonObject, StepContext } from '../batchfile/types.js';
import { cacheModuleMaps, mapStack } from '../util/source-map.js';
import { threadCpuMs } from './procfs.js';

export interface WorkerTask {
  module: string;
  ctx: Omit<StepContext, 'log' | 'signal'>;
  logFile: string;
  /** Receives 'abort' when the step times out or the run is interrupted. */
  port: MessagePort;
  /** The environment of this task's run, when it is not this thread's own (a run the daemon
   * serves for a client). */
  runEnv?: NodeJS.ProcessEnv;
  /** Variables set (null: unset) in this thread's process.env while the step runs. */
  env?: Record<string, string | null>;
}

export interface WorkerResult {
  cpuMs?: number;
  heapUsedBytes: number;
}

type Console4 = Pick<Console, 'log' | 'info' | 'warn' | 'error' | 'debug'>;

const SELF = fileURLToPath(import.meta.url);

/** A step's stack as the user reads it: frames mapped to their .ts files and lines, without
 * the frames of this worker and the pool that called the step. */
function userStack(stack: string, root: string): string {
  return mapStack(stack, root, cacheModuleMaps(root))
    .split('\n')
    .filter((l) => !(/^\s+at /.test(l) && (l.includes(SELF) || l.includes(`${path.sep}piscina${path.sep}`))))
    .join('\n');
}

/** This thread's environment as it started (a copy of batch's): every task ends with it put
 * back, so nothing a step set, or a served client's environment, reaches the next task. A
 * worker thread's process.env is its own copy, not the process's. */
const ownEnv: Record<string, string> = { ...process.env } as Record<string, string>;

/** Makes process.env exactly `env` (only what differs is written: writing TZ, even unchanged,
 * resets the process's time zone cache). */
function useEnv(env: NodeJS.ProcessEnv): void {
  for (const k of Object.keys(process.env)) if (env[k] === undefined) delete process.env[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined && process.env[k] !== v) process.env[k] = v;
}

/** A task that only says the thread has loaded this module (see PoolExecutor.close). */
export const READY = 'ready';

export default async function runStepTask(task: WorkerTask | typeof READY): Promise<WorkerResult> {
  if (task === READY) return { heapUsedBytes: 0 };
  const ac = new AbortController();
  task.port.on('message', (m: unknown) => {
    if (m === 'abort') ac.abort(new Error('step aborted (timeout or interrupt)'));
  });
  const fd = fs.openSync(task.logFile, 'a');
  const write = (text: string): void => {
    fs.writeSync(fd, text.endsWith('\n') ? text : `${text}\n`);
  };
  // The step's console goes to its log, not to the terminal batch is drawing on.
  const saved: Console4 = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
  for (const k of Object.keys(saved) as (keyof Console4)[]) console[k] = (...args: unknown[]) => write(format(...args));
  const cpu0 = threadCpuMs();
  if (task.runEnv) useEnv(task.runEnv);
  const restore = task.env ? setVars(task.env) : undefined;
  try {
    const mod = (await import(pathToFileURL(task.module).href)) as { default?: unknown };
    const fn = mod.default;
    if (typeof fn !== 'function') throw new Error(`the default export of ${task.ctx.step}'s module is not a function`);
    const ctx: StepContext<JsonObject> = { ...task.ctx, log: write, signal: ac.signal };
    await (fn as (c: StepContext<JsonObject>) => unknown)(ctx);
  } catch (e) {
    const err = e as Error;
    // Frames in the compiled module point back to the user's .ts files and lines.
    write(typeof err?.stack === 'string' ? userStack(err.stack, task.ctx.root) : String(e));
    throw e;
  } finally {
    if (restore) setVars(restore);
    useEnv(ownEnv);
    Object.assign(console, saved);
    fs.closeSync(fd);
    task.port.close();
  }
  const cpu1 = threadCpuMs();
  const result: WorkerResult = { heapUsedBytes: process.memoryUsage().heapUsed };
  if (cpu0 !== undefined && cpu1 !== undefined) result.cpuMs = cpu1 - cpu0;
  return result;
}

/** Sets `vars` in process.env (a thread's own copy); returns what undoes it. */
function setVars(vars: Record<string, string | null>): Record<string, string | null> {
  const before: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(vars)) {
    before[k] = process.env[k] ?? null;
    if (v === null) delete process.env[k];
    else process.env[k] = v;
  }
  return before;
}
