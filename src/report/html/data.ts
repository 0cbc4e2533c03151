// What the run report shows, gathered once from the run's output and the store as plain
// JSON-able data; the HTML and Markdown renderers only format it.
import fs from 'node:fs';
import path from 'node:path';
import type { Graph } from '../../graph/graph.js';
import { executedAny, isTiming, listRuns } from '../../history/query.js';
import { judge, median, RULE, RULE_TEXT } from '../../history/stats.js';
import type { TrendRow } from '../../history/trends.js';
import type { Store } from '../../store/store.js';
import type { RunRecord, StepAction, StepResult, StepStatus, TestPhaseResult } from '../../store/types.js';
import { formatMs } from '../../util/duration.js';
import { metricCharts, type MetricChart } from './metric-charts.js';
import { pastResults, RunCache, type PastResult } from './run-cache.js';

/** Runs shown in the duration charts, and at most this many charts (flagged and slowest
 * steps first) so a thousand-step pipeline still gives a page that opens quickly. */
export const CHART_RUNS = 30;
export const MAX_CHARTS = 24;
/** Above this many steps the page does not lay out the DAG (dagre needs seconds for it). */
export const MAX_DAG_STEPS = 400;

export interface ReportStep {
  name: string;
  kind?: string;
  /** Selected in this run (a run of named targets leaves the others out). */
  selected: boolean;
  status?: StepStatus;
  action?: StepAction;
  reason?: string;
  durationMs?: number;
  /** "1.20s", "up to date", "not selected": the node label and table cell. */
  timeLabel: string;
  cpuMs?: number;
  peakRssBytes?: number;
  bytesRead?: number;
  bytesWritten?: number;
  attempts?: number;
  error?: string;
  /** Link to the step's log, relative to the report's folder. */
  log?: string;
  /** The log is from this earlier run (the step did not run in this one). */
  logRun?: string;
  medianMs?: number;
  ratio?: number;
  slower: boolean;
  deps: string[];
  /** For an instance of a forEach step: that step's name (the picture boxes them together). */
  group?: string;
}

export interface ChartSeries {
  step: string;
  /** Passed durations per run of `history.runs` (null: did not run or failed). */
  durations: (number | null)[];
  /** Durations of failed executions, drawn apart. */
  failed: (number | null)[];
  /** Durations the rule flagged as slower at the time. */
  slower: (number | null)[];
  medianMs?: number;
  flagged: boolean;
}

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
    /** Oldest → newest; the last is this run. */
    runs: { id: string; startedAt: number; label: string; status: string; commit?: string }[];
    charts: ChartSeries[];
    /** Steps with history that got no chart (over MAX_CHARTS). */
    omitted: number;
    /** Metrics recorded in the window (steps with `metrics`), flagged ones first. */
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
}

function label(r: StepResult | undefined): string {
  if (!r) return 'not selected';
  if (r.action === 'ran' || r.action === 'restored') return `${formatMs(r.durationMs)}${r.action === 'restored' ? ' (restored)' : ''}`;
  return r.action === 'up-to-date' ? 'up to date' : 'not run';
}

/** Chart labels: the time of day when every run was on one day, else the date. */
function runLabels(runs: RunRecord[]): string[] {
  const p = (n: number): string => String(n).padStart(2, '0');
  const day = (ms: number): string => {
    const d = new Date(ms);
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  };
  const oneDay = new Set(runs.map((r) => day(r.startedAt))).size <= 1;
  return runs.map((r) => {
    const d = new Date(r.startedAt);
    return oneDay ? `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` : `${d.getMonth() + 1}/${d.getDate()} ${p(d.getHours())}:${p(d.getMinutes())}`;
  });
}

