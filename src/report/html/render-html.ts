// report.html: one self-contained page. The table, metadata and tests are plain HTML (they
// read without JavaScript); the DAG (dagre) and the duration charts (uPlot) are drawn by the
// inlined script from the JSON data block. Every piece of user text is escaped here or set
// with textContent by the script; a Content-Security-Policy forbids any network access.
import { formatBytes, formatMs } from '../../util/duration.js';
import { loadAssets } from './assets.js';
import { CLIENT_FUNCTIONS } from './client.js';
import type { ReportData, ReportStep } from './data.js';
import type { MetricChart } from './metric-charts.js';
import { href, html, inlineScript, jsonForScript } from './escape.js';
import { heapCheckpoint } from '../../util/heap-checkpoint.js';
import { KeptParts } from './kept-parts.js';

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'";

const STYLE = `
:root { --pass: #2e9d49; --fail: #d64545; --warn: #e69500; --muted: #666; --line: #e3e3e3; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { padding: 18px 28px; color: #fff; }
header.PASS { background: var(--pass); } header.FAIL { background: var(--fail); } header.INTERRUPTED { background: var(--warn); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .sub { opacity: .92; }
main { padding: 8px 28px 40px; max-width: 1500px; }
section { margin-top: 22px; }
h2 { font-size: 17px; margin: 0 0 8px; }
h3 { font-size: 13px; margin: 0 0 4px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
table { border-collapse: collapse; background: #fff; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.reason { max-width: 520px; overflow-wrap: anywhere; }
.meta td:first-child { color: var(--muted); }
.st { font-weight: 600; } .st.PASS { color: var(--pass); } .st.FAIL { color: var(--fail); } .st.BLOCKED, .st.SKIP { color: var(--warn); }
tr.slower td { background: #fff1f1; }
.flag { color: #b00020; font-weight: 600; white-space: nowrap; }
.muted { color: var(--muted); }
.desc { color: var(--muted); font-size: 12px; min-width: 14em; max-width: 360px; overflow-wrap: anywhere; white-space: pre-wrap; }
.from { color: var(--muted); font-size: 11px; min-width: 16em; }
td.reason { min-width: 8em; }
td.earlier { color: var(--muted); font-style: italic; }
#dag { background: #fff; border: 1px solid var(--line); padding: 8px; overflow: auto; max-height: 80vh; min-height: 60px; }
#dag a.node:hover rect { filter: brightness(.93); }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px; vertical-align: -2px; }
#charts, #metric-charts { display: flex; flex-wrap: wrap; gap: 14px; }
.chart { background: #fff; border: 1px solid var(--line); padding: 8px; }
.chart.slower { border-color: #b00020; }
.readout { font-size: 11px; color: var(--muted); min-height: 1.4em; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font-size: 12px; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; }
`;

function bytes(n: number | undefined): string {
  return n === undefined ? '' : formatBytes(n);
}

/** A cell that is empty in most rows (an up-to-date step has no time, metrics or median). */
function numCell(text: string, cls: string): string {
  return text === '' ? `<td class="${cls}"></td>` : `<td class="${cls}">${html(text)}</td>`;
}

const NOT_SELECTED = '<span class="muted">not selected</span>';
/** The status cell of each status, escaped once. */
const statusCells = new Map<string, string>();
function statusCell(status: string): string {
  let cell = statusCells.get(status);
  if (cell === undefined) statusCells.set(status, (cell = `<span class="st ${html(status)}">${html(status)}</span>`));
  return cell;
}

/** The name cell: the name, and the step's description under it. */
function nameCell(s: ReportStep): string {
  return s.description ? `<td>${html(s.name)}<div class="desc">${html(s.description)}</div></td>` : `<td>${html(s.name)}</td>`;
}

/** The action cell; for a step that did not execute, which earlier execution its figures are. */
function actionCell(s: ReportStep): string {
  const action = s.action === undefined ? '' : html(s.action);
  const from = s.figuresFrom;
  if (!from) return `<td>${action}</td>`;
  return `<td>${action}<div class="from">figures of run ${html(from.runId)} (${html(`${from.startedAt.slice(0, 19).replace('T', ' ')} UTC`)})</div></td>`;
}

/** The rows of steps kept from report to report (frozen: report-memo.ts), by row and place. */
const keptRows = new WeakMap<ReportStep, { i: number; text: string }>();

/** A step's row; a frozen one's text is kept with it, as it cannot change. */
function stepRowOnce(s: ReportStep, i: number): string {
  heapCheckpoint();
  if (!Object.isFrozen(s)) return stepRow(s, i);
  const kept = keptRows.get(s);
  if (kept?.i === i) return kept.text;
  const text = stepRow(s, i);
  keptRows.set(s, { i, text });
  return text;
}

