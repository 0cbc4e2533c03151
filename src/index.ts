export { defineBatch, defineStep } from './batchfile/define.js';
export type {
  BatchDef,
  CacheDef,
  CommandStepDef,
  ForEachMatch,
  JsonObject,
  JsonPrimitive,
  JsonValue,
  MetricBound,
  ParamsOf,
  PythonStepDef,
  RunStepDef,
  StepCommon,
  StepContext,
  StepDef,
  StepFunction,
  TestsDef,
} from './batchfile/types.js';
