import type { StepConfig } from '../batchfile/config.js';
import type { FileHashes, FingerprintParts } from '../store/types.js';
import { canonicalJson } from '../util/json.js';
import { hashString } from '../fingerprint/hash.js';

/** Bump when what goes into a key changes, so old keys never match new ones.
 * 2: `run` steps' keys include the runtime (runtimeTag). */
export const KEY_SCHEMA = 2;

/** What a `run` step's result may depend on beyond its files: it runs inside batch's own
 * Node.js, so the major version and the platform go into its key (a shared remote cache must
 * not hand a Linux result to macOS, or Node 20's to Node 22). Minor versions are left out:
 * they do not change what a program computes, and would split the cache at every update. */
export function runtimeTag(): string {
  return RUNTIME;
}
const RUNTIME = `node${process.versions.node.split('.')[0]} ${process.platform}-${process.arch}`;

/** Hashes of the values of the step's env variables. Only hashes are kept: secrets listed
 * in `env` never reach the store or the logs. Unset and empty are different values. */
export function envHashes(step: StepConfig, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of step.env) {
    const v = env[name];
    out[name] = v === undefined ? 'unset' : hashString(`${name}=${v}`);
  }
  return out;
}

const definitionMemo = new WeakMap<StepConfig, Record<string, string>>();

/** Hashes of the definition's parts; a step's config never changes once loaded, so once per load. */
export function definitionHashes(step: StepConfig): Record<string, string> {
  let d = definitionMemo.get(step);
  if (!d) {
    d = computeDefinitionHashes(step);
    definitionMemo.set(step, d);
  }
  return d;
}

function computeDefinitionHashes(step: StepConfig): Record<string, string> {
  return {
    command: hashString(canonicalJson(step.kind === 'run' ? { run: step.run ?? null } : { command: step.command ?? null })),
    params: hashString(canonicalJson(step.params)),
    specs: hashString(canonicalJson({ inputs: [...step.inputs].sort(), outputs: [...step.outputs].sort() })),
    ...(step.kind === 'run' ? { runtime: hashString(runtimeTag()) } : {}),
  };
}

const paramsMemo = new WeakMap<StepConfig, Record<string, string>>();

/** Each param's value as canonical JSON (for reasons that name what changed), once per load. */
export function paramValues(step: StepConfig): Record<string, string> {
  let p = paramsMemo.get(step);
  if (!p) {
    p = Object.fromEntries(Object.entries(step.params).map(([k, v]) => [k, canonicalJson(v)]));
    paramsMemo.set(step, p);
  }
  return p;
}

export function fingerprintParts(step: StepConfig, inputs: FileHashes, code: FileHashes, env: NodeJS.ProcessEnv): FingerprintParts {
  return { definition: definitionHashes(step), env: envHashes(step, env), inputs, code, params: paramValues(step) };
}

/** The step's key: one hash over the canonical form of its parts. Project-relative paths
 * and content hashes only, so the key is the same on every machine. */
export function fingerprintKey(parts: FingerprintParts): string {
  // The param values are already in the key through definition.params; leaving them out keeps
  // keys the same as before they were recorded.
  const { params: _shown, ...keyed } = parts;
  return hashString(canonicalJson({ v: KEY_SCHEMA, ...keyed }));
}
