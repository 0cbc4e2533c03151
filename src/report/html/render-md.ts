// report.md: the same report as Markdown, for reading in a terminal, a code review or a
// repository browser (the DAG as a Mermaid block, which GitHub and GitLab draw).
import { formatBytes, formatMs } from '../../util/duration.js';
import type { ReportData, ReportStep } from './data.js';
import { href, md } from './escape.js';
import { heapCheckpoint } from '../../util/heap-checkpoint.js';
import { KeptParts } from './kept-parts.js';

const MERMAID_MAX = 200;

function mermaid(d: ReportData): string[] {
  const ids = new Map(d.steps.map((s, i) => [s.name, `s${i}`]));
  // Labels: names are validated to [A-Za-z0-9_.:@+-], but quote and entity-escape anyway.
  const lbl = (s: string): string => s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
  const lines = ['```mermaid', 'flowchart LR'];
  d.steps.forEach((s, i) => {
    const cls = !s.selected ? 'unsel' : s.status === 'FAIL' ? 'fail' : s.status === 'BLOCKED' || s.action === 'not-run' ? 'blocked' : s.action === 'restored' ? 'restored' : s.action === 'up-to-date' ? 'uptodate' : 'ran';
    lines.push(`  s${i}["${lbl(s.name)}<br/>${s.slower ? '▲ ' : ''}${lbl(s.timeLabel)}"]:::${cls}`);
  });
  for (const s of d.steps) for (const dep of s.deps) if (ids.has(dep)) lines.push(`  ${ids.get(dep)} --> ${ids.get(s.name)}`);
  lines.push(
    '  classDef ran fill:#2e9d49,color:#fff,stroke:#2e9d49',
    '  classDef uptodate fill:#d3ecd9,color:#1d5b2c,stroke:#d3ecd9',
    '  classDef restored fill:#5b8def,color:#fff,stroke:#5b8def',
    '  classDef fail fill:#d64545,color:#fff,stroke:#d64545',
    '  classDef blocked fill:#f0ad4e,color:#222,stroke:#f0ad4e',
    '  classDef unsel fill:#e4e4e4,color:#555,stroke:#e4e4e4',
    '```',
  );
  return lines;
}

/** A step's line of the steps table. */
function stepLine(s: ReportStep): string {
  const ownTime = s.action === 'ran' || s.action === 'restored' ? formatMs(s.durationMs ?? 0) : '';
  // A step that did not execute: the figures of the execution that wrote its outputs, marked.
  const from = s.figuresFrom;
  const time = from ? `${formatMs(s.durationMs ?? 0)} (run ${md(from.runId)})` : ownTime;
  const vs = s.medianMs !== undefined && s.ratio !== undefined ? `${formatMs(s.medianMs)} (×${s.ratio.toFixed(2)})${s.slower ? ' ▲' : ''}` : '';
  const log = s.log ? `[${s.logRun ? 'earlier log' : 'log'}](${href(s.log)})` : '';
  const reason = s.error && s.error !== s.reason ? (s.reason ? `${s.reason}; error: ${s.error}` : `error: ${s.error}`) : (s.reason ?? '');
  const name = s.description ? `${md(s.name)} — ${md(s.description)}` : md(s.name);
  return `| ${name} | ${s.selected ? md(s.status ?? '') : 'not selected'} | ${md(s.action ?? '')} | ${time} | ${vs} | ${s.cpuMs !== undefined ? formatMs(s.cpuMs) : ''} | ${s.peakRssBytes !== undefined ? formatBytes(s.peakRssBytes) : ''} | ${md(reason)} | ${log} |`;
}

/** The lines of steps kept from report to report (frozen: report-memo.ts). */
const keptLines = new WeakMap<ReportStep, string>();

/** A step's line; a frozen row's is kept with it, as it cannot change. */
function stepLineOnce(s: ReportStep): string {
  heapCheckpoint();
  if (!Object.isFrozen(s)) return stepLine(s);
  let line = keptLines.get(s);
  if (line === undefined) keptLines.set(s, (line = stepLine(s)));
  return line;
}

export function renderMarkdown(d: ReportData): string {
  return markdownParts(d)
    .map((p) => (typeof p === 'string' ? p : p.toString('utf8')))
    .join('');
}

