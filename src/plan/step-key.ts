import type { StepConfig } from '../batchfile/config.js';
import type { FileHashes, FingerprintParts } from '../store/types.js';
import { canonicalJson } from '../util/json.js';
import { hashString } from '../fingerprint/hash.js';

/** Bump when what goes into a key changes, so old keys never match new ones. */
export const KEY_SCHEMA = 1;

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
    // The kind's own fields: `{ run }`, `{ command }` as before kinds were modules (the same
    // keys), `{ python, args }`…
    command: hashString(canonicalJson(step.spec)),
    params: hashString(canonicalJson(step.params)),
    specs: hashString(canonicalJson({ inputs: [...step.inputs].sort(), outputs: [...step.outputs].sort() })),
  };
}

export function fingerprintParts(step: StepConfig, inputs: FileHashes, code: FileHashes, env: NodeJS.ProcessEnv): FingerprintParts {
  return { definition: definitionHashes(step), env: envHashes(step, env), inputs, code };
}

/** The step's key: one hash over the canonical form of its parts. Project-relative paths
 * and content hashes only, so the key is the same on every machine. */
export function fingerprintKey(parts: FingerprintParts): string {
  return hashString(canonicalJson({ v: KEY_SCHEMA, ...parts }));
}