export function collectReportData(input: ReportInput): ReportData {
  const { record, results, store } = input;
  const byName = new Map(results.map((r) => [r.name, r]));
  const order = input.graph ? input.graph.order : results.map((r) => r.name);
  // Logs live under the logs folder: their link is the path below it (path.relative is
  // the general case, and costs more than the rest of a row).
  const logsRel = path.relative(input.root, input.logsDir).split(path.sep).join('/');
  const logsPrefix = logsRel === '' ? '' : `${logsRel}/`;
  const relLog = (logFile: string): string =>
    logsPrefix !== '' && logFile.startsWith(logsPrefix) && !logFile.includes('..')
      ? logFile.slice(logsPrefix.length)
      : path.relative(input.logsDir, path.resolve(input.root, logFile)).split(path.sep).join('/');

  // The chart window: the last CHART_RUNS runs, each with all its step results.
  const window = store ? listRuns(store, { limit: CHART_RUNS }).reverse() : [record];
  if (window[window.length - 1]?.id !== record.id) window.push(record);
  // Runs where nothing executed are not read: they add no point to any chart (and their
  // results hold no log), which keeps the report cheap after no-op runs. The others come
  // from the report's own cache of earlier runs when it has them.
  const cache = new RunCache(store, input.cacheDir);
  const mine = pastResults(results);
  const perRun = window.map((run): Map<string, PastResult> =>
    run.id === record.id ? new Map(mine.map((r) => [r.name, r])) : store && executedAny(run) ? new Map(cache.get(run.id).map((r) => [r.name, r])) : new Map(),
  );
  if (executedAny(record)) cache.put(record.id, mine);
  cache.prune(window.filter(executedAny).map((r) => r.id));

  // The newest log in the window that still exists, for steps that did not run now. Each
  // run's log folder is listed once instead of testing every step's log file.
  const listed = new Map<string, Set<string> | undefined>();
  const exists = (logFile: string): boolean => {
    const cut = logFile.lastIndexOf('/');
    const dir = cut < 0 ? '.' : logFile.slice(0, cut);
    let names = listed.get(dir);
    if (!listed.has(dir)) {
      try {
        names = new Set(fs.readdirSync(path.resolve(input.root, dir)));
      } catch {
        names = undefined;
      }
      listed.set(dir, names);
    }
    return names !== undefined && names.has(logFile.slice(cut + 1));
  };
  const earlierLog = new Map<string, { logFile: string; runId: string }>();
  for (let i = window.length - 1; i >= 0; i--) {
    if (window[i]!.id === record.id) continue;
    for (const old of perRun[i]!.values()) {
      if (!old.logFile || earlierLog.has(old.name) || byName.get(old.name)?.logFile) continue;
      if (exists(old.logFile)) earlierLog.set(old.name, { logFile: old.logFile, runId: window[i]!.id });
    }
  }

  const steps: ReportStep[] = order.map((name) => {
    const r = byName.get(name);
    const t = input.trends?.get(name);
    const s: ReportStep = { name, selected: r !== undefined, timeLabel: label(r), slower: false, deps: input.graph?.deps.get(name) ?? [] };
    const kind = input.graph?.steps?.get(name)?.kind;
    if (kind) s.kind = kind;
    const group = input.graph?.steps?.get(name)?.instanceOf;
    if (group) s.group = group;
    if (r) {
      s.status = r.status;
      s.action = r.action;
      // A step run by a worker of the Redis executor says which, and its queue wait.
      s.reason = r.worker !== undefined ? `${r.reason} (ran on ${r.worker}; ${formatMs(r.queueWaitMs ?? 0)} of it waiting in the queue)` : r.reason;
      s.durationMs = r.durationMs;
      for (const k of ['cpuMs', 'peakRssBytes', 'bytesRead', 'bytesWritten', 'attempts'] as const) if (r[k] !== undefined) s[k] = r[k];
      if (r.error !== undefined) s.error = r.error;
      if (r.logFile) s.log = relLog(r.logFile);
    }
    if (!s.log) {
      // Not run now: link the newest log in the window that still exists.
      const old = earlierLog.get(name);
      if (old) {
        s.log = relLog(old.logFile);
        s.logRun = old.runId;
      }
    }
    if (t && r?.action === 'ran' && r.status === 'PASS' && t.latest?.runId === record.id) {
      if (t.medianMs !== undefined) s.medianMs = t.medianMs;
      if (t.ratio !== undefined) s.ratio = t.ratio;
      s.slower = t.slower;
    }
    return s;
  });

  const charts = chartSeries(store, window, perRun, steps, record.id);
  const labels = runLabels(window);
  return {
    run: {
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
    },
    steps,
    ...(record.tests ? { tests: record.tests } : {}),
    history: {
      runs: window.map((r, i) => ({ id: r.id, startedAt: r.startedAt, label: labels[i]!, status: r.status, ...(r.git ? { commit: r.git.commit.slice(0, 8) } : {}) })),
      charts: charts.shown,
      omitted: charts.omitted,
      metrics: metricCharts(perRun, (name) => input.graph?.steps?.get(name)?.metricBounds),
    },
    rule: RULE_TEXT,
    dag: order.length > MAX_DAG_STEPS
      ? { draw: false, note: `The pipeline has ${order.length} steps; the picture is drawn for up to ${MAX_DAG_STEPS}. \`batch graph --format dot\` prints it for Graphviz.` }
      : input.graph ? { draw: true } : { draw: false, note: 'No graph was given for this report.' },
  };
}

