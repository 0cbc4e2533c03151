import type { RunStatus, StepResult } from '../store/types.js';
import { formatMs } from '../util/duration.js';
import { clean } from '../report/style.js';

export type CycleStatus = RunStatus | 'ERROR';

export interface CycleInfo {
  n: number;
  status: CycleStatus;
  durationMs: number;
  /** Changed paths; empty on the first cycle. */
  changed: readonly string[];
  results?: readonly StepResult[];
  /** Set when the cycle stopped before running (Batchfile or plan error). */
  error?: string;
}

function list(names: readonly string[], max: number): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, max).map(clean).join(', ');
  return names.length > max ? `${shown} (+${names.length - max} more)` : shown;
}

/** One compact, greppable line per cycle:
 *   cycle 3: PASS in 412ms | changed: data/a.csv | ran: clean, report | failed: none | 5 up to date */
export function cycleLine(c: CycleInfo): string {
  const parts = [`cycle ${c.n}: ${c.status} in ${formatMs(c.durationMs)}`, `changed: ${c.n === 1 && c.changed.length === 0 ? '(start)' : list(c.changed, 3)}`];
  if (c.error !== undefined) {
    parts.push(c.error);
    return parts.join(' | ');
  }
  const r = c.results ?? [];
  const ran = r.filter((x) => x.status === 'PASS' && (x.action === 'ran' || x.action === 'restored')).map((x) => (x.action === 'restored' ? `${x.name} (restored)` : x.name));
  const failed = r.filter((x) => x.status !== 'PASS').map((x) => x.name);
  const upToDate = r.filter((x) => x.action === 'up-to-date').length;
  parts.push(`ran: ${list(ran, 8)}`, `failed: ${list(failed, 8)}`, `${upToDate} up to date`);
  return parts.join(' | ');
}
