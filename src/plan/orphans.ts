import fs from 'node:fs';
import path from 'node:path';
import type { PipelineConfig } from '../batchfile/config.js';
import { hashString } from '../fingerprint/hash.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import { hasProducer, type Graph } from '../graph/graph.js';
import type { Store } from '../store/store.js';
import type { OrphanOutcome } from '../store/types.js';

/**
 * Outputs of steps no longer declared. A step removed from the Batchfile (by hand, or an
 * instance of a fan-out that no longer matches a file) leaves the files it last wrote, and
 * steps reading them would go on reading them: a clean build in a fresh clone would differ.
 * What the store recorded for such a step (its last state: each output and its hash) says
 * which files are its; each is removed while it still holds those bytes, and kept, with a
 * warning, when something else wrote it since. Then the step's state is dropped.
 */

export interface OrphanFile {
  file: string;
  /** The step, no longer declared, that wrote it. */
  step: string;
}

export interface OrphanPlan {
  /** Steps with a recorded state that the Batchfile no longer declares. */
  steps: string[];
  /** Files that hold the bytes their step last wrote: to remove. */
  remove: OrphanFile[];
  /** Files changed since their step wrote them: kept. */
  keep: OrphanFile[];
}

/** What a run did about them (recorded with the run, listed in its summary). */
export type { OrphanOutcome };

const DECLARED_KEY = 'declared-steps';
const namesMemo = new WeakMap<PipelineConfig, string>();

/** A hash of the declared step names: when it equals the one recorded after the last orphan
 * pass, no state can belong to an undeclared step, and the store's states are not listed
 * (a no-op run of 10,000 steps stays free of this check). */
function declaredHash(config: PipelineConfig): string {
  let h = namesMemo.get(config);
  if (h === undefined) {
    h = hashString([...config.steps.keys()].sort().join('\n'));
    namesMemo.set(config, h);
  }
  return h;
}

/** The outputs of undeclared steps, and which of them still hold their step's bytes. Reads
 * only: `--dry-run` shows this plan, a run applies it. */
export function findOrphans(config: PipelineConfig, graph: Graph, store: Store, stats: StatCache): OrphanPlan | undefined {
  if (store.meta.get(DECLARED_KEY) === declaredHash(config)) return undefined;
  const plan: OrphanPlan = { steps: [], remove: [], keep: [] };
  for (const step of store.state.getKeys()) {
    if (config.steps.has(step)) continue;
    plan.steps.push(step);
    const state = store.state.get(step);
    for (const [file, hash] of Object.entries(state?.outputs ?? {})) {
      // A declared step writes it now (a step renamed, an output moved): it is that step's.
      if (hasProducer(graph, file, '')) continue;
      const now = stats.get(file);
      if (!now) continue;
      (now.hash === hash ? plan.remove : plan.keep).push({ file, step });
    }
  }
  return plan;
}

/** Removes the files the plan found still theirs, forgets the undeclared steps' states (and
 * snapshots), and notes the declared names, so the next run skips the pass. */
export async function applyOrphans(root: string, config: PipelineConfig, store: Store, stats: StatCache, plan: OrphanPlan): Promise<OrphanOutcome[]> {
  const byStep = new Map<string, OrphanOutcome>(plan.steps.map((s) => [s, { step: s, removed: [], kept: [] }]));
  for (const { file, step } of plan.remove) {
    fs.rmSync(path.resolve(root, file), { force: true });
    stats.forget(file);
    byStep.get(step)?.removed.push(file);
  }
  for (const { file, step } of plan.keep) byStep.get(step)?.kept.push(file);
  for (const step of plan.steps) {
    await store.state.remove(step);
    await store.snap.remove(step);
  }
  await store.meta.put(DECLARED_KEY, declaredHash(config));
  return [...byStep.values()].filter((o) => o.removed.length + o.kept.length > 0);
}

/** One line per file, for the summary and --dry-run. */
export function orphanLines(outcomes: readonly OrphanOutcome[], dryRun = false): string[] {
  const lines: string[] = [];
  for (const o of outcomes) {
    for (const f of o.removed) lines.push(`${dryRun ? 'would remove' : 'removed'} ${f} (written by "${o.step}", no longer in the Batchfile)`);
    for (const f of o.kept) lines.push(`kept ${f}: written by "${o.step}", no longer in the Batchfile, but changed since`);
  }
  return lines;
}

/** The plan as the outcome it would have (for --dry-run). */
export function planOutcomes(plan: OrphanPlan): OrphanOutcome[] {
  const byStep = new Map<string, OrphanOutcome>();
  const get = (s: string): OrphanOutcome => byStep.get(s) ?? (byStep.set(s, { step: s, removed: [], kept: [] }), byStep.get(s)!);
  for (const { file, step } of plan.remove) get(step).removed.push(file);
  for (const { file, step } of plan.keep) get(step).kept.push(file);
  return [...byStep.values()];
}
