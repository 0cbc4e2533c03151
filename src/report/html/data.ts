// What the run report shows, gathered once from the run's output and the store as plain
// JSON-able data; the HTML and Markdown renderers only format it.
import path from 'node:path';
import type { Graph } from '../../graph/graph.js';
import { executedAny } from '../../history/query.js';
import { RULE_TEXT } from '../../history/stats.js';
import type { TrendRow } from '../../history/trends.js';
import type { Store } from '../../store/store.js';
import type { RunRecord, StepAction, StepResult, StepStatus, TestPhaseResult } from '../../store/types.js';
import { formatMs } from '../../util/duration.js';
import { chartSeries, type ChartSeries } from './charts.js';
import { LogFiles, producerOf } from './current.js';
import { CHART_EXECUTIONS, recentExecutions } from './executions.js';
import { metricCharts, type MetricChart } from './metric-charts.js';
import { pastResults, PastRunFiles, type HeldPastRuns } from './past-runs.js';
import { memoRow, reusedRow, rowKind, type MemoRow, type MemoRows } from '../report-memo.js';
import type { ReportStep } from './report-step.js';
import { heapCheckpoint } from '../../util/heap-checkpoint.js';

export { MAX_CHARTS } from './charts.js';
export { CHART_EXECUTIONS } from './executions.js';
export type { ChartSeries };

/** Above this many steps the page does not lay out the DAG (dagre needs seconds for it). */
export const MAX_DAG_STEPS = 400;

/** The figures of one execution of a step (the table's numeric cells). */
const FIGURES = ['cpuMs', 'peakRssBytes', 'bytesRead', 'bytesWritten', 'attempts'] as const;

export type { ReportStep } from './report-step.js';

export interface ReportData {
  run: {
    id: string;
    status: string;
    startedAt: string;
    endedAt: string;
    durationMs: number;
    git?: { commit: string; dirty?: boolean };
    host: string;
    cpus: number;
    node: string;
    flags: string[];
    targets: string[];
    counts: RunRecord['counts'];
  };
  steps: ReportStep[];
  tests?: TestPhaseResult;
  history: {
    /** Each chart covers the step's last `executions` executions. */
    executions: number;
    charts: ChartSeries[];
    /** Steps with executions that got no chart (over MAX_CHARTS). */
    omitted: number;
    /** Metrics recorded in those executions (steps with `metrics`), flagged ones first. */
    metrics?: MetricChart[];
  };
  rule: string;
  dag: { draw: boolean; note?: string };
}

export interface ReportInput {
  record: RunRecord;
  results: StepResult[];
  graph?: Pick<Graph, 'order' | 'deps'> & { steps?: Graph['steps'] };
  store?: Store;
  root: string;
  logsDir: string;
  /** Trends of the steps that ran in this run (after-run computes them for the summary). */
  trends?: Map<string, TrendRow>;
  /** The project's cache folder: earlier runs' results are kept under report/ there, so the
   * next report need not read them back from the store. */
  cacheDir?: string;
  /** A long-lived process's rows of its previous report (report-memo.ts): `reusable` when
   * they are still true, `kept` gets this report's for the next one. */
  memo?: { reusable: MemoRows | undefined; kept: Map<string, MemoRow>; pastRuns?: HeldPastRuns };
}

function label(r: StepResult | undefined): string {
  if (!r) return 'not selected';
  if (r.action === 'ran' || r.action === 'restored') return `${formatMs(r.durationMs)}${r.action === 'restored' ? ' (restored)' : ''}`;
  return r.action === 'up-to-date' ? 'up to date' : 'not run';
}

/** Log links are relative to the logs folder. Logs live under it, so the link is the path
 * below it (path.relative is the general case, and costs more than the rest of a row). */
function logLinker(root: string, logsDir: string): (logFile: string) => string {
  const logsRel = path.relative(root, logsDir).split(path.sep).join('/');
  const logsPrefix = logsRel === '' ? '' : `${logsRel}/`;
  return (logFile) =>
    logsPrefix !== '' && logFile.startsWith(logsPrefix) && !logFile.includes('..')
      ? logFile.slice(logsPrefix.length)
      : path.relative(logsDir, path.resolve(root, logFile)).split(path.sep).join('/');
}

/** A step's row as this run left it: its result here, its place in the graph. */
function stepOf(name: string, r: StepResult | undefined, input: ReportInput): ReportStep {
  const s: ReportStep = { name, selected: r !== undefined, timeLabel: label(r), slower: false, deps: input.graph?.deps.get(name) ?? [] };
  const config = input.graph?.steps?.get(name);
  if (config?.kind) s.kind = config.kind;
  if (config?.instanceOf) s.group = config.instanceOf;
  if (config?.description) s.description = config.description;
  if (!r) return s;
  s.status = r.status;
  s.action = r.action;
  // A step run by a worker of the Redis executor says which, and its queue wait.
  s.reason = r.worker !== undefined ? `${r.reason} (ran on ${r.worker}; ${formatMs(r.queueWaitMs ?? 0)} of it waiting in the queue)` : r.reason;
  s.durationMs = r.durationMs;
  for (const k of FIGURES) if (r[k] !== undefined) s[k] = r[k];
  if (r.error !== undefined) s.error = r.error;
  const t = input.trends?.get(name);
  if (t && r.action === 'ran' && r.status === 'PASS' && t.latest?.runId === input.record.id) {
    if (t.medianMs !== undefined) s.medianMs = t.medianMs;
    if (t.ratio !== undefined) s.ratio = t.ratio;
    s.slower = t.slower;
  }
  return s;
}