// One row per step: 10,000 of them in a large pipeline's report, so each is built with as
// few intermediate strings and escapes as the cells allow.
function stepRow(s: ReportStep, i: number): string {
  const timed = s.action === 'ran' || s.action === 'restored' || s.figuresFrom !== undefined;
  // Figures of an earlier execution are set apart (italic, muted) from this run's.
  const num = s.figuresFrom ? 'num earlier' : 'num';
  let vs = s.medianMs !== undefined && s.ratio !== undefined ? html(`${formatMs(s.medianMs)} (×${s.ratio.toFixed(2)})`) : '';
  if (s.slower) vs += ' <span class="flag">▲ slower</span>';
  let log = '';
  if (s.log) log = s.logRun ? `<a href="${html(href(s.log))}">earlier log</a> <span class="muted">(${html(s.logRun)})</span>` : `<a href="${html(href(s.log))}">log</a>`;
  const reason = s.error && s.error !== s.reason ? (s.reason ? `${s.reason}\nerror: ${s.error}` : `error: ${s.error}`) : (s.reason ?? '');
  return `<tr id="step-${i}"${s.slower ? ' class="slower"' : ''}>${nameCell(s)}<td>${s.selected ? statusCell(s.status ?? '') : NOT_SELECTED}</td>${actionCell(s)}` +
    numCell(timed ? formatMs(s.durationMs ?? 0) : '', num) +
    `<td class="num">${vs}</td>` +
    numCell(s.cpuMs !== undefined ? formatMs(s.cpuMs) : '', num) + numCell(bytes(s.peakRssBytes), num) +
    numCell(bytes(s.bytesRead), num) + numCell(bytes(s.bytesWritten), num) +
    `<td class="reason">${html(reason)}</td><td>${log}</td></tr>`;
}

function metaTable(d: ReportData): string {
  const r = d.run;
  const rows: [string, string][] = [
    ['run', r.id],
    ['started', r.startedAt],
    ['ended', r.endedAt],
    ['duration', formatMs(r.durationMs)],
    ['commit', r.git ? `${r.git.commit}${r.git.dirty ? ' (uncommitted changes)' : ''}` : 'not a git work tree'],
    ['host', `${r.host} · ${r.cpus} CPUs · Node ${r.node}`],
    ['flags', r.flags.join(' ') || 'none'],
    ['targets', r.targets.join(' ') || 'whole pipeline'],
  ];
  return `<table class="meta">${rows.map(([k, v]) => `<tr><td>${html(k)}</td><td>${html(v)}</td></tr>`).join('')}</table>`;
}

function testsSection(d: ReportData): string {
  const t = d.tests;
  if (!t) return '<section id="tests"><h2>Integrity tests</h2><p class="muted">No test phase in this run.</p></section>';
  const head = `<p><span class="st ${html(t.status)}">${html(t.status)}</span> ${html(t.action)} · ${t.passed} passed, ${t.failed} failed${t.skipped ? `, ${t.skipped} skipped` : ''}${t.action === 'ran' ? ` · ${html(formatMs(t.durationMs))}` : ''} <span class="muted">${html(t.reason)}</span></p>`;
  if (t.cases.length === 0) return `<section id="tests"><h2>Integrity tests</h2>${head}</section>`;
  const rows = t.cases.map((c) => `<tr><td><span class="st ${html(c.status)}">${html(c.status)}</span></td><td>${html(c.file)}</td><td>${html(c.name)}</td><td class="num">${html(formatMs(c.durationMs))}</td><td><pre>${html(c.message ?? '')}</pre></td></tr>`);
  return `<section id="tests"><h2>Integrity tests</h2>${head}<table id="test-cases"><thead><tr><th>status</th><th>file</th><th>test</th><th>time</th><th>message</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

/** The inlined libraries and client script, escaped once per process (they are most of the
 * page's bytes, and the same in every report). */
let inlined: { headBytes: Buffer; tailBytes: Buffer; credits: string } | undefined;
function inlinedAssets(): NonNullable<typeof inlined> {
  if (inlined) return inlined;
  const a = loadAssets();
  const css = a.uplotCss.replace(/<\//g, '<\\/');
  // The client's functions, then a call of its entry (the last; named as the build named it).
  const client = inlineScript(`${CLIENT_FUNCTIONS.map((f) => f.toString()).join('\n')}\n${CLIENT_FUNCTIONS[CLIENT_FUNCTIONS.length - 1]!.name}();`);
  inlined = {
    headBytes: Buffer.from(`<style>${css}${STYLE}</style>`, 'utf8'),
    tailBytes: Buffer.from(`<script>${inlineScript(a.dagreJs)}</script>\n<script>${inlineScript(a.uplotJs)}</script>\n<script>${client}</script>\n</body></html>\n`, 'utf8'),
    credits: a.credits.map(html).join(' and '),
  };
  return inlined;
}

/** The page's text. */
export function renderHtml(d: ReportData): string {
  return htmlParts(d)
    .map((p) => (typeof p === 'string' ? p : p.toString('utf8')))
    .join('');
}

/** The page as parts to write one after the other: its text, with the inlined libraries (the
 * same in every report) and runs of unchanged step rows as bytes encoded once, so a report
 * that differs from the last in a few rows encodes only those. */
export function htmlParts(d: ReportData): (string | Buffer)[] {
  const a = inlinedAssets();
  return [htmlHead(d), a.headBytes, htmlTop(d), ...rowParts(d.steps), htmlBottom(d), a.tailBytes];
}

function htmlHead(d: ReportData): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(`batch ${d.run.status} — run ${d.run.id}`)}</title>
`;
}

