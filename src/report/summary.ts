import type { RunRecord, StepResult } from '../store/types.js';
import { formatMs } from '../util/duration.js';
import { orphanLines } from '../plan/orphans.js';
import { clean, type Style } from './style.js';

function statusCell(s: string, style: Style): string {
  const padded = s.padEnd(7);
  if (s === 'PASS') return style.green(padded);
  if (s === 'FAIL' || s === 'INTERRUPTED') return style.red(padded);
  return style.yellow(padded);
}

export interface SummaryOptions {
  /** Median duration of each step's earlier passed executions (steps that ran now). */
  medians?: Map<string, number>;
  /** Steps the regression rule flags as slower than usual in this run. */
  regressions?: Set<string>;
  maxSteps?: number;
  /** The end of each failed step's log, shown under its failure line. */
  tails?: Map<string, string[]>;
}

/** The end-of-run feedback the style guide asks for: overall status, each step's status,
 * action and time, and the test results. */
export function formatSummary(record: RunRecord, results: StepResult[], style: Style, opts: SummaryOptions = {}): string {
  const lines: string[] = [];
  const nameW = Math.min(40, Math.max(4, ...results.map((r) => r.name.length)));
  const shown = opts.maxSteps !== undefined && results.length > opts.maxSteps
    ? results.filter((r) => r.action !== 'up-to-date').slice(0, opts.maxSteps)
    : results;
  // Time against the median of the step's earlier passed runs: "1.20s ×2.67 ▲" when slower.
  const vsText = (r: StepResult): string => {
    const med = opts.medians?.get(r.name);
    if (med === undefined || r.action !== 'ran') return '';
    return `${formatMs(med)} ${med > 0 ? `×${(r.durationMs / med).toFixed(2)}` : ''}${opts.regressions?.has(r.name) ? ' ▲' : ''}`.trimEnd();
  };
  const vsW = Math.max(0, ...shown.map((r) => vsText(r).length));
  const vsHead = vsW > 0 ? `  ${'MEDIAN'.padEnd(Math.max(6, vsW))}` : '';
  lines.push(style.bold(`${'STATUS'.padEnd(7)}  ${'ACTION'.padEnd(10)}  ${'TIME'.padStart(8)}${vsHead}  ${'STEP'.padEnd(nameW)}  REASON`));
  for (const r of shown) {
    const time = r.action === 'ran' || r.action === 'restored' ? formatMs(r.durationMs) : '-';
    let vs = '';
    if (vsW > 0) {
      const cell = vsText(r).padEnd(Math.max(6, vsW));
      vs = `  ${opts.regressions?.has(r.name) ? style.red(cell) : style.dim(cell)}`;
    }
    const where = r.worker !== undefined ? ` [on ${r.worker}, queued ${formatMs(r.queueWaitMs ?? 0)}]` : '';
    lines.push(`${statusCell(r.status, style)}  ${r.action.padEnd(10)}  ${time.padStart(8)}${vs}  ${clean(r.name).padEnd(nameW)}  ${style.dim(clean(r.reason + where))}`);
  }
  if (shown.length < results.length) lines.push(style.dim(`  … ${results.length - shown.length} more steps up to date`));
  for (const r of results) {
    if (r.status !== 'FAIL' || !r.logFile) continue;
    const aside = r.failedOutputs ? `; its partial outputs were moved to ${r.failedOutputs}` : '';
    lines.push(style.red(`  ${clean(r.name)}: ${clean(r.error ?? r.reason)} (log: ${r.logFile}${clean(aside)})`));
    for (const l of opts.tails?.get(r.name) ?? []) lines.push(`${style.dim('    │')} ${clean(l)}`);
  }
  if (record.orphans && record.orphans.length > 0) {
    lines.push('');
    lines.push(style.yellow('Outputs of steps no longer in the Batchfile:'));
    for (const l of orphanLines(record.orphans)) lines.push(`  ${clean(l)}`);
  }
  const t = record.tests;
  if (t) {
    lines.push('');
    lines.push(`${statusCell(t.status, style)}  ${t.action.padEnd(10)}  ${(t.action === 'ran' ? formatMs(t.durationMs) : '-').padStart(8)}  integrity tests: ${t.passed} passed, ${t.failed} failed${t.skipped ? `, ${t.skipped} skipped` : ''}  ${style.dim(clean(t.reason))}`);
    for (const c of t.cases) {
      if (c.status === 'FAIL') lines.push(style.red(`  FAIL ${clean(c.file)} > ${clean(c.name)}: ${clean((c.message ?? '').split('\n')[0] ?? '')}`));
    }
  }
  const slow = results.filter((r) => opts.regressions?.has(r.name));
  if (slow.length > 0) {
    lines.push('');
    lines.push(style.red(`▲ ${slow.length} step${slow.length === 1 ? '' : 's'} slower than usual: ${slow.map((r) => `${clean(r.name)} ${formatMs(r.durationMs)} (median ${formatMs(opts.medians?.get(r.name) ?? 0)})`).join(', ')}`));
  }
  const c = record.counts;
  lines.push('');
  const parts = [`${c.ran} ran`, `${c.upToDate} up-to-date`];
  if (c.restored) parts.push(`${c.restored} restored`);
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.blocked) parts.push(`${c.blocked} blocked`);
  lines.push(`${statusCell(record.status, style).trim()}  ${parts.join(', ')} in ${formatMs(record.durationMs)}  ${style.dim(`run ${record.id}`)}`);
  return lines.join('\n');
}

/** The --json summary document. */
export function summaryJson(record: RunRecord, results: StepResult[], opts: Pick<SummaryOptions, 'medians' | 'regressions'> = {}): object {
  return {
    runId: record.id,
    status: record.status,
    startedAt: new Date(record.startedAt).toISOString(),
    durationMs: record.durationMs,
    counts: record.counts,
    ...(record.checks ? { checks: record.checks } : {}),
    ...(record.git ? { git: record.git } : {}),
    steps: results.map((r) => ({
      name: r.name,
      status: r.status,
      action: r.action,
      reason: r.reason,
      durationMs: r.durationMs,
      ...(r.attempts !== undefined ? { attempts: r.attempts } : {}),
      ...(r.cpuMs !== undefined ? { cpuMs: r.cpuMs } : {}),
      ...(r.peakRssBytes !== undefined ? { peakRssBytes: r.peakRssBytes } : {}),
      ...(r.error !== undefined ? { error: r.error } : {}),
      ...(r.logFile !== undefined ? { logFile: r.logFile } : {}),
      ...(r.failedOutputs !== undefined ? { failedOutputs: r.failedOutputs } : {}),
      ...(r.source !== undefined ? { source: r.source } : {}),
      ...(r.worker !== undefined ? { worker: r.worker, queueWaitMs: r.queueWaitMs ?? 0 } : {}),
      ...(opts.medians?.has(r.name) ? { medianMs: opts.medians.get(r.name), slower: opts.regressions?.has(r.name) === true } : {}),
    })),
    ...(record.tests ? { tests: record.tests } : {}),
    ...(record.orphans ? { orphans: record.orphans } : {}),
    ...(record.remoteCache ? { remoteCache: record.remoteCache } : {}),
  };
}
