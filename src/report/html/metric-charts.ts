// The report's metric charts: each metric a step recorded lately (when it ran or was restored),
// one point per run that recorded it, flagged when its newest value is out of the bounds the
// Batchfile declares.
import type { MetricBound } from '../../batchfile/types.js';
import { boundBreach } from '../../history/metrics.js';
import { timeLabels } from './charts.js';
import type { MetricPoint } from './executions.js';

export interface MetricChart {
  step: string;
  metric: string;
  /** Per run that recorded the metric, oldest → newest: its id, a label, the value. */
  runs: string[];
  labels: string[];
  values: number[];
  bound?: MetricBound;
  /** Why the newest value is out of bounds. */
  breach?: string;
  flagged: boolean;
}

/** At most this many metric charts (flagged first). */
export const MAX_METRIC_CHARTS = 24;

function chartsOfStep(step: string, points: readonly MetricPoint[], bounds: Record<string, MetricBound> | undefined): MetricChart[] {
  const charts = new Map<string, MetricChart & { at: number[] }>();
  for (const e of points) {
    for (const [metric, v] of Object.entries(e.metrics)) {
      let c = charts.get(metric);
      if (!c) {
        c = { step, metric, runs: [], labels: [], values: [], at: [], flagged: false };
        const bound = bounds?.[metric];
        if (bound) c.bound = bound;
        charts.set(metric, c);
      }
      c.runs.push(e.runId);
      c.at.push(e.at);
      c.values.push(v);
    }
  }
  return [...charts.values()].map(({ at, ...c }) => {
    c.labels = timeLabels(at);
    const why = c.bound ? boundBreach(c.values[c.values.length - 1]!, c.values[c.values.length - 2], c.bound) : undefined;
    if (why) {
      c.breach = why;
      c.flagged = true;
    }
    return c;
  });
}

export function metricCharts(byStep: ReadonlyMap<string, readonly MetricPoint[]>, boundsOf: (step: string) => Record<string, MetricBound> | undefined): MetricChart[] {
  const charts: MetricChart[] = [];
  for (const [step, points] of byStep) charts.push(...chartsOfStep(step, points, boundsOf(step)));
  return charts.sort((a, b) => Number(b.flagged) - Number(a.flagged) || (a.step === b.step ? (a.metric < b.metric ? -1 : 1) : a.step < b.step ? -1 : 1)).slice(0, MAX_METRIC_CHARTS);
}
