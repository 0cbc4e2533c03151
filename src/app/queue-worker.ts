// `batch worker`: takes step jobs from a project's queue and runs them with its own worker
// pool (run steps) and process executor (command steps), in the shared project folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ExecutorRegistry } from '../executors/registry.js';
import type { ExecOutcome } from '../executors/types.js';
import { kindOf } from '../kinds/registry.js';
import { engineVersion } from '../util/engine.js';
import { isStallSettings, keys, nodeMajor, PREFIX, versionMismatch, type StallSettings, type StepJob, type StepJobResult } from '../executors/queue/protocol.js';
import { connectionOptions, loadQueueLibs, redact, type QueueLibs } from '../executors/queue/redis.js';
import { runShippedJob, type ShippedWork } from './shipped-job.js';

export interface WorkerOptions {
  url: string;
  queue: string;
  /** Steps at once (the BullMQ worker's concurrency, and the pool's threads). */
  jobs: number;
  say: (line: string) => void;
  /** Aborted: stop taking jobs, let running ones finish, then return. */
  signal: AbortSignal;
  /** Aborted: stop running steps too (a second Ctrl-C). */
  hardSignal: AbortSignal;
  /** File mode `cache`: the cache server and work folder (absent: only shared-disk jobs). */
  shipped?: ShippedWork;
}

/** Serves the queue until `signal` is aborted. */
export async function serveQueue(opts: WorkerOptions): Promise<void> {
  const libs = await loadQueueLibs();
  const me = `${os.hostname()}:${process.pid}`;
  // A step can tell which worker runs it (and the fault tests can kill it).
  process.env.BATCH_WORKER = me;
  process.env.BATCH_WORKER_PID = String(process.pid);
  const { url: _u, ...rest } = connectionOptions(opts.url);
  const cmd = new libs.ioredis.Redis(opts.url, rest);
  const sub = new libs.ioredis.Redis(opts.url, rest);
  let lastErr = '';
  const onErr = (e: Error): void => {
    if (e.message !== lastErr) opts.say(`worker ${me}: Redis at ${redact(opts.url)}: ${e.message} (retrying)`);
    lastErr = e.message;
  };
  cmd.on('error', onErr);
  sub.on('error', onErr);
  cmd.on('ready', () => (lastErr = ''));
  const k = keys(opts.queue);
  const consumer = new Consumer(libs.bullmq, opts, me, cmd);
  sub.on('message', (channel: string, message: string) => {
    if (channel === k.settings) consumer.apply(message);
    else if (channel === k.cancel) consumer.cancel(message);
  });
  await sub.subscribe(k.settings, k.cancel);
  const current = await cmd.get(k.settings);
  if (current === null) opts.say(`worker ${me}: waiting for a coordinator to publish the settings of queue "${opts.queue}" at ${redact(opts.url)}`);
  consumer.apply(current);

  await new Promise<void>((resolve) => (opts.signal.aborted ? resolve() : opts.signal.addEventListener('abort', () => resolve(), { once: true })));
  opts.say(`worker ${me}: stopping (running steps finish first; Ctrl-C again stops them)`);
  await consumer.close();
  sub.disconnect();
  cmd.disconnect();
}

/** The BullMQ worker over this process's executors, (re)started with the stall settings the
 * queue's coordinator published. */
class Consumer {
  private worker: Worker | undefined;
  private settings: StallSettings | undefined;
  private switching = Promise.resolve();
  private active = 0;
  private readonly executors: ExecutorRegistry;
  private readonly conn: ReturnType<typeof connectionOptions>;

  constructor(
    private readonly bullmq: QueueLibs['bullmq'],
    private readonly opts: WorkerOptions,
    private readonly me: string,
    private readonly cmd: Redis,
  ) {
    this.executors = ExecutorRegistry.create(opts.jobs);
    this.conn = connectionOptions(opts.url);
  }

