// How a `command` step receives its params: BATCH_PARAMS (all of them, as JSON) and one
// BATCH_PARAM_<KEY> per leaf (`train.n_est` → BATCH_PARAM_TRAIN_N_EST).
import type { StepConfig } from './config.js';
import { flattenParams } from './params-from.js';

const memo = new WeakMap<StepConfig, Record<string, string>>();

export function paramsEnvName(key: string): string {
  return `BATCH_PARAM_${key.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/** The variables a command step gets beside BATCH_STEP (none for a step without params). */
export function paramsEnv(step: StepConfig): Record<string, string> {
  let env = memo.get(step);
  if (env) return env;
  env = {};
  if (Object.keys(step.params).length > 0) {
    env.BATCH_PARAMS = JSON.stringify(step.params);
    for (const [k, v] of Object.entries(flattenParams(step.params))) {
      env[paramsEnvName(k)] = v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
  }
  memo.set(step, env);
  return env;
}
