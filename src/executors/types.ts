import type { StepConfig } from '../batchfile/config.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { FileHashes } from '../store/types.js';

/** What an executor needs to run one attempt of a step. */
export interface ExecRequest {
  step: StepConfig;
  runId: string;
  root: string;
  /** Absolute input files (resolved) and declared outputs. */
  inputs: string[];
  outputs: string[];
  /** Compiled module, for a kind the worker pool runs. */
  compiled?: string;
  /** The program and its arguments, for a kind the process executor runs (its kind says
   * what: kinds/kind.ts `command`). */
  command?: { file: string; args: string[] };
  logFile: string;
  /** Lines for the top of this attempt's log. An executor that takes it writes them (the
   * process executor: in the spawn helper, on the log's one open); without `acceptsHeader`
   * the caller writes them itself. */
  logHeader?: string;
  /** Aborted on timeout or interrupt; `signal.reason` says which. */
  signal: AbortSignal;
  /** The environment the step runs with: the run's (a served run's is its client's, not the
   * daemon's). The same object for every step of a run. */
  runEnv: NodeJS.ProcessEnv;
  /** Variables to set (null: unset) over this process's environment for the step: a Redis
   * worker gives its steps the coordinator's values of their declared `env`. */
  env?: Record<string, string | null>;
  /** What the step reads, by content hash (project-relative), and the run's stat cache: for
   * an executor that ships files to where the project is not (the Redis executor's `cache`
   * file mode), and places the outputs it brings back. */
  ship?: { inputs: FileHashes; code: FileHashes; stats: StatCache };
}

export interface ExecOutcome {
  ok: boolean;
  error?: string;
  cpuMs?: number;
  peakRssBytes?: number;
  /** Set by an executor that ran the step elsewhere (the Redis executor): which worker
   * (`host:pid`), how long the job waited in the queue, and the worker's run time. */
  remote?: { worker: string; queueWaitMs: number; runMs: number };
}

/** Runs steps of one kind. The scheduler neither knows nor cares which. */
export interface Executor {
  execute(req: ExecRequest): Promise<ExecOutcome>;
  /** True when `execute` writes `logHeader` to the log itself. */
  readonly acceptsHeader?: boolean;
  /** A hint that steps are about to come: start what takes time to start (worker threads). */
  warm?(): void;
  /** Resolves once the executor can take steps; rejects with the error that stops the run
   * before any step starts (the Redis executor: Redis cannot be reached). A run awaits it
   * only when some step may execute, so a no-op run never starts what it would start. */
  ready?(): Promise<void>;
  close(): Promise<void>;
}

/** How long a step gets to stop after SIGTERM or an abort message before it is killed. */
export const KILL_GRACE_MS = 2000;
