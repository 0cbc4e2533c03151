// What the run report needs from earlier runs' step results, kept per run in a small JSON
// file under .cache/report, so that the report after a run (a no-op above all) does not read
// back every result of the last full build from the store. A run's results never change once
// it ended, so a file keyed by run id stays true; files of runs that left the chart window
// are removed, and a missing or unreadable file is rebuilt from the store.
import fs from 'node:fs';
import path from 'node:path';
import { resultsOf } from '../../history/query.js';
import type { Store } from '../../store/store.js';
import type { StepResult } from '../../store/types.js';

/** The fields of a step result the report reads for earlier runs. */
export type PastResult = Pick<StepResult, 'name' | 'action' | 'status' | 'durationMs'> & { logFile?: string; metrics?: Record<string, number> };

/** Bump when PastResult changes shape: older files are then ignored. */
const FORMAT = 2;

/** Only results the report can use: executions (charts) and results with a log (links). */
export function pastResults(results: Iterable<StepResult>): PastResult[] {
  const out: PastResult[] = [];
  for (const r of results) {
    if (r.action !== 'ran' && !r.logFile && !r.metrics) continue;
    const p: PastResult = { name: r.name, action: r.action, status: r.status, durationMs: r.durationMs };
    if (r.logFile) p.logFile = r.logFile;
    if (r.metrics && r.status === 'PASS') p.metrics = r.metrics;
    out.push(p);
  }
  return out;
}

function fileOf(dir: string, runId: string): string {
  return path.join(dir, `${runId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
}

/** What the charts' scan needs of an earlier run's record (html/executions.ts). */
export interface RunHead {
  id: string;
  startedAt: number;
  /** It executed or restored something: its results are read. */
  readable: boolean;
}

/** What a long-lived process (the daemon) keeps of the files between reports: the same
 * results, read once (a run's results never change; keyed by the store they came from); the
 * heads of the runs the last scan went through (a run's record no longer changes once a later
 * run holds the lock); and the removal of the files of runs that left the charts, done once the
 * client has its answer (runPendingPrune): they are only a cache (a missing one is read from the
 * store), and removing a few files took ~2 ms of a served run's reply on a busy disk. */
export interface HeldPastRuns {
  store: Store | undefined;
  runs: Map<string, PastResult[]>;
  heads?: Map<string, RunHead>;
  pendingPrune?: () => void;
}

/** Removes what the last report left to remove (HeldPastRuns). */
export function runPendingPrune(held: HeldPastRuns): void {
  const p = held.pendingPrune;
  held.pendingPrune = undefined;
  p?.();
}

export class PastRunFiles {
  private readonly dir: string | undefined;
  private readonly held: Map<string, PastResult[]> | undefined;
  private readonly kept: HeldPastRuns | undefined;

  constructor(
    private readonly store: Store | undefined,
    cacheDir: string | undefined,
    held?: HeldPastRuns,
  ) {
    this.dir = cacheDir ? path.join(cacheDir, 'report') : undefined;
    if (held && held.store !== store) {
      held.store = store;
      held.runs.clear();
      held.heads?.clear();
    }
    this.held = held?.runs;
    this.kept = held;
  }

  /** The run heads a long-lived process keeps (undefined in a one-shot process). */
  get heads(): Map<string, RunHead> | undefined {
    if (!this.kept) return undefined;
    return (this.kept.heads ??= new Map());
  }

  /** An earlier run's results the report reads: as held, else from the cache file, else
   * from the store (then written to the cache). */
  get(runId: string): PastResult[] {
    const held = this.held?.get(runId);
    if (held) return held;
    if (this.dir) {
      try {
        const data = JSON.parse(fs.readFileSync(fileOf(this.dir, runId), 'utf8')) as { format: number; run: string; results: PastResult[] };
        if (data.format === FORMAT && data.run === runId && Array.isArray(data.results)) {
          this.held?.set(runId, data.results);
          return data.results;
        }
      } catch {
        // not cached yet (or unreadable): read the store
      }
    }
    const results = this.store ? pastResults(resultsOf(this.store, runId)) : [];
    this.put(runId, results);
    return results;
  }

  /** Caches a run's results (the run that just ended passes its own). Best effort: the
   * report never fails because its cache cannot be written. */
  put(runId: string, results: PastResult[]): void {
    this.held?.set(runId, results);
    if (!this.dir) return;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      const file = fileOf(this.dir, runId);
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ format: FORMAT, run: runId, results }));
      fs.renameSync(tmp, file);
    } catch {
      // read from the store next time
    }
  }

  /** Removes the files (and held results) of runs not in `keep`; a long-lived process's
   * files once its client has its answer (HeldPastRuns). */
  prune(keep: Iterable<string>): void {
    const ids = new Set(keep);
    if (this.held) for (const id of this.held.keys()) if (!ids.has(id)) this.held.delete(id);
    if (!this.dir) return;
    const dir = this.dir;
    const wanted = new Set([...ids].map((id) => path.basename(fileOf(dir, id))));
    // Listed now, under the lock: removed later, the list is still only files this run saw
    // (a run after the reply may have written its own since).
    const doomed = runFilesOutside(dir, wanted);
    if (this.kept) this.kept.pendingPrune = () => removeAll(dir, doomed);
    else removeAll(dir, doomed);
  }
}

/** A run's cache file (`<run id>.json`, fileOf), or one a killed writer left (`….<pid>.tmp`).
 * The folder holds other files: the unchanged report's marker (report/unchanged-report.ts,
 * written after this prune is decided) must outlive a prune done after the reply. */
const RUN_FILE = /^\d{8}T\d{9}Z-[A-Za-z0-9_.-]*\.json(\.\d+\.tmp)?$/;

/** The run files in `dir` not named in `wanted`. */
function runFilesOutside(dir: string, wanted: ReadonlySet<string>): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => RUN_FILE.test(n) && !wanted.has(n));
  } catch {
    return [];
  }
}

function removeAll(dir: string, names: readonly string[]): void {
  for (const n of names) {
    try {
      fs.rmSync(path.join(dir, n), { force: true });
    } catch {
      // next time
    }
  }
}
