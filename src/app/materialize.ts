// The config a run executes, worked out from the declared one at the start of every run (the
// Batchfile itself is unchanged, so the daemon keeps serving it): forEach steps expanded over
// the files their glob matches now, paramsFrom values read from the params files as they are
// now. Unchanged matches and values give back the same config object, so everything memoised
// per config (graph, definition hashes) is kept.
import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import { expandConfig, globMatches, valueMatches } from '../batchfile/fan-out.js';
import { nestParams, pickKey } from '../batchfile/params-from.js';
import type { ForEachMatch, JsonValue } from '../batchfile/types.js';
import { resolveSpecs } from '../fingerprint/files.js';
import { readParamsFile } from '../fingerprint/params-files.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import { buildGraph, hasProducer } from '../graph/graph.js';
import { canonicalJson } from '../util/json.js';
import { BatchError } from '../util/errors.js';

const memo = new WeakMap<PipelineConfig, { key: string; config: PipelineConfig }>();

function isDynamic(config: PipelineConfig): boolean {
  for (const s of config.steps.values()) if (s.forEach || s.paramsFrom) return true;
  return false;
}

/** Files and globs the run's config depends on beyond the steps' own inputs: every forEach
 * glob and params file (watch mode watches them). */
export function followedSpecs(config: PipelineConfig): string[] {
  const out = new Set<string>();
  for (const s of config.steps.values()) {
    if (s.forEach && 'glob' in s.forEach) out.add(s.forEach.glob);
    for (const f of Object.keys(s.paramsFrom ?? {})) out.add(f);
  }
  return [...out].sort();
}

/** The values of a step's paramsFrom keys, in declaration order. */
async function paramValues(config: PipelineConfig, step: StepConfig, stats: StatCache): Promise<[string, JsonValue][]> {
  const out: [string, JsonValue][] = [];
  for (const [file, keys] of Object.entries(step.paramsFrom ?? {})) {
    const doc = await readParamsFile(config.root, file, stats, step.name);
    for (const key of keys) {
      const v = pickKey(doc, key);
      if (!v.found) throw new BatchError(`step "${step.name}".paramsFrom: ${file} has no key "${key}"${v.missing !== key ? ` (no "${v.missing}")` : ''}`, 2);
      out.push([key, v.value]);
    }
  }
  return out;
}

export interface MaterializeOptions {
  /** Given each new config made here with the key it was made from (the forEach matches and
   * paramsFrom values, which with the declared config determine it): the run adopts a cached
   * graph for it (app/graph-cache.ts) before the config's own checks build one. */
  adoptGraph?: (config: PipelineConfig, key: string) => void;
}

/** The config to run now (see the file's comment). */
export async function materialize(declared: PipelineConfig, stats: StatCache, opts: MaterializeOptions = {}): Promise<PipelineConfig> {
  if (!isDynamic(declared)) return declared;
  const matches = new Map<string, ForEachMatch[]>();
  const values = new Map<string, [string, JsonValue][]>();
  for (const step of declared.steps.values()) {
    if (step.forEach) {
      const fe = step.forEach;
      matches.set(step.name, 'glob' in fe ? globMatches(resolveSpecs(declared.root, [fe.glob], stats).files) : valueMatches(fe.values));
    }
    if (step.paramsFrom) values.set(step.name, await paramValues(declared, step, stats));
  }
  const key = keyOf(matches, values);
  const hit = memo.get(declared);
  if (hit?.key === key) return hit.config;

  let withParams = declared;
  if (values.size > 0) {
    const steps = new Map(declared.steps);
    for (const [name, vals] of values) {
      const s = steps.get(name)!;
      steps.set(name, { ...s, params: nestParams(s.params, vals) });
    }
    withParams = { ...declared, steps };
  }
  const config = expandConfig(withParams, matches);
  opts.adoptGraph?.(config, key);
  checkForEachSources(config, declared);
  memo.set(declared, { key, config });
  return config;
}

function keyOf(matches: Map<string, ForEachMatch[]>, values: Map<string, [string, JsonValue][]>): string {
  const parts: string[] = [];
  for (const [name, ms] of matches) parts.push(`${name}\0${ms.map((m) => m.path ?? m.value).join('\0')}`);
  for (const [name, vs] of values) parts.push(`${name}\0${canonicalJson(vs)}`);
  return parts.join('\n');
}

/** A forEach glob lists files before anything runs: files another step writes would be those
 * of the previous run, so that is refused. */
function checkForEachSources(config: PipelineConfig, declared: PipelineConfig): void {
  const graph = buildGraph(config);
  for (const s of declared.steps.values()) {
    if (s.forEach && 'glob' in s.forEach && hasProducer(graph, s.forEach.glob, '')) {
      const rel = declared.file.startsWith(declared.root) ? declared.file.slice(declared.root.length + 1) : declared.file;
      throw new BatchError(`${rel}: step "${s.name}".forEach: "${s.forEach.glob}" matches files a step writes; forEach lists source files (files no step writes)`, 2);
    }
  }
}

/** Targets as the user named them, with a forEach step's name standing for all its instances. */
export function expandTargets(config: PipelineConfig, targets: readonly string[]): string[] {
  if (targets.length === 0) return [];
  const byDeclared = new Map<string, string[]>();
  for (const s of config.steps.values()) {
    if (s.instanceOf) {
      const list = byDeclared.get(s.instanceOf) ?? [];
      list.push(s.name);
      byDeclared.set(s.instanceOf, list);
    }
  }
  return targets.flatMap((t) => (config.steps.has(t) ? [t] : (byDeclared.get(t) ?? [t])));
}
