// The coordinator's side of the Redis executor: each step attempt becomes a BullMQ job; the
// result comes back through the queue's event stream. What runs and what is recorded stays
// the coordinator's decision (a job only runs an attempt), so a step is recorded once,
// from the attempt whose result came back.
import os from 'node:os';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { engineVersion } from '../../util/engine.js';
import { mark } from '../../util/timing.js';
import { BatchError } from '../../util/errors.js';
import type { ExecOutcome, ExecRequest, Executor } from '../types.js';
import { keys, nodeMajor, PREFIX, PROTOCOL, type StallSettings, type StepJob, type StepJobResult } from './protocol.js';
import { connectionOptions, loadQueueLibs, redact } from './redis.js';
import type { Shipper } from './ship.js';

export interface QueueExecutorOptions {
  url: string;
  queue: string;
  stall: StallSettings;
  /** How long Redis may stay unreachable before every step waiting on it fails (ms). */
  lostAfterMs?: number;
  /** Says something to the user (no worker took a job for a while, Redis was lost). */
  warn: (message: string) => void;
  /** File mode `cache`: files travel through this cache server (absent: a shared disk). */
  shipper?: Shipper;
}

interface Pending {
  /** `raw`: the worker's answer, when one came (file mode `cache` fetches what it names). */
  resolve: (o: ExecOutcome, raw?: StepJobResult) => void;
  addedAt: number;
  /** When the queue said a worker took the job (the last time, after a stall). */
  activeAt?: number;
  step: string;
}

/** Cancelled job ids are kept this long, so a worker that takes one later (a stalled job put
 * back in the queue) refuses it. */
const CANCELLED_TTL_S = 24 * 3600;
/** After asking a running job to stop, how long to wait for its answer before giving up. */
const CANCEL_WAIT_MS = 5000;
/** How often a coordinator with steps in the queue checks that some worker serves it. */
const WORKER_CHECK_MS = Number(process.env.BATCH_QUEUE_WORKER_CHECK_MS ?? 5000);