/** Links a step's log: its own in this run when it executed, else that of the execution
 * whose outputs it has now (when the log is still on disk), whose figures it shows too.
 * Returns that execution's log file, whether or not it exists. */
function linkLog(s: ReportStep, r: StepResult | undefined, input: ReportInput, relLog: (f: string) => string, logs: LogFiles): string | undefined {
  if (r?.action === 'ran') {
    if (r.logFile) s.log = relLog(r.logFile);
    return undefined;
  }
  const p = producerOf(input.store, s.name, r ? { runId: input.record.id, result: r } : undefined);
  if (!p) return undefined;
  if (p.result.logFile && logs.exists(p.result.logFile)) {
    s.log = relLog(p.result.logFile);
    s.logRun = p.runId;
  }
  // A restore shows its own time and bytes; the other steps, the execution's.
  if (r?.action === 'restored') return p.result.logFile;
  s.durationMs = p.result.durationMs;
  for (const k of FIGURES) if (p.result[k] !== undefined) s[k] = p.result[k];
  s.figuresFrom = { runId: p.runId, startedAt: new Date(p.at).toISOString() };
  return p.result.logFile;
}

function runSummary(record: RunRecord): ReportData['run'] {
  return {
    id: record.id,
    status: record.status,
    startedAt: new Date(record.startedAt).toISOString(),
    endedAt: new Date(record.endedAt).toISOString(),
    durationMs: record.durationMs,
    ...(record.git ? { git: record.git } : {}),
    host: record.host,
    cpus: record.cpus,
    node: record.node,
    flags: record.flags,
    targets: record.targets,
    counts: record.counts,
  };
}

function dagOf(input: ReportInput, steps: number): ReportData['dag'] {
  if (steps > MAX_DAG_STEPS) return { draw: false, note: `The pipeline has ${steps} steps; the picture is drawn for up to ${MAX_DAG_STEPS}. \`batch graph --format dot\` prints it for Graphviz.` };
  return input.graph ? { draw: true } : { draw: false, note: 'No graph was given for this report.' };
}

/** Each step's recent executions for the charts, read through the report's cache of earlier
 * runs (which keeps the files of the runs read, and gets this run's if it executed or
 * restored anything). */
function historyOf(input: ReportInput, steps: ReportStep[]): ReportData['history'] {
  const cache = new PastRunFiles(input.store, input.cacheDir, input.memo?.pastRuns);
  const mine = pastResults(input.results);
  const recent = recentExecutions({ ...(input.store ? { store: input.store } : {}), record: input.record, mine, cache, steps: steps.map((s) => s.name) });
  const kept = recent.runsRead;
  if (executedAny(input.record) || input.record.counts.restored > 0) {
    cache.put(input.record.id, mine);
    kept.push(input.record.id);
  }
  cache.prune(kept);
  const charts = chartSeries(steps, recent.byStep, input.record.id);
  return {
    executions: CHART_EXECUTIONS,
    charts: charts.shown,
    omitted: charts.omitted,
    metrics: metricCharts(recent.metrics, (name) => input.graph?.steps?.get(name)?.metricBounds),
  };
}

export function collectReportData(input: ReportInput): ReportData {
  const byName = new Map(input.results.map((r) => [r.name, r]));
  const order = input.graph ? input.graph.order : input.results.map((r) => r.name);
  const relLog = logLinker(input.root, input.logsDir);
  const logs = new LogFiles(input.root);
  const exists = (f: string): boolean => logs.exists(f);
  const memo = input.memo;
  const steps = order.map((name): ReportStep => {
    heapCheckpoint();
    const r = byName.get(name);
    const kind = memo ? rowKind(r) : undefined;
    const reused = kind === undefined ? undefined : reusedRow(memo?.reusable?.get(name), kind, exists);
    if (reused) {
      memo?.kept.set(name, reused);
      return reused.row;
    }
    const s = stepOf(name, r, input);
    const producerLog = linkLog(s, r, input, relLog, logs);
    if (kind !== undefined) memo?.kept.set(name, memoRow(s, kind, producerLog));
    return s;
  });
  return {
    run: runSummary(input.record),
    steps,
    ...(input.record.tests ? { tests: input.record.tests } : {}),
    history: historyOf(input, steps),
    rule: RULE_TEXT,
    dag: dagOf(input, order.length),
  };
}
