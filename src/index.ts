export { defineBatch, defineStep } from './batchfile/define.js';
export type {
  BatchDef,
  CacheDef,
  CommandStepDef,
  JsonObject,
  JsonPrimitive,
  JsonValue,
  RunStepDef,
  StepCommon,
  StepContext,
  StepDef,
  StepFunction,
  TestsDef,
} from './batchfile/types.js';
