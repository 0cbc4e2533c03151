import path from 'node:path';
import type { Io } from './io.js';
import type { Project } from '../app/project.js';
import { computeTrends, type TrendRow } from '../history/trends.js';
import type { RunOutput } from '../app/pipeline.js';
import type { Store } from '../store/store.js';
import { logTail } from './log-tail.js';
import { formatSummary, summaryJson } from './summary.js';
import { noopReportKey, rememberReport, unchangedReport } from './unchanged-report.js';
import type { MemoPlace, MemoRow, ReportMemo } from './report-memo.js';
import { shownPath, shownPathsIn } from '../util/paths.js';

/** Trends of the steps that ran and passed in this run, each against its own earlier
 * passed executions (the run was recorded before this is called, so it is the newest). */
function trendsOfRun(out: RunOutput, store: Store): Map<string, TrendRow> {
  const ran = out.results.filter((r) => r.action === 'ran' && r.status === 'PASS').map((r) => r.name);
  if (ran.length === 0) return new Map();
  const { rows } = computeTrends(store, { steps: new Set(ran) });
  return new Map(rows.filter((t) => t.latest?.runId === out.record.id).map((t) => [t.step, t]));
}

/** What a run's end shows and writes with: `memo`, a long-lived process's rows of its last
 * report, with the lock generations of this run (report-memo.ts). */
export interface AfterRunContext {
  project: Project;
  store: Store;
  io: Io;
  json: boolean;
  configId?: string;
  memo?: { memo: ReportMemo; lock: MemoPlace['lock'] };
}

/** Everything shown or written once a run ended: the terminal summary (each step's time
 * against its median, regressions flagged), --json, and logs/report.html + report.md. */
export async function afterRun(out: RunOutput, ctx: AfterRunContext): Promise<void> {
  const { record, results } = out;
  let trends = new Map<string, TrendRow>();
  try {
    trends = trendsOfRun(out, ctx.store);
  } catch (e) {
    ctx.io.say(ctx.io.style.yellow(`warning: could not read earlier timings: ${(e as Error).message}`));
  }
  const medians = new Map<string, number>();
  const regressions = new Set<string>();
  for (const [name, t] of trends) {
    if (t.medianMs !== undefined) medians.set(name, t.medianMs);
    if (t.slower) regressions.add(name);
  }
  if (ctx.json) ctx.io.out.write(`${JSON.stringify(summaryJson(record, results, { medians, regressions }), null, 2)}\n`);
  ctx.io.say('');
  // What the first few failed steps wrote last, so a failure reads without opening its log.
  const tails = new Map<string, string[]>();
  for (const r of results.filter((x) => x.status === 'FAIL' && x.logFile).slice(0, 5)) tails.set(r.name, logTail(path.join(ctx.project.root, r.logFile!)));
  ctx.io.say(formatSummary(record, results, ctx.io.style, { maxSteps: 50, medians, regressions, tails }));
  await report(out, ctx, trends);
}

/** logs/report.html and report.md, written unless a no-op's report that shows the same is
 * still in place (unchanged-report.ts). */
async function report(out: RunOutput, ctx: AfterRunContext, trends: Map<string, TrendRow>): Promise<void> {
  const { record, results } = out;
  const key = noopReportKey(out, ctx.configId);
  const shown = key === undefined ? undefined : unchangedReport(ctx.project.cacheDir, key);
  const place: MemoPlace | undefined = ctx.memo && { store: ctx.store, config: out.config, lock: ctx.memo.lock };
  if (shown !== undefined) {
    if (place) ctx.memo?.memo.carry(place, results);
    ctx.io.say(ctx.io.style.dim(`report: ${shownPath(ctx.project.root, path.join(ctx.project.logsDir, 'report.html'))} (unchanged: run ${shown} showed the same)`));
    return;
  }
  try {
    // The report code (and the libraries it inlines) load only here.
    const { writeReports } = await import('./html/write.js');
    const memo = place && ctx.memo && { reusable: ctx.memo.memo.take(place), kept: new Map<string, MemoRow>(), pastRuns: ctx.memo.memo.pastRuns };
    const written = writeReports({ record, results, graph: out.graph, store: ctx.store, root: ctx.project.root, logsDir: ctx.project.logsDir, cacheDir: ctx.project.cacheDir, trends, ...(memo ? { memo } : {}) });
    if (place && memo) ctx.memo?.memo.keep(place, memo.kept);
    rememberReport(ctx.project.cacheDir, key, record.id, [written.html, written.md]);
    ctx.io.say(ctx.io.style.dim(`report: ${shownPath(ctx.project.root, written.html)}`));
  } catch (e) {
    ctx.io.say(ctx.io.style.yellow(`warning: could not write the run report under ${shownPath(ctx.project.root, ctx.project.logsDir)}: ${shownPathsIn(ctx.project.root, (e as Error).message)}`));
  }
}
