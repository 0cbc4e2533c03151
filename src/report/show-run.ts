import type { CompiledBatchfile } from '../batchfile/load.js';
import type { Session, RunRequest } from '../app/session.js';
import { mark } from '../util/timing.js';
import { afterRun } from './after-run.js';
import type { Io } from './io.js';
import { Progress } from './progress.js';
import type { ReportMemo } from './report-memo.js';

/** A run's exit code: 0 passed, 1 a step or test failed, 130 interrupted. */
export function exitCodeOf(status: string): number {
  return status === 'PASS' ? 0 : status === 'INTERRUPTED' ? 130 : 1;
}

/** The config's identity, for a no-op's report (unchanged-report.ts): the cached config's,
 * or the caller's (the daemon's, for the pure Batchfile it keeps loaded). */
function configIdOf(loaded: string | undefined, given: string | undefined): { configId?: string } {
  const id = loaded ?? given;
  return id === undefined ? {} : { configId: id };
}

/** One run in an open session, shown: progress while it runs, then the summary, --json and
 * the reports. The CLI's own runs and the daemon's served ones both come here. Returns the
 * exit code. */
export async function showRun(session: Session, req: RunRequest & { compiled?: CompiledBatchfile; configId?: string; reportMemo?: ReportMemo }, out: { io: Io; json: boolean }, signal: AbortSignal): Promise<number> {
  const { compiled, configId: given, reportMemo, ...request } = req;
  const loaded = await session.load(compiled);
  mark('batchfile loaded');
  const { io } = out;
  const progress = new Progress(io.human, io.style, io.human.isTTY === true && !(request.env ?? process.env).CI);
  let result;
  try {
    result = await session.runOnce(loaded, request, (ev) => progress.on(ev), signal);
  } finally {
    // A run that failed to finish still shows the lines it printed, before its error.
    progress.flush();
  }
  mark('pipeline');
  const memo = reportMemo && { memo: reportMemo, lock: session.lockGenerations };
  await afterRun(result, { project: session.project, store: session.store, io, json: out.json, ...(configIdOf(loaded.configId, given)), ...(memo ? { memo } : {}) });
  mark('summary + report');
  return exitCodeOf(result.record.status);
}
