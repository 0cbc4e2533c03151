// What the coordinator and its workers agree on: the job's data and result, the queue's
// name and Redis keys, the stall settings every worker must share, the version check.
import type Crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecRequest } from '../types.js';

/** node:crypto when first used: the engine chunk holding this file loads on every run, and a
 * no-op never needs it (~3 ms of start-up). */
const crypto = (): typeof Crypto => process.getBuiltinModule('node:crypto');

/** Bumped when the job's shape changes; part of the version check. */
export const PROTOCOL = 3; // 2: a step carries its kind's fields in `spec`, and the job the program to start; 3: file mode `cache`

/** BullMQ's key prefix for batch's queues (its own default is `bull`). */
export const PREFIX = 'batch';

/** How the coordinator and a worker exchange files. `shared`: the worker sees the project
 * folder at the same path (one machine, or NFS). `cache`: through the remote cache server
 * (transfer.ts); the job's paths are then relative and name no folder of the coordinator's. */
export type FileMode = 'shared' | 'cache';

/** What a `cache`-mode job carries instead of a path to the project: every file the step
 * reads (inputs, code, the compiled module) by content hash, the coordinator's engine entry
 * (a compiled module imports `batchfile` by that path; the worker points it at its own), and
 * the key its outputs' manifest must carry. */
export interface ShipList {
  files: Record<string, { hash: string; mode: number }>;
  /** Folders on the way to the declared outputs that exist in the project (a step may expect
   * `build/` to be there, as it is at home). */
  dirs: string[];
  engineEntry: string;
  key: string;
}

/** An `ExecRequest` as it travels: without what cannot cross Redis (the abort signal, the
 * run's environment object), with the version check, the file mode and the env values. */
export interface StepJob extends Omit<ExecRequest, 'signal' | 'runEnv' | 'env' | 'ship'> {
  protocol: number;
  /** The coordinator's batchfile version and Node major: a worker that differs refuses. */
  engine: string;
  node: number;
  files: FileMode;
  /** The coordinator's values of the step's declared `env` variables (null: not set there).
   * They travel through Redis: see docs/distributed.md, Security. */
  env: Record<string, string | null>;
  /** File mode `cache`: what to fetch. */
  ship?: ShipList;
}

/** What a worker sends back (a BullMQ return value). */
export interface StepJobResult {
  ok: boolean;
  error?: string;
  cpuMs?: number;
  peakRssBytes?: number;
  /** `host:pid` of the worker process that ran it. */
  worker: string;
  /** The executor's time, as the worker measured it. */
  runMs: number;
  /** File mode `cache`: the artifact holding the attempt's outputs, and their hashes. */
  outputs?: { id: string; files: Record<string, string> };
  /** File mode `cache`: the content hash of the attempt's log, uploaded as a blob. */
  log?: string;
}

/** Stall detection, the same on every worker of a queue (the coordinator publishes it): a
 * worker's lock on a job lasts `lockDurationMs` and is renewed at half that; every worker
 * checks for jobs whose lock lapsed each `stalledIntervalMs`. A killed worker's job is taken
 * by another within about lockDuration + 2 × stalledInterval. A job abandoned more than
 * `maxStalledCount` times fails. BullMQ's defaults (30 s, 30 s, 1) suit long jobs, not a
 * build tool's steps. */
export interface StallSettings {
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
}

export const DEFAULT_STALL: StallSettings = { lockDurationMs: 5000, stalledIntervalMs: 1000, maxStalledCount: 2 };

/** Reads BATCH_QUEUE_LOCK_MS, BATCH_QUEUE_STALL_MS, BATCH_QUEUE_MAX_STALLS over the defaults. */
export function stallSettings(env: NodeJS.ProcessEnv = process.env): StallSettings {
  const num = (name: string, def: number, min: number): number => {
    const v = env[name];
    if (v === undefined || v === '') return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  return {
    lockDurationMs: num('BATCH_QUEUE_LOCK_MS', DEFAULT_STALL.lockDurationMs, 500),
    stalledIntervalMs: num('BATCH_QUEUE_STALL_MS', DEFAULT_STALL.stalledIntervalMs, 100),
    maxStalledCount: num('BATCH_QUEUE_MAX_STALLS', DEFAULT_STALL.maxStalledCount, 0),
  };
}

export function isStallSettings(v: unknown): v is StallSettings {
  const o = v as Partial<StallSettings> | null;
  return typeof o === 'object' && o !== null && Number.isInteger(o.lockDurationMs) && Number.isInteger(o.stalledIntervalMs) && Number.isInteger(o.maxStalledCount);
}

/** Redis keys and channels of batch's own beside BullMQ's (`batch:QUEUE:…`). */
export function keys(queue: string): { settings: string; cancel: string; cancelled: string } {
  return { settings: `${PREFIX}:${queue}:batch-settings`, cancel: `${PREFIX}:${queue}:batch-cancel`, cancelled: `${PREFIX}:${queue}:batch-cancelled` };
}

/** The default queue name of a project: its folder's name and a hash of its real path, so
 * two checkouts (or CI beside a developer) never share a queue unless told to, and workers
 * on machines that mount the project at the same path (mode 1) find the same name. */
export function defaultQueueName(root: string): string {
  let real = root;
  try {
    real = fs.realpathSync(root);
  } catch {
    // a root that does not exist yet: its path as given
  }
  const base = path.basename(real).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40) || 'project';
  const hash = crypto().createHash('sha256').update(real).digest('hex').slice(0, 10);
  return `${base}-${hash}`;
}

const QUEUE_RE = /^[A-Za-z0-9_.-]{1,100}$/;
export function checkQueueName(name: string): string | undefined {
  return QUEUE_RE.test(name) ? undefined : `queue name ${JSON.stringify(name)} must be 1–100 letters, digits, '_', '.' or '-'`;
}

/** Why a worker of this engine must refuse the job, or undefined. */
export function versionMismatch(job: Pick<StepJob, 'engine' | 'node' | 'protocol'>, engine: string, nodeMajor: number, worker: string): string | undefined {
  if (job.engine === engine && job.node === nodeMajor && job.protocol === PROTOCOL) return undefined;
  return `worker ${worker} refused the step: it runs batchfile ${engine} on Node ${nodeMajor} (job protocol ${PROTOCOL}), the coordinator runs batchfile ${job.engine} on Node ${job.node} (job protocol ${job.protocol}); run the same versions on both`;
}

export function nodeMajor(): number {
  return Number(process.versions.node.split('.')[0]);
}
