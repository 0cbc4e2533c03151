import path from 'node:path';
import { parseDuration, parseSize } from '../util/duration.js';
import { BatchError } from '../util/errors.js';
import { badRemoteUrl, badTeam, MAX_TIMEOUT_MS, type RemoteDef } from './remote-def.js';
import { isJsonValue } from '../util/json.js';
import { isInside, normaliseSpec, NOT_NORMAL } from '../util/paths.js';
import { didYouMean } from '../util/suggest.js';
import type { PipelineConfig, StepConfig, TestsConfig } from './config.js';
import type { JsonObject } from './types.js';
import { DATA_FIELDS, validateDataFields } from './validate-data.js';
import { RESERVED_NAMES } from './names.js';

// Words the CLI reads as subcommands; a step may not take one of these names, so `batch NAME`
// is never ambiguous.
export { RESERVED_NAMES };

/** Fields every step has, whatever its kind. */
const COMMON_FIELDS = ['inputs', 'outputs', 'dependsOn', 'params', 'env', 'description', 'timeout', 'retries', 'cache', ...DATA_FIELDS] as const;
const RESERVED: ReadonlySet<string> = new Set(RESERVED_NAMES);
const MANAGED_OUTPUT = /^(\.cache|\.git|node_modules|logs)(\/|$)/;
const TOP_FIELDS = ['steps', 'tests', 'cache', 'executor'] as const;
const TESTS_FIELDS = ['files', 'inputs', 'timeout'] as const;
const CACHE_FIELDS = ['maxSize', 'enabled', 'remote'] as const;
const REMOTE_FIELDS = ['url', 'team', 'readOnly', 'timeoutMs'] as const;

