// forEach: one declared step → one instance per match, named STEP:KEY. Pure: the matches
// (files listed by the engine each run, or the declared values) are given.
import path from 'node:path';
import { BatchError } from '../util/errors.js';
import type { PipelineConfig, StepConfig } from './config.js';
import type { ForEachMatch, JsonObject, JsonValue } from './types.js';

export const PLACEHOLDERS_OF = {
  glob: ['path', 'name', 'stem', 'key'],
  values: ['value', 'key'],
} as const satisfies Record<string, readonly string[]>;

/** `{word}`, not `${word}` (a shell variable) and not a glob's `{a,b}`. */
const PLACEHOLDER = /(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** Characters a step name may hold (validate.ts's NAME_RE); others in a key become `_`. */
const KEY_UNSAFE = /[^A-Za-z0-9_.@+-]/g;

export function globMatches(files: readonly string[]): ForEachMatch[] {
  return files.map((f) => {
    const name = path.posix.basename(f);
    const ext = path.posix.extname(name);
    const stem = ext && ext !== name ? name.slice(0, -ext.length) : name;
    return { key: stem.replace(KEY_UNSAFE, '_'), path: f, name, stem };
  });
}

export function valueMatches(values: readonly string[]): ForEachMatch[] {
  return values.map((value) => ({ key: value.replace(KEY_UNSAFE, '_'), value }));
}

/** A text split at its placeholders: literal parts at even indexes, placeholder names at odd
 * ones. Split once per text: a forEach over 1,000 files fills each template 1,000 times. */
const templates = new Map<string, string[]>();
function templateOf(text: string): string[] {
  let t = templates.get(text);
  if (!t) {
    t = [];
    let last = 0;
    for (const m of text.matchAll(PLACEHOLDER)) {
      t.push(text.slice(last, m.index), m[1]!);
      last = m.index + m[0].length;
    }
    t.push(text.slice(last));
    if (templates.size > 10_000) templates.clear();
    templates.set(text, t);
  }
  return t;
}

function fill(text: string, m: ForEachMatch): string {
  const t = templateOf(text);
  if (t.length === 1) return text;
  const fields = m as unknown as Record<string, string | undefined>;
  let out = t[0]!;
  for (let i = 1; i < t.length; i += 2) {
    const p = t[i]!;
    out += (fields[p] ?? `{${p}}`) + t[i + 1]!;
  }
  return out;
}

function fillJson(v: JsonValue, m: ForEachMatch): JsonValue {
  if (typeof v === 'string') return fill(v, m);
  if (Array.isArray(v)) return v.map((x) => fillJson(x, m));
  if (v !== null && typeof v === 'object') {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[k] = fillJson(x, m);
    return out;
  }
  return v;
}

/** The instances of a forEach step for these matches, in match order. */
export function instancesOf(step: StepConfig, matches: readonly ForEachMatch[], file: string): StepConfig[] {
  const byName = new Map<string, ForEachMatch>();
  const out: StepConfig[] = [];
  const { forEach: _f, ...rest } = step;
  for (const m of matches) {
    const name = `${step.name}:${m.key}`;
    const twin = byName.get(name);
    if (twin) {
      throw new BatchError(
        `${file}: step "${step.name}".forEach: "${twin.path ?? twin.value}" and "${m.path ?? m.value}" both give the instance name "${name}"; narrow the glob or rename one`,
        2,
      );
    }
    byName.set(name, m);
    const inst: StepConfig = {
      ...rest,
      name,
      inputs: step.inputs.map((s) => fill(s, m)),
      outputs: step.outputs.map((s) => fill(s, m)),
      params: fillJson(step.params, m) as JsonObject,
      instanceOf: step.name,
      match: m,
    };
    // A `command` step's command takes the placeholders too (its kind's field, in `spec`).
    const command = step.spec.command;
    if (typeof command === 'string') inst.spec = { ...step.spec, command: fill(command, m) };
    else if (Array.isArray(command)) inst.spec = { ...step.spec, command: (command as string[]).map((s) => fill(s, m)) };
    if (step.metrics) inst.metrics = step.metrics.map((s) => fill(s, m));
    out.push(inst);
  }
  return out;
}

/** The config the engine runs: each forEach step replaced, in place, by its instances; a
 * `dependsOn` naming a forEach step names all its instances. `matches`: per forEach step. */
export function expandConfig(config: PipelineConfig, matches: ReadonlyMap<string, readonly ForEachMatch[]>): PipelineConfig {
  const rel = path.relative(config.root, config.file) || config.file;
  const instances = new Map<string, string[]>();
  const steps = new Map<string, StepConfig>();
  for (const step of config.steps.values()) {
    if (!step.forEach) {
      steps.set(step.name, step);
      continue;
    }
    const list = instancesOf(step, matches.get(step.name) ?? [], rel);
    instances.set(step.name, list.map((s) => s.name));
    for (const inst of list) {
      if (config.steps.has(inst.name)) throw new BatchError(`${rel}: step "${step.name}".forEach: instance "${inst.name}" has the name of a declared step; rename one`, 2);
      steps.set(inst.name, inst);
    }
  }
  if (instances.size > 0) {
    for (const [name, s] of steps) {
      if (!s.dependsOn.some((d) => instances.has(d))) continue;
      steps.set(name, { ...s, dependsOn: s.dependsOn.flatMap((d) => instances.get(d) ?? [d]).filter((d) => d !== name) });
    }
  }
  return { ...config, steps };
}

/** The declared step an engine step belongs to (itself when not an instance). */
export function declaredName(step: Pick<StepConfig, 'name' | 'instanceOf'>): string {
  return step.instanceOf ?? step.name;
}
