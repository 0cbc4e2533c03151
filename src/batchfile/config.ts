import type { RemoteDef } from './remote-def.js';
import type { ForEachMatch, JsonObject, MetricBound } from './types.js';

/** A step after validation: plain, fully defaulted data. Nothing downstream touches user TS. */
export interface StepConfig {
  name: string;
  /** The step's kind: the field that defines it (`run`, `command`, `python`, …; kinds/). */
  kind: string;
  /** The kind's own fields as its module validated them (`{ run: 'steps/x.ts' }`,
   * `{ command: [...] }`, `{ python: 'src/train.py', args: [...] }`): only that module reads
   * them, and plan/step-key.ts hashes them as the step's definition. */
  spec: JsonObject;
  inputs: string[];
  outputs: string[];
  dependsOn: string[];
  params: JsonObject;
  env: string[];
  description?: string;
  timeoutMs?: number;
  retries: number;
  cache: boolean;
  /** As declared: a glob, or a list of values. Only on a declared step; its instances carry `match`. */
  forEach?: { glob: string } | { values: string[] };
  /** File → dotted keys. On an instance (a step the engine runs), the values are in `params`. */
  paramsFrom?: Record<string, string[]>;
  /** Project-relative metric files (each is one of the step's outputs). */
  metrics?: string[];
  metricBounds?: Record<string, MetricBound>;
  /** For an instance of a `forEach` step: the declared step's name and its match. */
  instanceOf?: string;
  match?: ForEachMatch;
}

export interface TestsConfig {
  files: string[];
  /** Undefined means: every step output. */
  inputs?: string[];
  timeoutMs?: number;
}

export interface PipelineConfig {
  /** Absolute project root. */
  root: string;
  /** Absolute path of the Batchfile. */
  file: string;
  /** Steps in declaration order. */
  steps: Map<string, StepConfig>;
  tests?: TestsConfig;
  cache: { enabled: boolean; maxBytes: number; remote?: RemoteDef };
  /** A Redis URL: steps go to `batch worker`s through it (absent: run here). */
  executor?: string;
}
