import type { RunRecord, StepResult } from '../store/types.js';
import { formatMs } from '../util/duration.js';
import { clean, type Style } from './style.js';

function statusCell(s: string, style: Style): string {
  const padded = s.padEnd(7);
  if (s === 'PASS') return style.green(padded);
  if (s === 'FAIL' || s === 'INTERRUPTED') return style.red(padded);
  return style.yellow(padded);
}

/** The end-of-run feedback the style guide asks for: overall status, each step's status,
 * action and time, and the test results. */
export function formatSummary(record: RunRecord, results: StepResult[], style: Style, opts: { medians?: Map<string, number>; maxSteps?: number } = {}): string {
  const lines: string[] = [];
  const nameW = Math.min(40, Math.max(4, ...results.map((r) => r.name.length)));
  lines.push(style.bold(`${'STATUS'.padEnd(7)}  ${'ACTION'.padEnd(10)}  ${'TIME'.padStart(8)}  ${'STEP'.padEnd(nameW)}  REASON`));
  const shown = opts.maxSteps !== undefined && results.length > opts.maxSteps
    ? results.filter((r) => r.action !== 'up-to-date').slice(0, opts.maxSteps)
    : results;
  for (const r of shown) {
    const time = r.action === 'ran' || r.action === 'restored' ? formatMs(r.durationMs) : '-';
    const med = opts.medians?.get(r.name);
    const vs = med !== undefined && r.action === 'ran' ? style.dim(` (median ${formatMs(med)})`) : '';
    lines.push(`${statusCell(r.status, style)}  ${r.action.padEnd(10)}  ${time.padStart(8)}  ${clean(r.name).padEnd(nameW)}  ${style.dim(clean(r.reason))}${vs}`);
  }
  if (shown.length < results.length) lines.push(style.dim(`  … ${results.length - shown.length} more steps up to date`));
  for (const r of results) {
    if (r.status === 'FAIL' && r.logFile) lines.push(style.red(`  ${clean(r.name)}: ${clean(r.error ?? r.reason)} (log: ${r.logFile})`));
  }
  const t = record.tests;
  if (t) {
    lines.push('');
    lines.push(`${statusCell(t.status, style)}  ${t.action.padEnd(10)}  ${(t.action === 'ran' ? formatMs(t.durationMs) : '-').padStart(8)}  integrity tests: ${t.passed} passed, ${t.failed} failed${t.skipped ? `, ${t.skipped} skipped` : ''}  ${style.dim(clean(t.reason))}`);
    for (const c of t.cases) {
      if (c.status === 'FAIL') lines.push(style.red(`  FAIL ${clean(c.file)} > ${clean(c.name)}: ${clean((c.message ?? '').split('\n')[0] ?? '')}`));
    }
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
export function summaryJson(record: RunRecord, results: StepResult[]): object {
  return {
    runId: record.id,
    status: record.status,
    startedAt: new Date(record.startedAt).toISOString(),
    durationMs: record.durationMs,
    counts: record.counts,
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
    })),
    ...(record.tests ? { tests: record.tests } : {}),
  };
}
