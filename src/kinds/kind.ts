import type { StepConfig } from '../batchfile/config.js';
import type { KindRules } from '../batchfile/validate.js';
import type { ExecutorName } from '../executors/registry.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { StepCode } from '../plan/step-code.js';
import type { Store } from '../store/store.js';

/** What finding a step's code may use. */
export interface CodeContext {
  root: string;
  cacheDir: string;
  /** Absent where nothing may be written (watch mode's first guess). */
  store?: Store;
  stats: StatCache;
}

/** A kind of step (`run`, `command`, `python`, …): one module each, listed in registry.ts.
 * Nothing else in the engine branches on a step's kind: the planner, the scheduler and the
 * store see only what a kind answers here. The definition that goes into a step's key is the
 * kind's validated fields (`StepConfig.spec`), encoded by plan/step-key.ts for every kind. */
export interface StepKind extends KindRules {
  /** Which executor runs its steps. */
  readonly executor: ExecutorName;
  /** The code files whose content goes into the step's key (a `run` module compiles here).
   * Fails with a BatchError (exit 2) naming the step and field when the code is missing. */
  code(step: StepConfig, ctx: CodeContext): StepCode | Promise<StepCode>;
  /** The paths a stat snapshot holds as code, given the code found: the files found, and
   * for a kind that looks files up by name, where one could appear (present or not), so
   * that a file appearing there is noticed without the full check. */
  snapshotCode(step: StepConfig, code: StepCode): readonly string[];
  /** The code files among `snapshotCode` as the files are now (stat only): what watch mode
   * watches for a step that only its snapshot checked. */
  codeFromSnapshot(step: StepConfig, snapshotCode: readonly string[], stats: StatCache): string[];
  /** The code files known before a run has worked them out (watch mode's first watcher):
   * cheap, never compiling. */
  knownCode(step: StepConfig, ctx: CodeContext): string[];
  /** The program and arguments the process executor starts, for a kind it runs. */
  command?(step: StepConfig): { file: string; args: string[] };
}
