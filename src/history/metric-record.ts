// Reads a step's metrics from the outputs it just wrote (or that were restored), and the params
// that could move them, to record with its result.
import fs from 'node:fs';
import path from 'node:path';
import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import { flattenParams } from '../batchfile/params-from.js';
import type { JsonObject, JsonValue } from '../batchfile/types.js';
import { hashBytes } from '../fingerprint/hash.js';
import type { Graph } from '../graph/graph.js';
import type { FileHashes } from '../store/types.js';
import { parseMetrics } from './metric-parse.js';
import { shownPathsIn } from '../util/paths.js';

/** The metrics in the step's metric files, read only when their bytes are the ones the run
 * verified (`outputs`: the hashes it recorded); a file that changed since is a warning. */
export function readStepMetrics(root: string, step: StepConfig, outputs: FileHashes): { metrics: Record<string, number>; warnings: string[] } {
  const metrics: Record<string, number> = {};
  const warnings: string[] = [];
  for (const file of step.metrics ?? []) {
    const want = outputs[file];
    if (want === undefined) {
      warnings.push(`step "${step.name}": metrics file ${file} is not among the outputs it wrote`);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.resolve(root, file));
    } catch (e) {
      warnings.push(`step "${step.name}": cannot read metrics file ${file}: ${shownPathsIn(root, (e as Error).message)}`);
      continue;
    }
    if (hashBytes(bytes) !== want) {
      warnings.push(`step "${step.name}": metrics file ${file} changed after the step wrote it; its metrics are not recorded`);
      continue;
    }
    try {
      Object.assign(metrics, parseMetrics(file, bytes.toString('utf8')));
    } catch (e) {
      warnings.push(`step "${step.name}": metrics file ${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  return { metrics, warnings };
}

/** The params of a step and every step upstream of it: `file:key` for paramsFrom keys (one
 * value, whichever steps read it), `step:key` for literal params (forEach instances' own
 * literal params are left out: one per file would bury the rest). */
export function paramsUpstream(config: PipelineConfig, graph: Pick<Graph, 'deps'>, name: string): Record<string, JsonValue> {
  const seen = new Set<string>();
  const todo = [name];
  const out: Record<string, JsonValue> = {};
  while (todo.length > 0) {
    const n = todo.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    const step = config.steps.get(n);
    if (!step) continue;
    for (const d of graph.deps.get(n) ?? []) todo.push(d);
    const fromFiles = new Set<string>();
    for (const [file, keys] of Object.entries(step.paramsFrom ?? {})) {
      for (const key of keys) {
        fromFiles.add(key);
        const v = valueAt(step.params, key);
        if (v !== undefined) out[`${file}:${key}`] = v;
      }
    }
    if (step.instanceOf) continue;
    for (const [k, v] of Object.entries(flattenParams(step.params))) {
      if (![...fromFiles].some((f) => k === f || k.startsWith(`${f}.`))) out[`${n}:${k}`] = v;
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function valueAt(params: JsonObject, key: string): JsonValue | undefined {
  let cur: JsonValue | undefined = params;
  for (const p of key.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as JsonObject)[p];
  }
  return cur;
}