export class QueueExecutor implements Executor {
  /** The worker writes the log's header (on its side of the shared log, mode 1). */
  readonly acceptsHeader = true;
  private readonly pending = new Map<string, Pending>();
  /** Running jobs asked to stop: their ids leave the cancelled set once they have ended. */
  private readonly cancelled = new Set<string>();
  private seq = 0;
  private lost: string | undefined;
  private closing: Promise<void> | undefined;
  private noWorkerTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly opts: QueueExecutorOptions,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    /** Commands of batch's own (settings, cancel), and the watch on the connection. */
    private readonly control: Redis,
  ) {}

  /** Connects, publishes the stall settings the workers must use, and starts listening for
   * results. Fails with a clear error when Redis cannot be reached. */
  static async open(opts: QueueExecutorOptions): Promise<QueueExecutor> {
    const { bullmq, ioredis } = await loadQueueLibs();
    mark('queue libraries loaded');
    const lostAfter = opts.lostAfterMs ?? 3000;
    const conn = connectionOptions(opts.url, lostAfter);
    const { url: _u, ...rest } = conn;
    const control = new ioredis.Redis(opts.url, rest);
    control.on('error', () => {}); // reported through 'end' below
    try {
      await untilReady(control, opts.url);
      mark('redis connected');
      const k = keys(opts.queue);
      await control.multi().set(k.settings, JSON.stringify(opts.stall)).publish(k.settings, JSON.stringify(opts.stall)).exec();
      // The event stream is read from its current end, taken before any job is added: a
      // job's result can never be missed (reading from `$` would race the first job).
      const last = (await control.xrevrange(`${PREFIX}:${opts.queue}:events`, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
      const queue = new bullmq.Queue(opts.queue, { connection: conn, prefix: PREFIX });
      const events = new bullmq.QueueEvents(opts.queue, { connection: conn, prefix: PREFIX, lastEventId: last, blockingTimeout: 5000 });
      const ex = new QueueExecutor(opts, queue, events, control);
      queue.on('error', () => {});
      events.on('error', () => {});
      ex.listen();
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      mark('queue ready');
      return ex;
    } catch (e) {
      control.disconnect();
      throw e;
    }
  }

  private listen(): void {
    this.control.on('end', () => this.fail(`lost the connection to Redis at ${redact(this.opts.url)} (no answer for ${this.opts.lostAfterMs ?? 3000} ms)`));
    this.events.on('active', ({ jobId }) => {
      const p = this.pending.get(jobId);
      if (p) p.activeAt = performance.now();
    });
    this.events.on('completed', ({ jobId, returnvalue }) => {
      this.forgetCancelled(jobId);
      const p = this.pending.get(jobId);
      if (!p) return;
      this.pending.delete(jobId);
      const r = returnvalue as unknown as StepJobResult;
      const now = performance.now();
      const activeAt = p.activeAt ?? now;
      const out: ExecOutcome = {
        ok: r.ok,
        remote: { worker: r.worker, queueWaitMs: Math.round(activeAt - p.addedAt), runMs: r.runMs },
      };
      if (r.error !== undefined) out.error = r.error;
      if (r.cpuMs !== undefined) out.cpuMs = r.cpuMs;
      if (r.peakRssBytes !== undefined) out.peakRssBytes = r.peakRssBytes;
      p.resolve(out, r);
    });
    this.events.on('failed', ({ jobId, failedReason }) => {
      this.forgetCancelled(jobId);
      const p = this.pending.get(jobId);
      if (!p) return;
      this.pending.delete(jobId);
      const stalled = /stalled more than allowable limit/i.test(failedReason);
      const n = this.opts.stall.maxStalledCount + 1;
      const error = stalled
        ? `the step's job was abandoned ${n} time${n > 1 ? 's' : ''}: each worker that took it died or lost Redis while running it (a step that kills its worker?); not sent again`
        : `the worker failed the job: ${failedReason}`;
      p.resolve({ ok: false, error });
    });
  }

  /** A cancelled job has ended: no worker can take it again, so its mark goes. */
  private forgetCancelled(id: string): void {
    if (!this.cancelled.delete(id)) return;
    this.control.srem(keys(this.opts.queue).cancelled, id).catch(() => {});
  }

  /** Redis is gone: every step waiting on it fails, and so does every later one. */
  private fail(message: string): void {
    if (this.lost || this.closing) return;
    this.lost = message;
    this.opts.warn(`${message}: the steps sent to the queue fail, nothing is recorded for them`);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve({ ok: false, error: `${message}; the step's result is unknown` });
    }
  }

  async execute(req: ExecRequest): Promise<ExecOutcome> {
    if (this.lost) return { ok: false, error: this.lost };
    if (this.closing) return { ok: false, error: 'the Redis executor is closed' };
    const id = `${req.runId}.${++this.seq}.${req.step.name}`.replace(/[^A-Za-z0-9_.@+-]/g, '_');
    const shipper = this.opts.shipper;
    const data: StepJob = {
      protocol: PROTOCOL,
      engine: engineVersion(),
      node: nodeMajor(),
      files: shipper ? 'cache' : 'shared',
      step: req.step,
      runId: req.runId,
      root: req.root,
      inputs: req.inputs,
      outputs: req.outputs,
      logFile: req.logFile,
      env: Object.fromEntries(req.step.env.map((n) => [n, req.runEnv[n] ?? null])),
      ...(req.compiled ? { compiled: req.compiled } : {}),
      ...(req.command ? { command: req.command } : {}),
      ...(req.logHeader ? { logHeader: req.logHeader } : {}),
    };
    if (shipper) {
      try {
        Object.assign(data, await shipper.send(req, id));
      } catch (e) {
        return { ok: false, error: `could not upload the files of step "${req.step.name}" to the cache server ${shipper.displayUrl}: ${(e as Error).message}` };
      }
    }
    let raw: StepJobResult | undefined;
    const done = new Promise<ExecOutcome>((resolve) =>
      this.pending.set(id, { resolve: (o, r) => ((raw = r), resolve(o)), addedAt: performance.now(), step: req.step.name }),
    );
    try {
      await this.queue.add('step', data, { jobId: id, removeOnComplete: true, removeOnFail: true, attempts: 1 });
    } catch (e) {
      this.pending.delete(id);
      return { ok: false, error: this.lost ?? `could not send the step to Redis: ${(e as Error).message}` };
    }
    this.watchForWorkers();
    const onAbort = (): void => void this.cancel(id, String((req.signal.reason as Error | undefined)?.message ?? 'aborted'));
    if (req.signal.aborted) onAbort();
    else req.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let out = await done;
      // An aborted step reports why it was aborted (timeout, interrupt), as locally.
      if (req.signal.aborted && out.ok) return out;
      if (req.signal.aborted) return { ...out, ok: false, error: String((req.signal.reason as Error | undefined)?.message ?? out.error ?? 'aborted') };
      if (shipper && raw) {
        const failed = await shipper.receive(req, id, raw);
        if (failed) out = { ...out, ok: false, error: failed };
      }
      return out;
    } finally {
      req.signal.removeEventListener('abort', onAbort);
    }
  }

  /** A timeout or Ctrl-C: a job still waiting is removed; a running one is asked to stop (its
   * worker kills the step and answers). Either way its id is marked cancelled, so no worker
   * starts it later. */
  private async cancel(id: string, reason: string): Promise<void> {
    const k = keys(this.opts.queue);
    try {
      await this.control.multi().sadd(k.cancelled, id).expire(k.cancelled, CANCELLED_TTL_S).exec();
      const removed = await this.queue.remove(id);
      const p = this.pending.get(id);
      if (removed === 1) {
        await this.control.srem(k.cancelled, id);
        if (p) {
          this.pending.delete(id);
          p.resolve({ ok: false, error: reason });
        }
        return;
      }
      this.cancelled.add(id);
      await this.control.publish(k.cancel, id);
    } catch {
      // Redis is gone: the connection watch fails the step.
      return;
    }
    // The worker answers when it has stopped the step; one that died meanwhile never does.
    const timer = setTimeout(() => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      void this.queue.remove(id).catch(() => 0);
      p.resolve({ ok: false, error: `${reason} (its worker did not confirm the stop within ${CANCEL_WAIT_MS} ms)` });
    }, CANCEL_WAIT_MS + this.opts.stall.lockDurationMs);
    timer.unref();
  }

  /** While steps wait, checks that some worker serves the queue (BullMQ names its workers'
   * connections): with none — never started, or all dead — nothing would run and no stall check
   * would hand a dead worker's job on, so the user is told what to start. Said once per outage. */
  private watchForWorkers(): void {
    if (this.noWorkerTimer) return;
    let told = false;
    this.noWorkerTimer = setInterval(() => {
      if (this.pending.size === 0 || this.lost || this.closing) return;
      void this.queue.getWorkersCount().then(
        (n) => {
          if (n > 0) told = false;
          else if (!told) {
            told = true;
            const u = redact(this.opts.url);
            this.opts.warn(`no worker serves queue "${this.opts.queue}" at ${u}: ${this.pending.size} step${this.pending.size === 1 ? '' : 's'} wait; start one with: batch worker --redis ${u} --queue ${this.opts.queue}`);
          }
        },
        () => {}, // CLIENT LIST refused (some hosted Redis): no check
      );
    }, WORKER_CHECK_MS);
    this.noWorkerTimer.unref();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.noWorkerTimer) clearInterval(this.noWorkerTimer);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve({ ok: false, error: 'the Redis executor closed' });
    }
    const quit = Promise.allSettled([this.events.close(), this.queue.close(), this.control.quit()]);
    // With Redis gone, a polite close waits on a connection that never comes back.
    const t = new Promise<void>((r) => setTimeout(r, 1000).unref());
    await Promise.race([quit, t]);
    void this.queue.disconnect().catch(() => {});
    this.control.disconnect();
  }
}

/** Resolves once the client is connected; rejects with a clear error when the connection
 * ends before that (its retry strategy gave up). */
function untilReady(client: Redis, url: string): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError = '';
    const onError = (e: Error): void => void (lastError = e.message);
    const cleanup = (): void => {
      client.off('ready', onReady);
      client.off('end', onEnd);
      client.off('error', onError);
    };
    const onReady = (): void => (cleanup(), resolve());
    const onEnd = (): void => (cleanup(), reject(new BatchError(`Cannot reach Redis at ${redact(url)}${lastError ? `: ${lastError}` : ''}`, 3)));
    client.on('ready', onReady);
    client.on('end', onEnd);
    client.on('error', onError);
  });
}

export const hostPid = (): string => `${os.hostname()}:${process.pid}`;