  private readonly processor = async (job: Job, _token?: string, signal?: AbortSignal): Promise<StepJobResult> => {
    this.active++;
    try {
      const env = { me: this.me, cmd: this.cmd, cancelledKey: keys(this.opts.queue).cancelled, jobId: job.id ?? '', executors: this.executors, say: this.opts.say, ...(this.opts.shipped ? { shipped: this.opts.shipped } : {}) };
      return await runJob(job.data as StepJob, { ...env, signal: signal ?? new AbortController().signal });
    } finally {
      this.active--;
    }
  };

  /** Takes published settings (JSON); a change restarts the BullMQ worker. */
  apply(raw: string | null): void {
    let s: unknown;
    try {
      s = raw === null ? undefined : JSON.parse(raw);
    } catch {
      s = undefined;
    }
    if (!isStallSettings(s)) return;
    if (this.settings && JSON.stringify(this.settings) === JSON.stringify(s)) return;
    const next = s;
    this.switching = this.switching.then(async () => {
      if (this.opts.signal.aborted) return;
      // A running step finishes under the settings it started with.
      await this.worker?.close();
      this.settings = next;
      this.worker = this.start(next);
      this.opts.say(`worker ${this.me}: serving queue "${this.opts.queue}" at ${redact(this.opts.url)}, ${this.opts.jobs} at once (lock ${next.lockDurationMs} ms, stall check every ${next.stalledIntervalMs} ms)`);
    });
  }

  private start(s: StallSettings): Worker {
    const worker = new this.bullmq.Worker(this.opts.queue, this.processor, {
      connection: this.conn,
      prefix: PREFIX,
      concurrency: this.opts.jobs,
      lockDuration: s.lockDurationMs,
      stalledInterval: s.stalledIntervalMs,
      maxStalledCount: s.maxStalledCount,
      name: this.me,
    });
    worker.on('error', () => {}); // connection errors are reported once, by serveQueue
    // Another worker may take a job whose lock this one lost: stop the step here, so two
    // workers never write its outputs at once.
    worker.on('lockRenewalFailed', (ids: string[]) => {
      for (const id of ids) worker.cancelJob(id, 'this worker lost its lock on the job');
    });
    return worker;
  }

  /** The coordinator asked to stop a job (Ctrl-C, timeout). */
  cancel(jobId: string): void {
    this.worker?.cancelJob(jobId, 'interrupted');
  }

  async close(): Promise<void> {
    const hard = this.opts.hardSignal;
    const onHard = (): void => this.worker?.cancelAllJobs('the worker was stopped');
    hard.addEventListener('abort', onHard, { once: true });
    await this.switching;
    await closeWorker(this.worker, hard, () => this.active === 0);
    hard.removeEventListener('abort', onHard);
    await this.executors.closeAll();
  }
}

/** Closes the BullMQ worker once its running steps end. With Redis gone a polite close
 * waits for ever: once no step has run for 2 s, or on a second signal, it is forced. */
