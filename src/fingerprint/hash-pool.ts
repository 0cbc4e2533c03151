import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { BatchView } from './hash-slots.js';

/**
 * Helper threads that hash files ahead of the main thread (a big first hash pass: every
 * input touched, a checkout, the first run after a build). Each helper loops synchronously
 * over the batches it is sent; the main thread reads their results from shared memory, and
 * hashes itself whatever no helper has started when it needs it (hash-slots.ts). Started on
 * the first pass big enough to pay for them, then kept (a daemon keeps them warm); they never
 * keep the process alive.
 */

const WORKER = fileURLToPath(new URL('./hash-worker.js', import.meta.url));

/** Helpers: BATCH_HASH_THREADS, else one per core but one (the main thread keeps planning,
 * and takes files itself when it catches up), at least one, at most 4. 0 turns them off. */
export function helperCount(v = process.env.BATCH_HASH_THREADS): number {
  const n = v === undefined || v === '' ? NaN : Number(v);
  if (Number.isInteger(n) && n >= 0) return Math.min(n, 16);
  return Math.max(1, Math.min(4, os.availableParallelism() - 1));
}

/** undefined: not started yet; empty: none to use. */
let workers: Worker[] | undefined;
let next = 0;

/** Whether helpers are running (or starting): then even a small batch is worth sending. */
export function poolStarted(): boolean {
  return workers !== undefined && workers.length > 0;
}

/** Starts the helpers if they are not running; false when there are none to use (turned off,
 * the worker file missing — tests run the TypeScript sources —, or a helper failed). */
export function startPool(): boolean {
  if (workers) return poolStarted();
  workers = [];
  const n = helperCount();
  if (n === 0 || !fs.existsSync(WORKER)) return false;
  const list = workers;
  // node:worker_threads loads only when helpers start (a no-op starts none).
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  for (let i = 0; i < n; i++) {
    const w = new Worker(WORKER, { stdout: false, stderr: false });
    w.unref();
    // A helper that fails or exits only stops taking files: the main thread hashes what is
    // left of its batches (takeHashed), and later batches go to the others.
    const drop = (): void => {
      const at = list.indexOf(w);
      if (at >= 0) list.splice(at, 1);
    };
    w.on('error', drop);
    w.on('exit', drop);
    list.push(w);
  }
  return true;
}

/** Posts a batch to the next helper in turn. */
export function sendBatch(view: BatchView): void {
  if (!workers || workers.length === 0) return;
  const w = workers[next++ % workers.length]!;
  w.postMessage(view.batch);
}

/** Stops the helpers (tests; a daemon that stops exits anyway). */
export async function stopPool(): Promise<void> {
  const ws = workers ?? [];
  workers = undefined;
  await Promise.all(ws.map((w) => w.terminate()));
}
