import type { StepConfig } from '../batchfile/config.js';
import { commandKind } from './command.js';
import type { StepKind } from './kind.js';
import { pythonKind } from './python.js';
import { runKind } from './run.js';

/** Every kind of step, by the field that names it. A new kind is its module and one line here. */
export const KINDS: readonly StepKind[] = [runKind, commandKind, pythonKind];

const byField = new Map(KINDS.map((k) => [k.field, k]));

/** The kind of a validated step. */
export function kindOf(step: StepConfig): StepKind {
  const k = byField.get(step.kind);
  if (!k) throw new Error(`no step kind "${step.kind}" (step "${step.name}")`);
  return k;
}
