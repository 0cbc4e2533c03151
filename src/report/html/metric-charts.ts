// The report's metric charts: each metric a step recorded in the chart window, one value per
// run (null where the step did not record it), flagged when its newest value is out of the
// bounds the Batchfile declares.
import type { MetricBound } from '../../batchfile/types.js';
import { boundBreach } from '../../history/metrics.js';

export interface MetricChart {
  step: string;
  metric: string;
  /** Per run of `history.runs`. */
  values: (number | null)[];
  bound?: MetricBound;
  /** Why the newest value is out of bounds. */
  breach?: string;
  flagged: boolean;
}

/** At most this many metric charts (flagged first). */
export const MAX_METRIC_CHARTS = 24;

export function metricCharts(
  perRun: readonly ReadonlyMap<string, { name: string; metrics?: Record<string, number> }>[],
  boundsOf: (step: string) => Record<string, MetricBound> | undefined,
): MetricChart[] {
  const charts = new Map<string, MetricChart>();
  perRun.forEach((m, i) => {
    for (const r of m.values()) {
      for (const [metric, v] of Object.entries(r.metrics ?? {})) {
        const key = `${r.name}\0${metric}`;
        let c = charts.get(key);
        if (!c) {
          c = { step: r.name, metric, values: perRun.map(() => null), flagged: false };
          const bound = boundsOf(r.name)?.[metric];
          if (bound) c.bound = bound;
          charts.set(key, c);
        }
        c.values[i] = v;
      }
    }
  });
  for (const c of charts.values()) {
    if (!c.bound) continue;
    const seen = c.values.filter((v): v is number => v !== null);
    const why = boundBreach(seen[seen.length - 1]!, seen[seen.length - 2], c.bound);
    if (why) {
      c.breach = why;
      c.flagged = true;
    }
  }
  return [...charts.values()].sort((a, b) => Number(b.flagged) - Number(a.flagged) || (a.step === b.step ? (a.metric < b.metric ? -1 : 1) : a.step < b.step ? -1 : 1)).slice(0, MAX_METRIC_CHARTS);
}