export const DEFAULT_CACHE_BYTES = 5 * 1024 ** 3;

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:@+-]*$/;
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A spec the checks in `Checker.spec` accept unchanged: it starts with a printable ASCII
 * character other than `/` (so it is not blank and not absolute; `\` and non-ASCII starts,
 * where Windows drive letters and Unicode blanks live, take the full check) and normalising
 * would not change it (so it has no `.` or `..` segment either). */
const POSIX = path.sep === '/';
function isPlainSpec(raw: string): boolean {
  const c = raw.charCodeAt(0);
  return POSIX && c > 32 && c < 127 && c !== 47 && c !== 92 && !NOT_NORMAL.test(raw);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What validation needs to know of a kind of step (kinds/kind.ts implements it; the loader
 * is handed the list, so this core module never imports the kinds above it). */
export interface KindRules {
  /** The field that names the kind and holds its main value (`run`, `command`, `python`). */
  readonly field: string;
  /** All of its fields, `field` first. */
  readonly fields: readonly string[];
  /** How an error names it: "`run` (a module path)". */
  readonly describe: string;
  /** Checks the kind's fields of one step (`where` is 'step "NAME"'); returns them as the
   * step's `spec`. Fails through `c`, naming the file, step and field. */
  validate(raw: Record<string, unknown>, where: string, c: Checker): JsonObject;
}

/** The fields a Batchfile may use: common ones, and each kind's. */
interface FieldTable {
  kinds: readonly KindRules[];
  all: readonly string[];
  allSet: ReadonlySet<string>;
  /** Which kind a kind-specific field belongs to. */
  owner: ReadonlyMap<string, KindRules>;
}

function fieldTable(kinds: readonly KindRules[]): FieldTable {
  const all = [...kinds.map((k) => k.field), ...COMMON_FIELDS, ...kinds.flatMap((k) => k.fields.filter((f) => f !== k.field))];
  const owner = new Map(kinds.flatMap((k) => k.fields.map((f) => [f, k] as const)));
  return { kinds, all, allSet: new Set(all), owner };
}

/** Joins kinds' descriptions: "a, b or c". */
function listOr(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/** Checks fields of a Batchfile and fails naming the file, the step and the field. */
export class Checker {
  constructor(
    readonly file: string,
    readonly root: string,
  ) {}

  fail(where: string, msg: string): never {
    throw new BatchError(`${this.file}: ${where}: ${msg}`, 2);
  }

  unknownFields(obj: Record<string, unknown>, allowed: readonly string[], where: string, known: ReadonlySet<string> = new Set(allowed)): void {
    for (const k in obj) {
      if (!Object.hasOwn(obj, k)) continue;
      if (!known.has(k)) {
        this.fail(where, `unknown field "${k}"${didYouMean(k, allowed)}; allowed: ${allowed.join(', ')}`);
      }
    }
  }

  // `where` and `field` are joined only to report a failure: a valid Batchfile of 10,000
  // steps then builds no message strings at all.
  stringList(v: unknown, where: string, field = ''): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(where + field, 'must be an array of strings');
    for (const x of v) if (typeof x !== 'string') this.fail(where + field, 'must be an array of strings');
    return v as string[];
  }

  /** Path specs stay inside the project: no absolute paths, no `..` escapes. */
  pathList(v: unknown, where: string, field = ''): string[] {
    const raws = this.stringList(v, where, field);
    let specs: string[] | undefined;
    for (let i = 0; i < raws.length; i++) {
      const raw = raws[i]!;
      // Nearly every spec is already a plain relative path (~120,000 in a 10,000-step
      // Batchfile): one test says so, and the list is then returned as it is.
      const spec = isPlainSpec(raw) ? raw : this.spec(raw, `${where}${field}[${i}]`);
      if (spec !== raw) specs ??= raws.slice(0, i);
      specs?.push(spec);
    }
    return specs ?? raws;
  }

  private spec(raw: string, where: string): string {
    if (raw.trim() === '') this.fail(where, 'is an empty path');
    if (path.isAbsolute(raw)) this.fail(where, `"${raw}" is absolute; paths are relative to the project root`);
    const spec = normaliseSpec(raw);
    if (!isInside(spec)) this.fail(where, `"${raw}" points outside the project`);
    return spec;
  }

  duration(v: unknown, where: string, field = ''): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' && typeof v !== 'string') this.fail(where + field, 'must be seconds (a number) or a string like "90s"');
    const ms = parseDuration(v);
    if (ms === undefined) this.fail(where + field, `${JSON.stringify(v)} is not a positive duration (seconds, or "250ms", "90s", "5m", "1h")`);
    return ms;
  }
}

function validateStep(c: Checker, name: string, raw: unknown, allNames: Set<string>, fields: FieldTable): StepConfig {
  const where = `step "${name}"`;
  if (!NAME_RE.test(name)) {
    c.fail(where, 'a step name may contain letters, digits and _ . : @ + - and must not start with a punctuation mark');
  }
  if (RESERVED.has(name)) {
    c.fail(where, `"${name}" is a batch subcommand; rename the step (reserved: ${RESERVED_NAMES.join(', ')})`);
  }
  if (!isObject(raw)) c.fail(where, `must be an object with ${listOr(fields.kinds.map((k) => `\`${k.field}\``))}`);
  c.unknownFields(raw, fields.all, where, fields.allSet);
  const kind = stepKind(c, where, raw, fields);
  const spec = kind.validate(raw, where, c);

  const dependsOn = c.stringList(raw.dependsOn, where, '.dependsOn');
  for (const d of dependsOn) {
    if (!allNames.has(d)) c.fail(`${where}.dependsOn`, `no step is named "${d}"${didYouMean(d, allNames)}`);
    if (d === name) c.fail(`${where}.dependsOn`, 'a step cannot depend on itself');
  }
  const params = raw.params ?? {};
  if (raw.params !== undefined && (!isObject(params) || !isJsonValue(params))) c.fail(`${where}.params`, 'must be a plain JSON object (no functions, undefined, NaN or class instances)');
  const env = c.stringList(raw.env, where, '.env');
  for (const e of env) if (!ENV_RE.test(e)) c.fail(`${where}.env`, `"${e}" is not an environment variable name`);
  if (raw.description !== undefined && typeof raw.description !== 'string') c.fail(`${where}.description`, 'must be a string');
  const retries = raw.retries ?? 0;
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 100) {
    c.fail(`${where}.retries`, 'must be an integer from 0 to 100');
  }
  if (raw.cache !== undefined && typeof raw.cache !== 'boolean') c.fail(`${where}.cache`, 'must be true or false');

  const step: StepConfig = {
    name,
    kind: kind.field,
    spec,
    inputs: c.pathList(raw.inputs, where, '.inputs'),
    outputs: c.pathList(raw.outputs, where, '.outputs'),
    dependsOn,
    params: params as JsonObject,
    env,
    retries,
    cache: raw.cache !== false,
  };
  for (let i = 0; i < step.outputs.length; i++) {
    const o = step.outputs[i]!;
    if (o === '.') c.fail(`${where}.outputs[${i}]`, 'the project root itself cannot be an output');
    if (MANAGED_OUTPUT.test(o)) c.fail(`${where}.outputs[${i}]`, `"${o}" is managed by batch or git and cannot be an output`);
  }
  if (typeof raw.description === 'string') step.description = raw.description;
  const timeoutMs = c.duration(raw.timeout, where, '.timeout');
  if (timeoutMs !== undefined) step.timeoutMs = timeoutMs;
  validateDataFields(c, where, raw, step);
  return step;
}

/** The one kind whose field the step has; another kind's own fields are refused. */
function stepKind(c: Checker, where: string, raw: Record<string, unknown>, fields: FieldTable): KindRules {
  let kind: KindRules | undefined;
  let count = 0;
  for (const k of fields.kinds) {
    if (raw[k.field] === undefined) continue;
    kind = k;
    count++;
  }
  if (count !== 1 || !kind) c.fail(where, `needs exactly one of ${listOr(fields.kinds.map((k) => k.describe))}`);
  for (const f in raw) {
    const owner = fields.owner.get(f);
    if (owner && owner !== kind && raw[f] !== undefined) c.fail(where, `field "${f}" belongs to \`${owner.field}\` steps`);
  }
  return kind;
}