async function closeWorker(worker: Worker | undefined, hard: AbortSignal, idle: () => boolean): Promise<void> {
  if (!worker) return;
  const polite = worker.close();
  const forced = await new Promise<boolean>((resolve) => {
    let idleSince: number | undefined;
    const finish = (force: boolean): void => {
      clearInterval(tick);
      hard.removeEventListener('abort', onHard);
      resolve(force);
    };
    const tick = setInterval(() => {
      if (!idle()) idleSince = undefined;
      else if (Date.now() - (idleSince ??= Date.now()) > 2000) finish(true);
    }, 250);
    const onHard = (): void => finish(true);
    if (hard.aborted) onHard();
    else hard.addEventListener('abort', onHard, { once: true });
    polite.then(() => finish(false), () => finish(true));
  });
  if (!forced) return;
  await Promise.race([worker.close(true).catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
  await worker.disconnect().catch(() => {});
}

interface JobEnv {
  me: string;
  cmd: Redis;
  cancelledKey: string;
  jobId: string;
  executors: ExecutorRegistry;
  signal: AbortSignal;
  say: (line: string) => void;
  shipped?: ShippedWork;
}

/** One attempt of one step. Never throws for the step's own failure: the result says it. */
async function runJob(job: StepJob, env: JobEnv): Promise<StepJobResult> {
  const t0 = performance.now();
  const answer = (o: ExecOutcome): StepJobResult => {
    const r: StepJobResult = { ok: o.ok, worker: env.me, runMs: Math.round(performance.now() - t0) };
    if (o.error !== undefined) r.error = o.error;
    if (o.cpuMs !== undefined) r.cpuMs = o.cpuMs;
    if (o.peakRssBytes !== undefined) r.peakRssBytes = o.peakRssBytes;
    return r;
  };
  const refused = versionMismatch(job, engineVersion(), nodeMajor(), env.me);
  if (refused) {
    env.say(refused);
    return answer({ ok: false, error: refused });
  }
  // A job the coordinator cancelled (Ctrl-C), put back in the queue after its worker died.
  if ((await env.cmd.sismember(env.cancelledKey, env.jobId)) === 1) return answer({ ok: false, error: 'cancelled by the coordinator' });
  if (job.files === 'cache') return runInWorkdir(job, env, answer);
  if (job.files !== 'shared' || !fs.existsSync(job.root)) {
    return answer({ ok: false, error: `worker ${env.me} cannot see the project folder ${job.root} (file mode "${job.files}" needs a shared file system)` });
  }
  // Steps of the pool run in this process's threads, which share its working folder: the project.
  const which = kindOf(job.step).executor;
  if (which === 'pool' && process.cwd() !== job.root) process.chdir(job.root);
  const executor = env.executors.get(which);
  if (job.logHeader && !executor.acceptsHeader) {
    fs.mkdirSync(path.dirname(job.logFile), { recursive: true });
    fs.appendFileSync(job.logFile, job.logHeader);
  }
  env.say(`worker ${env.me}: start ${job.step.name} (run ${job.runId})`);
  const out = await executor.execute({
    step: job.step,
    // The worker's own environment, with the coordinator's values of the step's `env` over it.
    runEnv: process.env,
    runId: job.runId,
    root: job.root,
    inputs: job.inputs,
    outputs: job.outputs,
    logFile: job.logFile,
    signal: env.signal,
    ...(job.env && Object.keys(job.env).length > 0 ? { env: job.env } : {}),
    ...(job.compiled ? { compiled: job.compiled } : {}),
    ...(job.command ? { command: job.command } : {}),
    ...(job.logHeader && executor.acceptsHeader ? { logHeader: job.logHeader } : {}),
  });
  const r = answer(out);
  env.say(`worker ${env.me}: end ${job.step.name}: ${out.ok ? 'ok' : `failed: ${out.error ?? ''}`} (${r.runMs} ms)`);
  return r;
}

/** A job of file mode `cache`: run in a job folder of this worker's own (shipped-job.ts). */
async function runInWorkdir(job: StepJob, env: JobEnv, answer: (o: ExecOutcome) => StepJobResult): Promise<StepJobResult> {
  if (!env.shipped) {
    return answer({ ok: false, error: `worker ${env.me} has no cache server to fetch the step's files from (file mode "cache" needs batch worker --remote-cache URL --remote-cache-team SLUG)` });
  }
  const executor = env.executors.get(kindOf(job.step).executor);
  env.say(`worker ${env.me}: start ${job.step.name} (run ${job.runId}, files through ${env.shipped.transfer.client.displayUrl})`);
  const { out, extra } = await runShippedJob(job, env.shipped, env.jobId, env.signal, (req) => {
    if (req.logHeader && !executor.acceptsHeader) fs.appendFileSync(req.logFile, req.logHeader);
    const { logHeader, ...rest } = req;
    return executor.execute({ ...rest, ...(logHeader && executor.acceptsHeader ? { logHeader } : {}), runEnv: process.env, signal: env.signal });
  });
  const r = { ...answer(out), ...extra };
  env.say(`worker ${env.me}: end ${job.step.name}: ${out.ok ? 'ok' : `failed: ${out.error ?? ''}`} (${r.runMs} ms)`);
  return r;
}
