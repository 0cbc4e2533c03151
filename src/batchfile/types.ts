// Public types of a Batchfile: what users write, and what step modules receive.

import type { JsonObject, JsonValue } from '../util/json.js';

export type { JsonObject, JsonPrimitive, JsonValue } from '../util/json.js';

/** Fields shared by both kinds of step. `Names` is the union of step names, so a
 * `dependsOn` entry that names no step is a compile error. */
export interface StepCommon<Names extends string> {
  /** Files, folders or globs relative to the project root that the step reads. */
  inputs?: readonly string[];
  /** Files, folders or globs relative to the project root that the step writes. */
  outputs?: readonly string[];
  /** Steps that must finish first, beyond those inferred from inputs and outputs. */
  dependsOn?: readonly Names[];
  /** JSON parameters; part of the fingerprint; passed to `run` steps as `ctx.params`. */
  params?: JsonObject;
  /** Names of environment variables whose values count in the fingerprint (values are hashed, never stored). */
  env?: readonly string[];
  description?: string;
  /** Seconds (a number) or a duration string such as `"90s"`, `"5m"`, `"250ms"`. */
  timeout?: number | string;
  /** How many times to rerun a failed step before it counts as FAIL. */
  retries?: number;
  /** Set to false to keep this step's outputs out of the output cache. */
  cache?: boolean;
  /** One step per match: a glob (`'data/raw/*.csv'`, listed again every run) or a list of
   * values. Each instance is named `STEP:KEY` (the match's stem, or the value); `{path}`,
   * `{name}`, `{stem}` (globs), `{value}` (lists) and `{key}` are replaced in inputs, outputs,
   * command and params. */
  forEach?: string | readonly string[];
  /** Parameters from keys of YAML, JSON or TOML files: `{ 'params.yaml': ['train.n_est'] }`.
   * Only those keys' values count in the fingerprint; they join `params` (nested by the key's
   * dots), so `run` steps get them in `ctx.params`, `command` steps in `BATCH_PARAMS`. */
  paramsFrom?: { readonly [file: string]: readonly string[] };
  /** Output files holding metrics (JSON or CSV of name → number), recorded with each run that
   * ran the step: `batch metrics`, `batch trends`, the report. */
  metrics?: readonly string[];
  /** Bounds on this step's metrics, flagged by `batch trends` and the report. */
  metricBounds?: { readonly [metric: string]: MetricBound };
}

/** When a metric's latest value counts as out of bounds. Every field is optional; `maxDrop`
 * and `maxRise` compare with the value recorded by the run before (absolute change). */
export interface MetricBound {
  min?: number;
  max?: number;
  maxDrop?: number;
  maxRise?: number;
}

export interface RunStepDef<Names extends string> extends StepCommon<Names> {
  /** Path of a TS or JS module whose default export is `async (ctx) => void`; runs in a worker thread. */
  run: string;
  command?: never;
  python?: never;
}

export interface CommandStepDef<Names extends string> extends StepCommon<Names> {
  /** A shell command string, or an argv array run without a shell. Runs in the project root. */
  command: string | readonly string[];
  run?: never;
  python?: never;
}

export interface PythonStepDef<Names extends string> extends StepCommon<Names> {
  /** Path of a Python script, run as `python3 SCRIPT ...args` in the project root. Its code
   * fingerprint follows the script's local imports to the project's modules. */
  python: string;
  /** The script's command-line arguments (part of the step's definition). */
  args?: readonly string[];
  run?: never;
  command?: never;
}

/** A step of any kind (src/kinds/: one module each). */
export type StepDef<Names extends string = string> = RunStepDef<Names> | CommandStepDef<Names> | PythonStepDef<Names>;

export interface TestsDef {
  /** Vitest files (globs) that check the pipeline's results after the steps. */
  files: readonly string[];
  /** Files the tests read; the test phase reruns when they change. Default: every step output. */
  inputs?: readonly string[];
  /** Seconds before the test phase is stopped. */
  timeout?: number | string;
}

export interface CacheDef {
  /** Upper bound of the output cache, e.g. `"2GB"`, `"500MB"` or a number of bytes. */
  maxSize?: string | number;
  /** Set to false to turn the output cache off for every step. */
  enabled?: boolean;
  /** A shared remote cache (Turborepo's remote-cache API); docs/remote-cache.md. */
  remote?: RemoteCacheDef;
}

export interface RemoteCacheDef {
  /** Server address, e.g. `"https://cache.example.com"` (no token in it: BATCH_REMOTE_CACHE_TOKEN). */
  url?: string;
  /** Team slug: the namespace on the server. */
  team?: string;
  /** Restore from the remote cache, never upload to it (e.g. on laptops). */
  readOnly?: boolean;
  /** Longest wait for progress of one request, in milliseconds (default 10000). */
  timeoutMs?: number;
}

export interface BatchDef<Names extends string = string> {
  steps: { [K in Names]: StepDef<Names> };
  tests?: TestsDef;
  cache?: CacheDef;
  /** `"redis://HOST:PORT"`: send the steps to `batch worker`s through that Redis
   * (docs/distributed.md); `--executor` overrides it. Default: run them here. */
  executor?: string;
}

/** The match an instance of a `forEach` step was made for. */
export interface ForEachMatch {
  /** The instance's key: the file's stem, or the value. */
  key: string;
  /** For a glob: the matched file (project-relative), its name and its stem. */
  path?: string;
  name?: string;
  stem?: string;
  /** For a list of values: the value. */
  value?: string;
}

/** Nested params type of dotted keys: `ParamsOf<'train.n_est' | 'train.seed'>` is
 * `{ train: { n_est: JsonValue; seed: JsonValue } }` (the values' types are not known to
 * TypeScript: they are in the params file). Use with `defineStep<ParamsOf<...>>`. */
export type ParamsOf<K extends string> = UnionToIntersection<K extends string ? Nest<K> : never> extends infer T
  ? { [P in keyof T]: T[P] } & JsonObject
  : never;
type Nest<K extends string> = K extends `${infer H}.${infer R}` ? { [P in H]: Nest<R> } : { [P in K]: JsonValue };
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** What a `run` step's default export receives. */
export interface StepContext<P extends JsonObject = JsonObject> {
  /** The step's name. */
  step: string;
  /** For an instance of a `forEach` step: its match. */
  match?: ForEachMatch;
  /** The step's `params`, as JSON. */
  params: P;
  /** Absolute paths of the input files the step's inputs resolved to (globs and folders expanded), sorted. */
  inputs: string[];
  /** Absolute paths of the step's declared outputs (as declared: globs stay patterns). */
  outputs: string[];
  /** Absolute path of the project root. */
  root: string;
  /** Id of the current run. */
  runId: string;
  /** Append a line to the step's log. */
  log(message: string): void;
  /** Aborted when the step times out or the run is interrupted. */
  signal: AbortSignal;
}

export type StepFunction<P extends JsonObject = JsonObject> = (ctx: StepContext<P>) => void | Promise<void>;
