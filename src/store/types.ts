// What the LMDB store and the CSV log hold. Every record is plain JSON-able data.
import type { JsonValue } from '../util/json.js';

export type StepStatus = 'PASS' | 'FAIL' | 'BLOCKED';
export type StepAction = 'ran' | 'up-to-date' | 'restored' | 'not-run';
export type RunStatus = 'PASS' | 'FAIL' | 'INTERRUPTED';

/** Hashes of files by project-relative path. */
export type FileHashes = Record<string, string>;

/** The parts a step's fingerprint is made of, kept so a later plan can say which part changed. */
export interface FingerprintParts {
  /** Hashes of the definition's parts: `command` (kind and command or module path),
   * `params`, `specs` (declared inputs and outputs). */
  definition: Record<string, string>;
  /** Hash of the values of the step's `env` variables (names → value hashes; never the values). */
  env: Record<string, string>;
  inputs: FileHashes;
  code: FileHashes;
  /** Each param's value as canonical JSON, so a reason can name the key that changed and its
   * old and new value. Shown, never hashed: the key covers params through `definition`.
   * Absent in states recorded before it existed. */
  params?: Record<string, string>;
}

/** What the store remembers about a step's last successful execution. */
export interface StepState {
  key: string;
  parts: FingerprintParts;
  outputs: FileHashes;
  runId: string;
  at: number;
}

/** One execution of a step as recorded in the store and written to execution_logs.csv: a
 * flat record, one field per column that history, trends and the report read, not a context
 * passed around. */
export interface StepResult {
  name: string;
  status: StepStatus;
  action: StepAction;
  reason: string;
  /** Wall time of the step's execution (0 when it did not run). */
  durationMs: number;
  startedAt?: number;
  attempts?: number;
  cpuMs?: number;
  peakRssBytes?: number;
  bytesRead?: number;
  bytesWritten?: number;
  error?: string;
  logFile?: string;
  /** A failed step's partial outputs, moved aside here (project-relative folder). */
  failedOutputs?: string;
  /** A restored step: which cache its outputs came from. */
  source?: 'local' | 'remote';
  /** A restored step: the run whose execution wrote the outputs it restored (the report links
   * that execution's log). Absent in records written before it existed. */
  fromRun?: string;
  /** A step with `metrics` that ran or was restored: the values its verified outputs hold. */
  metrics?: Record<string, number>;
  /** With `metrics`: the params that could move them (this step's and its upstream steps'),
   * `file:key` for paramsFrom keys, `step:key` for literal params. */
  params?: Record<string, JsonValue>;
  /** A step run by a worker of the Redis executor: the worker (`host:pid`), and how long its
   * job waited in the queue before a worker took it (part of durationMs). */
  worker?: string;
  queueWaitMs?: number;
}

export interface TestCaseResult {
  file: string;
  name: string;
  status: 'PASS' | 'FAIL' | 'SKIP';
  durationMs: number;
  message?: string;
}

export interface TestPhaseResult {
  status: 'PASS' | 'FAIL';
  action: 'ran' | 'up-to-date' | 'not-run';
  reason: string;
  durationMs: number;
  passed: number;
  failed: number;
  skipped: number;
  cases: TestCaseResult[];
}

/** A run as recorded in the store: a flat record (what history lists per run), not a context
 * passed around; its steps are StepResult records of their own. */
export interface RunRecord {
  id: string;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  status: RunStatus;
  flags: string[];
  targets: string[];
  /** The commit checked out; `dirty` (uncommitted changes to tracked files) is asked of git
   * only when the run executed a step (absent: not asked, the run ran nothing). */
  git?: { commit: string; dirty?: boolean };
  host: string;
  cpus: number;
  node: string;
  counts: { ran: number; upToDate: number; restored: number; failed: number; blocked: number; notRun: number };
  /** How the run checked its steps: how many were proven up to date by their stat snapshot
   * alone, how many files (bytes) it had to hash, and how many paths it stat'ed (a daemon's run:
   * those whose stat it did not hold; absent in records of older versions). */
  checks?: { bySnapshot: number; filesHashed: number; bytesHashed: number; filesStatted?: number };
  tests?: TestPhaseResult;
  /** What the run did with the remote cache (absent when none was configured). */
  remoteCache?: RemoteRunReport;
  /** Outputs of steps no longer in the Batchfile that this run removed (or kept: changed
   * since their step wrote them), by step (src/plan/orphans.ts). */
  orphans?: OrphanOutcome[];
}

export interface OrphanOutcome {
  step: string;
  removed: string[];
  kept: string[];
}

/** The result of a step found up to date: the same for every such step, so the store keeps
 * only its name (see `UpToDateTable` in store.ts). */
export function upToDateResult(name: string): StepResult {
  return { name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 };
}

/** Whether a result is exactly `upToDateResult(result.name)` (nothing more to keep). */
export function isPlainUpToDate(r: StepResult): boolean {
  if (r.action !== 'up-to-date' || r.status !== 'PASS' || r.reason !== 'up to date' || r.durationMs !== 0 || r.name.includes('\n')) return false;
  for (const k in r) if (k !== 'name' && k !== 'status' && k !== 'action' && k !== 'reason' && k !== 'durationMs') return false;
  return true;
}

/** What one run did with the remote cache (`--json`, the run record, `batch cache status`). */
export interface RemoteRunReport {
  url: string;
  team: string;
  readOnly: boolean;
  hits: number;
  misses: number;
  /** Entries downloaded but refused (bad hash, signature, unsafe path). */
  refused: number;
  uploads: { step: string; key: string; bytes: number }[];
  uploadsFailed: number;
  /** The server's failure, when it failed this run (after which it was not used). */
  error?: string;
}
