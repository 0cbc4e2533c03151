import type { StepConfig } from '../batchfile/config.js';
import type { StepCode } from './step-code.js';
import { resolveSpecs } from '../fingerprint/files.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import { fingerprintKey, fingerprintParts } from './step-key.js';
import type { Store } from '../store/store.js';
import type { FileHashes, FingerprintParts } from '../store/types.js';
import { decide, type Decision } from './decide.js';

/** What planning a step needs: the files as they are now and what the store recorded. */
export interface PlanEnv {
  root: string;
  stats: StatCache;
  env: NodeJS.ProcessEnv;
  store: Store;
  force: boolean;
}

export interface Fingerprint {
  key: string;
  parts: FingerprintParts;
  inputFiles: string[];
  /** Input specs that name nothing now. */
  missing: string[];
  bytesIn: number;
}

/** The step's fingerprint against the files as they are now. */
export function fingerprintStep(env: Pick<PlanEnv, 'root' | 'stats' | 'env'>, step: StepConfig, code: StepCode): Fingerprint {
  const res = resolveSpecs(env.root, step.inputs, env.stats);
  const inputs: FileHashes = {};
  let bytesIn = 0;
  for (const f of res.files) {
    const st = env.stats.get(f);
    if (st) {
      inputs[f] = st.hash;
      bytesIn += st.size;
    }
  }
  const parts = fingerprintParts(step, inputs, code.files, env.env);
  return { key: fingerprintKey(parts), parts, inputFiles: res.files, missing: [...res.missing, ...res.empty], bytesIn };
}

/** Hashes of the step's outputs as they are now (missing ones are simply absent). */
export function currentOutputs(env: Pick<PlanEnv, 'root' | 'stats'>, step: StepConfig): { hashes: FileHashes; bytes: number; missing: string[] } {
  const res = resolveSpecs(env.root, step.outputs, env.stats);
  const hashes: FileHashes = {};
  let bytes = 0;
  for (const f of res.files) {
    const st = env.stats.get(f);
    if (st) {
      hashes[f] = st.hash;
      bytes += st.size;
    }
  }
  return { hashes, bytes, missing: [...res.missing, ...res.empty] };
}

/** The step's fingerprint and decide()'s verdict on it; verdict.ts builds the step's whole
 * verdict on this. */
export function planStep(env: PlanEnv, step: StepConfig, code: StepCode): { fp: Fingerprint; decision: Decision } {
  const fp = fingerprintStep(env, step, code);
  const outs = currentOutputs(env, step);
  const decision = decide({ state: env.store.state.get(step.name), key: fp.key, parts: fp.parts, outputs: outs.hashes, force: env.force });
  return { fp, decision };
}

