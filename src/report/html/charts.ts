// The duration chart of each step: one point per execution among its last CHART_EXECUTIONS
// (x is the execution's place in that list, labelled with its run's time), so an execution
// is drawn however many runs passed without one.
import { median } from '../../history/stats.js';
import type { Execution } from './executions.js';

/** At most this many charts (flagged and slowest steps first), so a thousand-step pipeline
 * still gives a page that opens quickly. */
export const MAX_CHARTS = 24;

export interface ChartSeries {
  step: string;
  /** Per execution, oldest → newest: its run's id and a short label of its time. */
  runs: string[];
  labels: string[];
  /** Per execution: the duration when it passed (else null). */
  durations: (number | null)[];
  /** Per execution: the duration when it failed (drawn apart). */
  failed: (number | null)[];
  /** Per execution: the duration when the rule flagged it as slower at the time. */
  slower: (number | null)[];
  medianMs?: number;
  flagged: boolean;
}

/** Chart labels: the time of day when every point is from one day, else the date. */
export function timeLabels(times: readonly number[]): string[] {
  const p = (n: number): string => String(n).padStart(2, '0');
  const day = (ms: number): string => {
    const d = new Date(ms);
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  };
  const oneDay = new Set(times.map(day)).size <= 1;
  return times.map((ms) => {
    const d = new Date(ms);
    return oneDay ? `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` : `${d.getMonth() + 1}/${d.getDate()} ${p(d.getHours())}:${p(d.getMinutes())}`;
  });
}

/** What the chart needs of a step in the report's run. */
export interface ChartStep {
  name: string;
  /** Flagged as slower in this run (the summary's verdict, which the chart repeats). */
  slower: boolean;
  /** Its median as of this run, when it ran and passed now. */
  medianMs?: number;
}

function series(step: ChartStep, execs: readonly Execution[], runId: string): ChartSeries {
  const s: ChartSeries = { step: step.name, runs: [], labels: timeLabels(execs.map((e) => e.at)), durations: [], failed: [], slower: [], flagged: step.slower };
  for (const e of execs) {
    const ok = e.status === 'PASS' ? e.durationMs : null;
    s.runs.push(e.runId);
    s.durations.push(ok);
    s.failed.push(ok === null ? e.durationMs : null);
    const slow = e.runId === runId ? step.slower : e.slower;
    s.slower.push(slow && ok !== null ? ok : null);
  }
  // The step's median as of this run when it ran now, else over the passed executions shown.
  const med = step.medianMs ?? median(s.durations.filter((d): d is number => d !== null));
  if (med !== undefined) s.medianMs = med;
  return s;
}

/** One series per step with executions: flagged steps first, then the slowest. */
export function chartSeries(steps: readonly ChartStep[], byStep: ReadonlyMap<string, readonly Execution[]>, runId: string): { shown: ChartSeries[]; omitted: number } {
  const candidates: { step: ChartStep; execs: readonly Execution[]; max: number }[] = [];
  for (const step of steps) {
    const execs = byStep.get(step.name);
    if (execs && execs.length > 0) candidates.push({ step, execs, max: Math.max(...execs.map((e) => e.durationMs)) });
  }
  candidates.sort((a, b) => Number(b.step.slower) - Number(a.step.slower) || b.max - a.max);
  const chosen = candidates.slice(0, MAX_CHARTS);
  return { shown: chosen.map(({ step, execs }) => series(step, execs, runId)), omitted: candidates.length - chosen.length };
}
