// Two runs side by side, step by step.
import type { Store } from '../store/store.js';
import type { RunRecord, StepAction, StepStatus } from '../store/types.js';
import { resolveRun, resultsOf } from './query.js';

export interface CompareSide {
  status: StepStatus;
  action: StepAction;
  durationMs: number;
  reason: string;
  cpuMs?: number;
  peakRssBytes?: number;
}

export interface CompareRow {
  step: string;
  a?: CompareSide;
  b?: CompareSide;
  /** b − a, when the step ran (and passed) in both. */
  deltaMs?: number;
  /** b / a, when both ran and a took more than 0 ms. */
  ratio?: number;
}

export interface Comparison {
  a: RunRecord;
  b: RunRecord;
  rows: CompareRow[];
}

function side(r: { status: StepStatus; action: StepAction; durationMs: number; reason: string; cpuMs?: number; peakRssBytes?: number }): CompareSide {
  const s: CompareSide = { status: r.status, action: r.action, durationMs: r.durationMs, reason: r.reason };
  if (r.cpuMs !== undefined) s.cpuMs = r.cpuMs;
  if (r.peakRssBytes !== undefined) s.peakRssBytes = r.peakRssBytes;
  return s;
}

/** Compares run `refA` with run `refB` (see resolveRun for what a ref may be). Steps are in
 * B's order, then those only A has. */
export function compareRuns(store: Store, refA: string, refB: string): Comparison {
  const a = resolveRun(store, refA);
  const b = resolveRun(store, refB);
  const ra = new Map(resultsOf(store, a.id).map((r) => [r.name, r]));
  const rb = resultsOf(store, b.id);
  const rows: CompareRow[] = [];
  const seen = new Set<string>();
  const timed = (s?: CompareSide): s is CompareSide => s !== undefined && s.action === 'ran' && s.status === 'PASS';
  const add = (step: string): void => {
    seen.add(step);
    const x = ra.get(step);
    const y = rb.find((r) => r.name === step);
    const row: CompareRow = { step };
    if (x) row.a = side(x);
    if (y) row.b = side(y);
    if (timed(row.a) && timed(row.b)) {
      row.deltaMs = row.b.durationMs - row.a.durationMs;
      if (row.a.durationMs > 0) row.ratio = row.b.durationMs / row.a.durationMs;
    }
    rows.push(row);
  };
  for (const r of rb) add(r.name);
  for (const name of ra.keys()) if (!seen.has(name)) add(name);
  return { a, b, rows };
}
