// One row of the report's step table: its own module, so that the report's memo of rows
// (report/report-memo.ts) and the data it is part of (data.ts, which uses the memo) do not
// import each other.
import type { StepAction, StepStatus } from '../../store/types.js';

/** One row of the report's step table as the page's script receives it (JSON in the page):
 * one field per column or chart it draws, a flat record, not a context passed around. */
export interface ReportStep {
  name: string;
  kind?: string;
  /** The step's `description` from the Batchfile. */
  description?: string;
  /** Selected in this run (a run of named targets leaves the others out). */
  selected: boolean;
  status?: StepStatus;
  action?: StepAction;
  reason?: string;
  durationMs?: number;
  /** "1.20s", "up to date", "not selected": the node label and table cell. */
  timeLabel: string;
  cpuMs?: number;
  peakRssBytes?: number;
  bytesRead?: number;
  bytesWritten?: number;
  attempts?: number;
  error?: string;
  /** Link to the step's log, relative to the report's folder. */
  log?: string;
  /** The log is from this earlier run: the execution that wrote the step's current outputs
   * (the step did not execute in this one). */
  logRun?: string;
  /** The step did not execute in this run: durationMs and the figures above are those of the
   * execution that wrote its current outputs, in this run (started at this ISO time). */
  figuresFrom?: { runId: string; startedAt: string };
  medianMs?: number;
  ratio?: number;
  slower: boolean;
  deps: string[];
  /** For an instance of a forEach step: that step's name (the picture boxes them together). */
  group?: string;
}