/** The step lines' runs kept as bytes (kept-parts.ts). */
const keptLineParts = new KeptParts();

/** The step lines, one part per run of rows, each line after a newline (they follow the
 * table's head). */
function lineParts(steps: readonly ReportStep[]): (string | Buffer)[] {
  return keptLineParts.parts(steps, (rows) => `\n${rows.map(stepLineOnce).join('\n')}`);
}

/** report.md as parts written one after the other: the text before the step lines, runs of
 * step lines (kept as bytes from report to report where their rows are frozen: a daemon's
 * report of 1,000 steps re-encoded ~100 KB each time), the rest. */
export function markdownParts(d: ReportData): (string | Buffer)[] {
  const r = d.run;
  const c = r.counts;
  const out: string[] = [];
  out.push(`# batch ${r.status}: run ${md(r.id)}`, '');
  out.push(`${c.ran} ran, ${c.upToDate} up to date${c.restored ? `, ${c.restored} restored` : ''}${c.failed ? `, ${c.failed} failed` : ''}${c.blocked ? `, ${c.blocked} blocked` : ''} in ${formatMs(r.durationMs)}.`, '');
  out.push('| | |', '|---|---|');
  out.push(`| started | ${md(r.startedAt)} |`, `| ended | ${md(r.endedAt)} |`);
  out.push(`| commit | ${r.git ? `${md(r.git.commit)}${r.git.dirty ? ' (uncommitted changes)' : ''}` : 'not a git work tree'} |`);
  out.push(`| host | ${md(r.host)}, ${r.cpus} CPUs, Node ${md(r.node)} |`);
  out.push(`| flags | ${md(r.flags.join(' ') || 'none')} |`, `| targets | ${md(r.targets.join(' ') || 'whole pipeline')} |`, '');
  const slower = d.steps.filter((s) => s.slower);
  if (slower.length) {
    out.push('## Slower than usual', '');
    for (const s of slower) out.push(`- **${md(s.name)}**: ${formatMs(s.durationMs ?? 0)} against a median of ${formatMs(s.medianMs ?? 0)}`);
    out.push('', `Rule: ${md(d.rule)}.`, '');
  }
  out.push('## Steps', '');
  out.push('| step | status | action | time | median (ratio) | CPU | peak RSS | reason | log |', '|---|---|---|---:|---:|---:|---:|---|---|');
  const head = out.join('\n');
  out.length = 0;
  out.push('');
  out.push('## Integrity tests', '');
  const t = d.tests;
  if (!t) out.push('No test phase in this run.', '');
  else {
    out.push(`${t.status} (${md(t.action)}): ${t.passed} passed, ${t.failed} failed${t.skipped ? `, ${t.skipped} skipped` : ''}. ${md(t.reason)}`, '');
    if (t.cases.length) {
      out.push('| status | file | test | time | message |', '|---|---|---|---:|---|');
      for (const cs of t.cases) out.push(`| ${cs.status} | ${md(cs.file)} | ${md(cs.name)} | ${formatMs(cs.durationMs)} | ${md(cs.message ?? '')} |`);
      out.push('');
    }
  }
  out.push('## Pipeline', '');
  if (d.steps.length <= MERMAID_MAX) out.push(...mermaid(d), '');
  else out.push(`${d.steps.length} steps: too many to draw here; \`batch graph --format dot\` prints the graph.`, '');
  const metrics = d.history.metrics ?? [];
  if (metrics.length > 0) {
    out.push('## Metrics', '', '| step | metric | latest | flag |', '|---|---|---:|---|');
    for (const m of metrics) {
      const last = m.values[m.values.length - 1];
      out.push(`| ${md(m.step)} | ${md(m.metric)} | ${last ?? ''} | ${m.breach ? `OUT OF BOUNDS: ${md(m.breach)}` : ''} |`);
    }
    out.push('');
  }
  out.push(`The HTML report (report.html, next to this file) charts each step's duration${metrics.length > 0 ? ' and each metric' : ''} over its last ${d.history.executions} executions.`, '');
  return [head, ...lineParts(d.steps), `\n${out.join('\n')}`];
}
