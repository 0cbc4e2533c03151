// For a step that did not execute in the report's run: the execution that wrote its current
// outputs, whose log and figures the report shows. That is the run its state names (the
// store keeps the run of the last execution or restore that succeeded), not the step's newest
// execution, which may have failed since; a restore is followed to the run whose execution
// wrote what it restored.
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../../store/store.js';
import type { StepResult } from '../../store/types.js';

export interface Producer {
  runId: string;
  /** When its run started (ms since the epoch). */
  at: number;
  result: StepResult;
}

/** Restores of restores are followed this far (a cache entry names the run that executed). */
const MAX_HOPS = 4;

/** The run a restored result's outputs came from: its `fromRun`, or in records from before
 * that field, the run its reason names. */
function restoredFrom(r: StepResult): string | undefined {
  return r.fromRun ?? /\(outputs of run (\S+)\)/.exec(r.reason)?.[1];
}

/** The passed execution whose outputs the step has now. `own` is the step's result in the
 * report's run (`ownRun`), if it has one there; otherwise the step's state is asked. */
export function producerOf(store: Store | undefined, step: string, own: { runId: string; result: StepResult } | undefined): Producer | undefined {
  if (!store) return undefined;
  let runId: string | undefined;
  let result: StepResult | undefined;
  if (own?.result.action === 'restored') {
    runId = restoredFrom(own.result);
  } else {
    runId = store.state.get(step)?.runId;
    if (runId !== undefined && runId === own?.runId) result = own.result;
  }
  for (let hop = 0; hop < MAX_HOPS && runId !== undefined; hop++) {
    result ??= store.results.get([runId, step]);
    if (!result || result.status !== 'PASS') return undefined;
    if (result.action === 'ran') return { runId, at: store.runs.get(runId)?.startedAt ?? result.startedAt ?? 0, result };
    if (result.action !== 'restored') return undefined;
    runId = restoredFrom(result);
    result = undefined;
  }
  return undefined;
}

/** Whether log files exist, listing each run's log folder once instead of testing each file. */
export class LogFiles {
  private readonly listed = new Map<string, Set<string> | undefined>();

  constructor(private readonly root: string) {}

  exists(logFile: string): boolean {
    const cut = logFile.lastIndexOf('/');
    const dir = cut < 0 ? '.' : logFile.slice(0, cut);
    let names = this.listed.get(dir);
    if (!this.listed.has(dir)) {
      try {
        names = new Set(fs.readdirSync(path.resolve(this.root, dir)));
      } catch {
        names = undefined;
      }
      this.listed.set(dir, names);
    }
    return names !== undefined && names.has(logFile.slice(cut + 1));
  }
}