/** From the header to the step table's body. */
function htmlTop(d: ReportData): string {
  const r = d.run;
  const c = r.counts;
  const slower = d.steps.filter((s) => s.slower);
  const counts = [`${c.ran} ran`, `${c.upToDate} up to date`, c.restored ? `${c.restored} restored` : '', c.failed ? `${c.failed} failed` : '', c.blocked ? `${c.blocked} blocked` : ''].filter(Boolean).join(', ');
  const legend = [['#2e9d49', 'ran'], ['#d3ecd9', 'up to date'], ['#5b8def', 'restored'], ['#d64545', 'failed'], ['#f0ad4e', 'blocked / not run'], ['#e4e4e4', 'not selected']]
    .map(([col, name]) => `<span><i style="background:${col}"></i>${name}</span>`).join('') + '<span><i style="border:3px solid #b00020"></i>slower than usual</span>';
  return `
</head><body>
<header class="${html(r.status)}"><h1>${html(r.status)}</h1><div class="sub">${html(`${counts} in ${formatMs(r.durationMs)} · run ${r.id} · ${r.startedAt}`)}</div></header>
<main>
<section id="run">${metaTable(d)}</section>
${slower.length ? `<section id="regressions"><h2>Slower than usual</h2><ul>${slower.map((s) => `<li><b>${html(s.name)}</b>: ${html(formatMs(s.durationMs ?? 0))} against a median of ${html(formatMs(s.medianMs ?? 0))}</li>`).join('')}</ul><p class="muted">${html(d.rule)}</p></section>` : ''}
${metricBoundsSection(d)}
<section id="graph"><h2>Pipeline</h2><div id="dag"></div><div class="legend">${legend}</div></section>
<section id="steps-section"><h2>Steps</h2>
<table id="steps"><thead><tr><th>step</th><th>status</th><th>action</th><th>time</th><th>median (ratio)</th><th>CPU</th><th>peak RSS</th><th>read</th><th>written</th><th>reason</th><th>log</th></tr></thead>
<tbody>`;
}

/** From the end of the step table to the data block, before the inlined libraries. */
function htmlBottom(d: ReportData): string {
  return `</tbody></table></section>
${testsSection(d)}
<section id="history"><h2>Duration of each step’s last ${d.history.executions} executions</h2>
<div id="charts"></div>
<p class="muted">${d.history.charts.length === 0 ? 'No step has executed yet. ' : ''}${d.history.omitted ? `${d.history.omitted} more steps are not charted (the ${d.history.charts.length} charted are the flagged and the slowest); \`batch history STEP\` shows any step. ` : ''}One point per execution, whatever runs came between (runs where a step was up to date add none). Blue: passed; open red circles: failed; red dots: slower than usual (${html(d.rule)}); dashed: the median. Hover a chart for each execution’s run.</p></section>
${metricsSection(d)}
<footer>Written by batch. Drawn with ${inlinedAssets().credits}, inlined.</footer>
</main>
<script type="application/json" id="report-data">${jsonForScript(d.dag.draw ? d : { ...d, steps: [] })}</script>
`;
}

/** The table's rows' runs kept as bytes (kept-parts.ts). */
const keptRowParts = new KeptParts();

/** The table's rows, one part per run of rows (rows joined by newlines, as one text would be). */
function rowParts(steps: readonly ReportStep[]): (string | Buffer)[] {
  return keptRowParts.parts(steps, (rows, at) => (at === 0 ? '' : '\n') + rows.map((s, i) => stepRowOnce(s, at + i)).join('\n'));
}

function boundText(b: MetricChart['bound']): string {
  return b ? Object.entries(b).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${v}`).join(', ') : '';
}

/** Metrics whose newest value is out of the Batchfile's bounds: listed on the page itself. */
function metricBoundsSection(d: ReportData): string {
  const out = (d.history.metrics ?? []).filter((m) => m.flagged);
  if (out.length === 0) return '';
  const item = (m: MetricChart): string => {
    const last = m.values[m.values.length - 1];
    return `<li><b>${html(m.step)}</b> ${html(m.metric)} = ${html(String(last))}: ${html(m.breach ?? '')} (bounds: ${html(boundText(m.bound))})</li>`;
  };
  return `<section id="metric-bounds"><h2>Metrics out of bounds</h2><ul>${out.map(item).join('')}</ul></section>`;
}

function metricsSection(d: ReportData): string {
  const m = d.history.metrics ?? [];
  if (m.length === 0) return '';
  return `<section id="metrics"><h2>Metrics: each step’s last ${d.history.executions} values</h2>
<div id="metric-charts"></div>
<p class="muted">One point per run where the step recorded the metric (it ran or was restored; runs where it was up to date add none; \`batch metrics\` lists them). Red: the newest value is out of the bounds the Batchfile declares (\`metricBounds\`); dashed: the bounds min and max.</p></section>`;
}
