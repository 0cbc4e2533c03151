// Validation of the data-pipeline fields of a step: forEach, paramsFrom, metrics, metricBounds.
import { specMatcher } from '../fingerprint/files.js';
import { didYouMean } from '../util/suggest.js';
import type { StepConfig } from './config.js';
import { placeholdersIn, PLACEHOLDERS_OF } from './fan-out.js';
import type { MetricBound } from './types.js';

/** What validate.ts's Checker offers (passed in, so this module does not import it back). */
export interface FieldChecker {
  fail(where: string, msg: string): never;
  pathList(v: unknown, where: string, field?: string): string[];
  stringList(v: unknown, where: string, field?: string): string[];
}

export const DATA_FIELDS = ['forEach', 'paramsFrom', 'metrics', 'metricBounds'] as const;

/** Files paramsFrom can read, by ending. */
export const PARAMS_FILE_RE = /\.(ya?ml|json|toml)$/i;
const KEY_RE = /^[^.\s][^.]*(\.[^.\s][^.]*)*$/;
const BOUND_FIELDS = ['min', 'max', 'maxDrop', 'maxRise'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the data fields of `raw` and sets them on `step` (already holding the common fields). */
export function validateDataFields(c: FieldChecker, where: string, raw: Record<string, unknown>, step: StepConfig): void {
  if (raw.forEach !== undefined) validateForEach(c, where, raw.forEach, step);
  if (raw.paramsFrom !== undefined) step.paramsFrom = validateParamsFrom(c, where, raw.paramsFrom, step);
  if (raw.metrics !== undefined) {
    const metrics = c.pathList(raw.metrics, where, '.metrics');
    metrics.forEach((m, i) => {
      if (!step.outputs.some((o) => o === m || specMatcher(o)(m))) {
        c.fail(`${where}.metrics[${i}]`, `"${m}" is not one of the step's outputs; metrics are read from what the step wrote (add it to outputs)`);
      }
    });
    step.metrics = metrics;
  }
  if (raw.metricBounds !== undefined) step.metricBounds = validateBounds(c, where, raw.metricBounds, step);
}

function validateForEach(c: FieldChecker, where: string, v: unknown, step: StepConfig): void {
  const field = `${where}.forEach`;
  if (typeof v === 'string') {
    const [glob] = c.pathList([v], where, '.forEach');
    step.forEach = { glob: glob! };
  } else if (Array.isArray(v)) {
    const values = c.stringList(v, where, '.forEach');
    if (values.length === 0) c.fail(field, 'is an empty list');
    const seen = new Set<string>();
    for (const x of values) {
      if (x.trim() === '') c.fail(field, 'holds an empty value');
      if (seen.has(x)) c.fail(field, `lists "${x}" twice (each value is one instance)`);
      seen.add(x);
    }
    step.forEach = { values: [...values] };
  } else {
    c.fail(field, "must be a glob ('data/raw/*.csv') or a list of values");
  }
  const kind = 'glob' in step.forEach ? 'glob' : 'values';
  const known = PLACEHOLDERS_OF[kind];
  const check = (text: string, f: string): void => {
    for (const p of placeholdersIn(text)) {
      if (!(known as readonly string[]).includes(p)) c.fail(`${where}.${f}`, `unknown placeholder {${p}}${didYouMean(p, known)}; a forEach over ${kind === 'glob' ? 'a glob' : 'values'} has ${known.map((k) => `{${k}}`).join(', ')}`);
    }
  };
  step.inputs.forEach((s, i) => check(s, `inputs[${i}]`));
  step.outputs.forEach((s, i) => check(s, `outputs[${i}]`));
  const cmd = step.spec.command as string | string[] | undefined;
  if (typeof cmd === 'string') check(cmd, 'command');
  else cmd?.forEach((s, i) => check(s, `command[${i}]`));
  if (step.outputs.length > 0 && !step.outputs.some((o) => placeholdersIn(o).length > 0)) {
    c.fail(`${where}.outputs`, 'every instance of a forEach step would write the same files: name them with a placeholder, e.g. "build/{stem}.csv"');
  }
}

function validateParamsFrom(c: FieldChecker, where: string, v: unknown, step: StepConfig): Record<string, string[]> {
  const field = `${where}.paramsFrom`;
  if (!isObject(v)) c.fail(field, "must be an object of file → keys, e.g. { 'params.yaml': ['train.n_est'] }");
  const out: Record<string, string[]> = {};
  for (const [rawFile, keys] of Object.entries(v)) {
    const [file] = c.pathList([rawFile], field, `["${rawFile}"]`);
    if (!PARAMS_FILE_RE.test(file!)) c.fail(`${field}["${rawFile}"]`, 'must be a .yaml, .yml, .json or .toml file');
    const list = c.stringList(keys, field, `["${rawFile}"]`);
    if (list.length === 0) c.fail(`${field}["${rawFile}"]`, 'names no key');
    for (const k of list) if (!KEY_RE.test(k)) c.fail(`${field}["${rawFile}"]`, `"${k}" is not a dotted key like "train.n_est"`);
    out[file!] = [...list];
  }
  // A key that would land where a literal param is: one value would silently hide the other.
  for (const keys of Object.values(out)) {
    for (const k of keys) {
      const top = k.split('.')[0]!;
      if (Object.hasOwn(step.params, top) && (k === top || !isObject(step.params[top]))) {
        c.fail(field, `key "${k}" collides with params.${top}; rename one of them`);
      }
    }
  }
  return out;
}

function validateBounds(c: FieldChecker, where: string, v: unknown, step: StepConfig): Record<string, MetricBound> {
  const field = `${where}.metricBounds`;
  if (!step.metrics) c.fail(field, 'needs `metrics` (the files the bounded metrics are read from)');
  if (!isObject(v)) c.fail(field, 'must be an object like { accuracy: { maxDrop: 0.02 } }');
  const out: Record<string, MetricBound> = {};
  for (const [name, b] of Object.entries(v)) {
    if (!isObject(b)) c.fail(`${field}.${name}`, 'must be an object like { maxDrop: 0.02 }');
    const bound: MetricBound = {};
    for (const [k, x] of Object.entries(b)) {
      if (!(BOUND_FIELDS as readonly string[]).includes(k)) c.fail(`${field}.${name}`, `unknown field "${k}"${didYouMean(k, BOUND_FIELDS)}; allowed: ${BOUND_FIELDS.join(', ')}`);
      if (typeof x !== 'number' || !Number.isFinite(x)) c.fail(`${field}.${name}.${k}`, 'must be a number');
      if ((k === 'maxDrop' || k === 'maxRise') && x < 0) c.fail(`${field}.${name}.${k}`, 'must be 0 or more');
      bound[k as keyof MetricBound] = x;
    }
    if (Object.keys(bound).length === 0) c.fail(`${field}.${name}`, `sets no bound (${BOUND_FIELDS.join(', ')})`);
    out[name] = bound;
  }
  return out;
}
