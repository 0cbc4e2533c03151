// Per-step trends: the latest passed execution against the median of the ones before it,
// judged by the regression rule in stats.ts.
import type { Store } from '../store/store.js';
import type { StepStatus } from '../store/types.js';
import { isTiming, scanSamples, type Sample } from './query.js';
import { judge, RULE, type Rule } from './stats.js';

/** One row of `batch trends` (and its --json): one field per column shown. */
export interface TrendRow {
  step: string;
  /** Executions found (passed and failed), newest first, at most window + 1 passed. */
  samples: number;
  /** Newest passed execution. */
  latest?: { runId: string; durationMs: number; startedAt: number; commit?: string };
  /** The step's newest execution failed (its time is not used). */
  latestFailed?: { runId: string; status: StepStatus };
  medianMs?: number;
  madMs?: number;
  ratio?: number;
  thresholdMs?: number;
  /** Earlier passed executions the median is over. */
  baseline: number;
  slower: boolean;
  /** Passed durations oldest → newest, for sparklines. */
  series: number[];
}

export interface TrendOptions {
  rule?: Rule;
  /** Trends as of just before this run id (exclusive), e.g. for the previous state. */
  before?: string;
  steps?: ReadonlySet<string>;
}

export function trendOf(step: string, samples: readonly Sample[], rule: Rule = RULE): TrendRow {
  const passed = samples.filter(isTiming);
  const row: TrendRow = { step, samples: samples.length, baseline: 0, slower: false, series: passed.slice(0, rule.window + 1).map((s) => s.durationMs).reverse() };
  const newest = samples[0];
  if (newest && !isTiming(newest)) row.latestFailed = { runId: newest.runId, status: newest.status };
  const latest = passed[0];
  if (!latest) return row;
  row.latest = { runId: latest.runId, durationMs: latest.durationMs, startedAt: latest.startedAt, ...(latest.commit ? { commit: latest.commit } : {}) };
  const v = judge(latest.durationMs, passed.slice(1).map((s) => s.durationMs), rule);
  row.baseline = v.samples;
  row.slower = v.slower;
  if (v.median !== undefined) row.medianMs = v.median;
  if (v.mad !== undefined) row.madMs = v.mad;
  if (v.ratio !== undefined) row.ratio = v.ratio;
  if (v.thresholdMs !== undefined) row.thresholdMs = v.thresholdMs;
  return row;
}

/** One row per step of the pipeline (as the newest whole run recorded it). */
export function computeTrends(store: Store, opts: TrendOptions = {}): { rows: TrendRow[]; runsScanned: number } {
  const rule = opts.rule ?? RULE;
  const scan = scanSamples(store, { want: rule.window + 1, ...(opts.before !== undefined ? { before: opts.before } : {}), ...(opts.steps ? { steps: opts.steps } : {}) });
  const names = opts.steps ? [...opts.steps] : scan.order;
  return { rows: names.map((n) => trendOf(n, scan.samples.get(n) ?? [], rule)), runsScanned: scan.runsScanned };
}
