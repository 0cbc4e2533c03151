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

/** A step's definition in its one encoding, as text: its kind's fields, its params and its
 * declared input/output specs, each as canonical JSON. The key hashes each part (so that a
 * change can be named: "params changed"); the stat snapshot's signature hashes them
 * together (snapshot.ts). */
export interface DefinitionText {
  command: string;
  params: string;
  specs: string;
  /** `run` steps only: runtimeTag(). */
  runtime?: string;
}

const textMemo = new WeakMap<StepConfig, DefinitionText>();
const hashMemo = new WeakMap<StepConfig, Record<string, string>>();

/** A step's config never changes once loaded, so once per load. */
export function definitionText(step: StepConfig): DefinitionText {
  let t = textMemo.get(step);
  if (!t) {
    t = {
      // The kind's own fields: `{ run }`, `{ command }` as before kinds were modules (the
      // same keys), `{ python, args }`…
      command: canonicalJson(step.spec),
      params: canonicalJson(step.params),
      // canonicalJson of { inputs, outputs } with sorted arrays of strings, which
      // JSON.stringify writes alike (keys already in order), without the per-value walk:
      // this runs for every step of a no-op.
      specs: JSON.stringify({ inputs: [...step.inputs].sort(), outputs: [...step.outputs].sort() }),
      // Only `run` steps execute inside batch's own Node.js (see runtimeTag).
      ...(step.kind === 'run' ? { runtime: runtimeTag() } : {}),
    };
    textMemo.set(step, t);
  }
  return t;
}

/** Hashes of the definition's parts (the key's `definition`). */
export function definitionHashes(step: StepConfig): Record<string, string> {
  let d = hashMemo.get(step);
  if (!d) {
    const t = definitionText(step);
    d = { command: hashString(t.command), params: hashString(t.params), specs: hashString(t.specs), ...(t.runtime !== undefined ? { runtime: hashString(t.runtime) } : {}) };
    hashMemo.set(step, d);
  }
  return d;
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
