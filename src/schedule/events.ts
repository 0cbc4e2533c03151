import type { RunRecord, StepResult, TestPhaseResult } from '../store/types.js';

/** What a run tells its observers (recorder, terminal, watch). A discriminated union. */
export type RunEvent =
  | { type: 'run-start'; runId: string; steps: string[]; jobs: number; startedAt: number }
  | { type: 'step-start'; step: string; attempt: number; reasons: string[] }
  | { type: 'step-end'; result: StepResult }
  | { type: 'tests-start'; files: string[] }
  | { type: 'tests-end'; result: TestPhaseResult }
  | { type: 'warning'; message: string }
  | { type: 'run-end'; record: RunRecord; results: StepResult[] };

export type Emit = (event: RunEvent) => void;
