import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import { resolveSpecs } from '../fingerprint/files.js';
import { hasProducer, type Graph } from '../graph/graph.js';
import type { CodeContext, StepKind } from '../kinds/kind.js';
import { kindOf } from '../kinds/registry.js';
import { compileQueuedNow } from '../kinds/run.js';
import { checkSnapshot, type FastVerdict } from '../plan/fast-check.js';
import type { StepCode } from '../plan/step-code.js';
import type { Store } from '../store/store.js';
import { BatchError } from '../util/errors.js';
import { heapCheckpoint } from '../util/heap-checkpoint.js';

/** What the pre-run check found: the code of each step that needs a full check, and the
 * steps a stat snapshot already proves up to date (with the StatCache epoch it held at). */
export interface Preflight {
  code: Map<string, StepCode>;
  fast: Map<string, FastVerdict>;
  /** Steps whose snapshot did not hold, with the StatCache epoch of that check. */
  misses: Map<string, number>;
}

/** The steps a run is about. */
export interface PlannedSteps {
  config: PipelineConfig;
  graph: Graph;
  selected: string[];
}

export interface PreflightOptions {
  /** Let a stat snapshot that holds skip a step's checks (not under --force); `env`: the
   * run's environment, part of the snapshot's signature. */
  snapshots?: { env: NodeJS.ProcessEnv };
  /** Called once, after the checks, when a step the worker pool runs may execute (to start
   * the pool's threads). */
  onRunStepAhead?: () => void;
  /** Called once, at the first step found that may execute (of any kind), during the checks:
   * an executor that must connect somewhere starts now, while the other steps are checked. */
  onStepAhead?: () => void;
  /** Steps that run whatever their files hold (`--force`, or no recorded state): their files
   * are not hashed ahead. Their hashes only give the new state's key, taken by the main
   * thread just before each runs; in a first build, helper threads hashing 10,000 inputs
   * ahead would compete with the steps' own processes for the cores. */
  runsAnyway?: (name: string) => boolean;
  /** Steps already proven up to date (by the no-op record, plan/noop-record.ts). */
  proven?: ReadonlyMap<string, FastVerdict>;
}

/** Asks the step's kind for its code now (a `run` module joins this turn's compile batch);
 * an error thrown at once becomes a rejection, settled like the others. */
function codeNow(kind: StepKind, step: StepConfig, ctx: CodeContext): Promise<StepCode> {
  try {
    return Promise.resolve(kind.code(step, ctx));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Checks what can be checked before anything runs, so bad input stops the run with exit 2
 * and nothing recorded: run modules compile and export a default; every input that no step
 * writes exists now. A step whose snapshot holds passed these checks when it was taken and
 * nothing it depends on changed since, so it is skipped (pass `snapshots` to allow that). */
export async function preflight(plan: PlannedSteps, where: CodeContext & { store: Store }, opts: PreflightOptions = {}): Promise<Preflight> {
  const { config, graph, selected } = plan;
  const { root, store, stats } = where;
  const { snapshots, onRunStepAhead, onStepAhead, runsAnyway, proven } = opts;
  let stepAhead = false;
  const code = new Map<string, StepCode>();
  const fast = new Map<string, FastVerdict>();
  const misses = new Map<string, number>();
  const pending: [string, Promise<StepCode>][] = [];
  let runAhead = false;
  try {
    checkAll();
  } catch (e) {
    // A bad input stops the run before anything executes, and the caller then closes the
    // store: the steps already sent to compile must settle first, or their code checks would
    // read the closed store (an uncaught error, exit 1 instead of this one's exit 2).
    compileQueuedNow();
    await Promise.allSettled(pending.map(([, p]) => p));
    throw e;
  }
  stats.sendAhead();
  // The modules go to esbuild first, then the pool starts its threads while they compile
  // (or, with every module compiled already, while the first steps are planned).
  compileQueuedNow();
  if (runAhead) onRunStepAhead?.();
  const settled = await Promise.allSettled(pending.map(([, p]) => p));
  settled.forEach((r, i) => {
    if (r.status === 'rejected') throw r.reason;
    code.set(pending[i]![0], r.value);
  });
  return { code, fast, misses };

  /** The pre-run checks of every selected step; each step's code is sent to compile. */
  function checkAll(): void {
    for (const name of selected) {
      heapCheckpoint();
      const step = config.steps.get(name)!;
      if (snapshots) {
        const epoch = stats.epoch;
        const v = proven?.get(name) ?? checkSnapshot(root, stats, store, step, snapshots.env);
        if (v) {
          fast.set(name, v);
          continue;
        }
        misses.set(name, epoch);
      }
      const kind = kindOf(step);
      if (kind.executor === 'pool') runAhead = true;
      if (!stepAhead) {
        stepAhead = true;
        onStepAhead?.();
      }
      const ahead = runsAnyway?.(name) !== true;
      for (const spec of step.inputs) {
        if (hasProducer(graph, spec, name)) continue;
        const res = resolveSpecs(root, [spec], stats);
        if (res.missing.length > 0) throw new BatchError(`step "${name}".inputs: "${spec}" does not exist and no step writes it`, 2);
        if (res.empty.length > 0) throw new BatchError(`step "${name}".inputs: the glob "${spec}" matches no file and no step writes it`, 2);
        if (ahead) stats.hashAhead(res.files);
      }
      // The full check will hash them (its outputs too): helper threads can start on them now.
      if (ahead) stats.hashAhead(resolveSpecs(root, step.outputs, stats).files);
      // Run modules compile concurrently (esbuild builds them in parallel); the first error in
      // step order is the one reported, as if they had compiled one by one.
      pending.push([name, codeNow(kind, step, where)]);
    }
  }
}

