import type { StepConfig } from '../batchfile/config.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { Store } from '../store/store.js';
import type { StepCode } from './step-code.js';
import { outputOutside } from './outputs-inside.js';
import { planStep, type Fingerprint } from './plan-step.js';

/** A step's verdict, with its reasons down to the file (empty when up to date):
 * - `up-to-date`: nothing it depends on changed and its outputs are what it last wrote;
 * - `run`: it must execute;
 * - `restore`: it must, but the output cache holds the outputs of that very fingerprint
 *   (restored if intact, else it runs);
 * - `blocked`: it must, but cannot: an input names nothing, or an output leaves the project.
 * The run, `--dry-run`, `explain` and watch mode all reach it here. */
export type Verdict =
  | { kind: 'up-to-date'; reasons: string[]; fp: Fingerprint }
  | { kind: 'run'; reasons: string[]; fp: Fingerprint }
  | { kind: 'restore'; reasons: string[]; fp: Fingerprint; fromRun: string }
  | { kind: 'blocked'; reasons: string[]; fp: Fingerprint };

/** Where a step's outputs may come from instead of running it (cache/backend.ts's
 * CacheBackend is one). */
export interface CacheLookup {
  /** The run whose outputs the cache holds under `key`, if it holds them. */
  lookup(step: StepConfig, key: string): Promise<{ fromRun: string } | undefined>;
}

/** What a verdict is drawn from: the files now, what the store recorded, and the run's mode. */
export interface VerdictContext {
  root: string;
  stats: StatCache;
  env: NodeJS.ProcessEnv;
  store: Store;
  /** --force: every selected step runs, whatever its state; the cache is not read. */
  force: boolean;
  /** The output cache; absent when the Batchfile or a flag turned it off. */
  cache?: CacheLookup;
}

/** Whether a stat snapshot may stand in for the full check. Under --force every step runs,
 * so none does. */
export function snapshotsApply(ctx: Pick<VerdictContext, 'force'>): boolean {
  return !ctx.force;
}

/** A step that runs whatever its files hold: forced, or never recorded. Its files need no
 * hashing ahead (only its new state's key needs them, taken just before it runs). */
export function runsAnyway(ctx: Pick<VerdictContext, 'force' | 'store'>, name: string): boolean {
  return ctx.force || !ctx.store.state.doesExist(name);
}

/** The full check: the step's fingerprint against the files as they are now and its
 * recorded state, then what stops it running, then the output cache. A stat snapshot that
 * holds proves the same `up-to-date` without reading a file (see snapshot.ts); the run
 * tries that first, `--dry-run` and `explain` come here straight, to give reasons. */
export async function verdictOf(ctx: VerdictContext, step: StepConfig, code: StepCode): Promise<Verdict> {
  const { fp, decision } = planStep(ctx, step, code);
  if (!decision.run) return { kind: 'up-to-date', reasons: [], fp };
  if (fp.missing.length > 0) return { kind: 'blocked', reasons: [`input missing: ${fp.missing.join(', ')}`], fp };
  const outside = outputOutside(ctx.root, ctx.stats, step);
  if (outside) return { kind: 'blocked', reasons: [outside], fp };
  const hit = !ctx.force && step.cache ? await ctx.cache?.lookup(step, fp.key) : undefined;
  if (hit) return { kind: 'restore', reasons: decision.reasons, fp, fromRun: hit.fromRun };
  return { kind: 'run', reasons: decision.reasons, fp };
}

/** The first few reasons on one line, then a count (summaries, the run's step results). */
export function summariseReasons(reasons: string[], max = 3): string {
  if (reasons.length <= max) return reasons.join('; ');
  return `${reasons.slice(0, max).join('; ')}; and ${reasons.length - max} more`;
}

/** The one-line reason a run records for a step it restored, naming the remote cache when
 * the outputs came from there. */
export function restoredReason(restored: { fromRun: string; source?: 'local' | 'remote' }, reasons: string[]): string {
  return `restored from ${restored.source === 'remote' ? 'remote ' : ''}cache (outputs of run ${restored.fromRun}); ${summariseReasons(reasons)}`;
}

/** The line `explain` puts first for a step it would restore. */
export function restoreLine(fromRun: string): string {
  return `outputs of run ${fromRun} are in the output cache (restored if intact, else run)`;
}
