export { defineBatch, defineStep } from './batchfile/define.js';
export type {
  BatchDef,
  CacheDef,
  CommandStepDef,
  JsonObject,
  JsonPrimitive,
  JsonValue,
  PythonStepDef,
  RunStepDef,
  StepCommon,
  StepContext,
  StepDef,
  StepFunction,
  TestsDef,
} from './batchfile/types.js';
