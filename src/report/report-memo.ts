// The step rows of the last report a long-lived process wrote (the daemon), kept for its next
// report. Rendering a 1,000-step report read each step's state and the result and run that
// produced it back from LMDB (~20 ms of a served change-one run), though a run that executes
// one step changes one row. A row is a function of the step's place in the config, its result
// in the report's run, the store (its state, and the immutable result and run it names) and
// whether that result's log file exists. So a row is reused only when:
// - nobody else held the project lock since the report that made it: every process that
//   writes the store holds the lock and moves its generation (util/lock-generation.ts), so the
//   store changed only by this process's runs since;
// - the same store object and the same config object (the daemon's config is the same object
//   while nothing changed, app/materialize.ts);
// - the step was, in both runs, not selected or plainly up to date (no state written; a step
//   that ran, was restored, failed or was blocked is rendered again, then and the next time);
// - its earlier log still exists exactly as before (checked at every reuse: logs are the
//   user's to delete).
// Anything else renders the row in full; what is rendered is the same either way
// (tests/engine/report/report-memo.test.ts compares the two byte for byte).
import type { StepResult } from '../store/types.js';
import { isPlainUpToDate } from '../store/types.js';
import type { Store } from '../store/store.js';
import type { ReportStep } from './html/report-step.js';
import { runPendingPrune, type HeldPastRuns } from './html/past-runs.js';

/** What a reusable row's step was in its run: not selected, or plainly up to date. */
export type RowKind = 'unselected' | 'plain';

export interface MemoRow {
  kind: RowKind;
  /** Frozen: reports share it (and renderers cache its text by identity). */
  row: Readonly<ReportStep>;
  /** The log of the execution whose figures the row shows, and whether it existed then. */
  producerLog?: string;
  logShown: boolean;
}

export type MemoRows = ReadonlyMap<string, MemoRow>;

/** A step's kind for reuse; undefined when its row must be rendered afresh. */
export function rowKind(r: StepResult | undefined): RowKind | undefined {
  if (r === undefined) return 'unselected';
  return isPlainUpToDate(r) ? 'plain' : undefined;
}

/** Where a report is written: the store, the config and the lock generations of its run. */
export interface MemoPlace {
  store: Store;
  config: object;
  /** The lock's generation before this run took it, and the one it wrote. */
  lock: { before: string; mine: string };
}

export class ReportMemo {
  private held: { generation: string; store: Store; config: object; rows: MemoRows } | undefined;
  /** Earlier runs' results the charts read (html/past-runs.ts): a run's never change. */
  readonly pastRuns: HeldPastRuns = { store: undefined, runs: new Map() };

  /** The rows still true for a report at `at`, or undefined. Taken: a report that fails to
   * keep new ones leaves none behind. */
  take(at: MemoPlace): MemoRows | undefined {
    const h = this.held;
    this.held = undefined;
    if (!h || h.generation === '' || h.generation !== at.lock.before || h.store !== at.store || h.config !== at.config) return undefined;
    return h.rows;
  }

  /** Keeps a report's reusable rows, for the next report of this process. */
  keep(at: MemoPlace, rows: MemoRows): void {
    this.held = at.lock.mine === '' ? undefined : { generation: at.lock.mine, store: at.store, config: at.config, rows };
  }

  /** Once the client has its answer: the work the last report left for then (the removal of
   * cache files of runs that left the charts, html/past-runs.ts). */
  afterReply(): void {
    runPendingPrune(this.pastRuns);
  }

  /** A run that kept the report in place (unchanged-report.ts): the rows still true after it
   * (a row whose step is of the same kind now), kept for the next report. */
  carry(at: MemoPlace, results: readonly StepResult[]): void {
    const rows = this.take(at);
    if (!rows) return;
    const byName = new Map(results.map((r) => [r.name, r]));
    const next = new Map<string, MemoRow>();
    for (const [name, m] of rows) {
      if (rowKind(byName.get(name)) === m.kind) next.set(name, m);
    }
    this.keep(at, next);
  }
}

/** A kept row still true now (see the rules above), or undefined. `exists`: whether a log
 * file exists now. */
export function reusedRow(m: MemoRow | undefined, kind: RowKind, exists: (logFile: string) => boolean): MemoRow | undefined {
  if (!m || m.kind !== kind) return undefined;
  if (m.producerLog !== undefined && exists(m.producerLog) !== m.logShown) return undefined;
  return m;
}

/** A row just rendered, frozen and kept for reuse. */
export function memoRow(row: ReportStep, kind: RowKind, producerLog: string | undefined): MemoRow {
  if (row.figuresFrom) Object.freeze(row.figuresFrom);
  const m: MemoRow = { kind, row: Object.freeze(row), logShown: row.log !== undefined };
  if (producerLog !== undefined) m.producerLog = producerLog;
  return m;
}