/** One series per step that ran in the window: flagged steps first, then the slowest. Each
 * point is judged against the passed executions before it (looking back RULE.window runs
 * past the window's start), so a chart shows when a step became slower. */
function chartSeries(store: Store | undefined, window: RunRecord[], perRun: Map<string, PastResult>[], steps: ReportStep[], runId: string): { shown: ChartSeries[]; omitted: number } {
  // Each step's longest execution in the window (from the executions, not step by step).
  const longest = new Map<string, number>();
  for (const m of perRun) {
    for (const r of m.values()) if (r.action === 'ran') longest.set(r.name, Math.max(longest.get(r.name) ?? -1, r.durationMs));
  }
  const candidates: { step: ReportStep; max: number }[] = [];
  for (const step of steps) {
    const max = longest.get(step.name);
    if (max !== undefined && max >= 0) candidates.push({ step, max });
  }
  candidates.sort((a, b) => Number(b.step.slower) - Number(a.step.slower) || b.max - a.max);
  const chosen = candidates.slice(0, MAX_CHARTS);
  const before = store && window[0] ? listRuns(store, { before: window[0].id, limit: RULE.window }).filter(executedAny) : [];
  const shown = chosen.map(({ step }) => {
    // Passed durations before the window, newest first.
    const earlier: number[] = [];
    if (store) {
      for (const run of before) {
        const r = store.results.get([run.id, step.name]);
        if (r && r.action === 'ran' && isTiming(r)) earlier.push(r.durationMs);
      }
    }
    const s: ChartSeries = { step: step.name, durations: [], failed: [], slower: [], flagged: step.slower };
    perRun.forEach((m, i) => {
      const r = m.get(step.name);
      const ran = r?.action === 'ran' ? r : undefined;
      const ok = ran && isTiming(ran) ? ran.durationMs : null;
      s.durations.push(ok);
      s.failed.push(ran && !isTiming(ran) ? ran.durationMs : null);
      let slow = false;
      if (ok !== null) {
        slow = window[i]!.id === runId ? step.slower : judge(ok, earlier).slower;
        earlier.unshift(ok);
      }
      s.slower.push(slow ? ok : null);
    });
    // The step's median as of this run when it ran now, else over the window's passed runs.
    const med = step.medianMs ?? median(s.durations.filter((d): d is number => d !== null));
    if (med !== undefined) s.medianMs = med;
    return s;
  });
  return { shown, omitted: candidates.length - chosen.length };
}
