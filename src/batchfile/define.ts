import type { BatchDef, JsonObject, StepDef, StepFunction } from './types.js';

/** Declares a pipeline. The step names are inferred from `steps`, so `dependsOn`
 * accepts only names of steps that exist. Returns its argument unchanged. */
export function defineBatch<const Names extends string>(
  def: Omit<BatchDef<Names>, 'steps'> & { steps: { [K in Names]: StepDef<NoInfer<Names>> } },
): BatchDef<Names> {
  return def;
}

/** Types a `run` step module's default export. Returns its argument unchanged. */
export function defineStep<P extends JsonObject = JsonObject>(fn: StepFunction<P>): StepFunction<P> {
  return fn;
}