function validateTests(c: Checker, raw: unknown): TestsConfig {
  if (!isObject(raw)) c.fail('tests', 'must be an object like { files: ["tests/integrity/**/*.test.ts"] }');
  c.unknownFields(raw, TESTS_FIELDS, 'tests');
  const files = c.pathList(raw.files, 'tests.files');
  if (files.length === 0) c.fail('tests.files', 'must name at least one test file or glob');
  const tests: TestsConfig = { files };
  if (raw.inputs !== undefined) tests.inputs = c.pathList(raw.inputs, 'tests.inputs');
  const t = c.duration(raw.timeout, 'tests.timeout');
  if (t !== undefined) tests.timeoutMs = t;
  return tests;
}

/** Turns the Batchfile's default export into checked, plain configuration. Every error
 * names the file, the step and the field. */
export function validateBatch(value: unknown, file: string, root: string, kinds: readonly KindRules[]): PipelineConfig {
  const rel = path.relative(root, file) || file;
  const c: Checker = new Checker(rel, root);
  if (!isObject(value)) c.fail('default export', 'must be defineBatch({ steps: { ... } })');
  c.unknownFields(value, TOP_FIELDS, 'defineBatch');
  if (!isObject(value.steps)) c.fail('steps', 'must be an object of named steps');
  const names = new Set(Object.keys(value.steps));
  if (names.size === 0) c.fail('steps', 'declares no steps');
  const steps = new Map<string, StepConfig>();
  const fields = fieldTable(kinds);
  for (const name of names) steps.set(name, validateStep(c, name, value.steps[name], names, fields));

  const cache = { enabled: true, maxBytes: DEFAULT_CACHE_BYTES };
  if (value.cache !== undefined) {
    if (!isObject(value.cache)) c.fail('cache', 'must be an object like { maxSize: "2GB" }');
    c.unknownFields(value.cache, CACHE_FIELDS, 'cache');
    if (value.cache.enabled !== undefined) {
      if (typeof value.cache.enabled !== 'boolean') c.fail('cache.enabled', 'must be true or false');
      cache.enabled = value.cache.enabled;
    }
    if (value.cache.maxSize !== undefined) {
      const m = value.cache.maxSize;
      const bytes = typeof m === 'number' || typeof m === 'string' ? parseSize(m) : undefined;
      if (bytes === undefined) c.fail('cache.maxSize', `${JSON.stringify(m)} is not a size like "2GB" or a number of bytes`);
      cache.maxBytes = bytes;
    }
  }
  const remote = value.cache !== undefined && isObject(value.cache) && value.cache.remote !== undefined ? validateRemote(c, value.cache.remote) : undefined;
  const config: PipelineConfig = { root, file, steps, cache: remote ? { ...cache, remote } : cache };
  if (value.tests !== undefined) config.tests = validateTests(c, value.tests);
  if (value.executor !== undefined) {
    if (typeof value.executor !== 'string' || !/^(local|rediss?:\/\/.+)$/.test(value.executor)) {
      c.fail('executor', `${JSON.stringify(value.executor)} must be "local" or a Redis URL like "redis://HOST:6379" (docs/distributed.md)`);
    }
    if (value.executor !== 'local') config.executor = value.executor;
  }
  return config;
}

/** `cache.remote`: every field optional (flags and environment variables may supply them). */
function validateRemote(c: Checker, v: unknown): RemoteDef {
  if (!isObject(v)) c.fail('cache.remote', 'must be an object like { url: "https://cache.example.com", team: "my-team" }');
  c.unknownFields(v, REMOTE_FIELDS, 'cache.remote');
  const out: RemoteDef = { readOnly: false };
  if (v.url !== undefined) {
    if (typeof v.url !== 'string') c.fail('cache.remote.url', 'must be a string');
    const why = badRemoteUrl(v.url);
    if (why) c.fail('cache.remote.url', why);
    out.url = v.url;
  }
  if (v.team !== undefined) {
    if (typeof v.team !== 'string') c.fail('cache.remote.team', 'must be a string');
    const why = badTeam(v.team);
    if (why) c.fail('cache.remote.team', why);
    out.team = v.team;
  }
  if (v.readOnly !== undefined) {
    if (typeof v.readOnly !== 'boolean') c.fail('cache.remote.readOnly', 'must be true or false');
    out.readOnly = v.readOnly;
  }
  if (v.timeoutMs !== undefined) {
    const t = v.timeoutMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_MS) c.fail('cache.remote.timeoutMs', `must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
    out.timeoutMs = t;
  }
  return out;
}
