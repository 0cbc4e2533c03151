// The HTML report of a large pipeline: every step keeps its table row, while the JSON block
// (read only by the page's script, which draws the DAG from it up to MAX_DAG_STEPS) leaves
// the step list out when no DAG is drawn: it was a third of a 10,000-step report's bytes.
import { describe, expect, it } from 'vitest';
import type { ReportData, ReportStep } from '../../../src/report/html/data.js';
import { htmlParts, markdownParts, renderHtml, renderMarkdown } from '../../../src/report/html/write.js';

function data(n: number, draw: boolean): ReportData {
  const steps: ReportStep[] = Array.from({ length: n }, (_, i) => ({
    name: `s${i}`, selected: true, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0, timeLabel: 'up to date', slower: false,
    deps: i > 0 ? [`s${i - 1}`] : [], ...(i % 2 ? { log: `runs/r1/s${i}.log`, logRun: 'r1' } : {}),
  }));
  steps[3] = { ...steps[3]!, action: 'ran', reason: 'input changed: a<b', error: 'exit 1 & more', status: 'FAIL', durationMs: 1500, timeLabel: '1.50s', cpuMs: 20, peakRssBytes: 2048, log: 'runs/r2/s3.log' };
  delete steps[3]!.logRun;
  return {
    run: { id: 'r2', status: 'FAIL', startedAt: 'a', endedAt: 'b', durationMs: 5, host: 'h', cpus: 2, node: 'v20', flags: [], targets: [], counts: { ran: 1, upToDate: n - 1, restored: 0, failed: 1, blocked: 0, notRun: 0 } },
    steps, history: { executions: 30, charts: [], omitted: 0 }, rule: 'rule', dag: draw ? { draw: true } : { draw: false, note: 'too many' },
  };
}

const block = (page: string): { steps: unknown[] } => JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(page)![1]!) as { steps: unknown[] };

describe('renderHtml', () => {
  it('keeps the step list in the data block only when the DAG is drawn; every row in the table either way', () => {
    for (const draw of [true, false]) {
      const page = renderHtml(data(500, draw));
      expect(block(page).steps).toHaveLength(draw ? 500 : 0);
      expect(page.match(/<tr id="step-\d+"/g)).toHaveLength(500);
      expect(page).toContain('<tr id="step-1"><td>s1</td><td><span class="st PASS">PASS</span></td><td>up-to-date</td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="reason">up to date</td><td><a href="runs/r1/s1.log">earlier log</a> <span class="muted">(r1)</span></td></tr>');
      expect(page).toContain('<tr id="step-3"><td>s3</td><td><span class="st FAIL">FAIL</span></td><td>ran</td><td class="num">1.50s</td><td class="num"></td><td class="num">20ms</td><td class="num">2.0 KiB</td><td class="num"></td><td class="num"></td><td class="reason">input changed: a&lt;b\nerror: exit 1 &amp; more</td><td><a href="runs/r2/s3.log">log</a></td></tr>');
    }
  });

  it('Markdown: one row per step, reason and error joined', () => {
    const text = renderMarkdown(data(500, false));
    expect(text.split('\n').filter((l) => /^\| s\d+ \|/.test(l))).toHaveLength(500);
    expect(text).toContain('| s3 | FAIL | ran | 1.50s |  | 20ms | 2.0 KiB | input changed: a&lt;b; error: exit 1 &amp; more | [log](runs/r2/s3.log) |');
  });
});

describe('frozen rows (a daemon reusing its last report\'s rows)', () => {
  const bytesOf = (parts: (string | Buffer)[]): string => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))).toString('utf8');
  const thawed = (d: ReportData): ReportData => ({ ...d, steps: d.steps.map((s) => ({ ...s })) });

  it('gives the same page as plain rows, reusing the bytes of each run of rows that did not change', () => {
    const d = data(300, false);
    for (const s of d.steps) Object.freeze(s);
    const first = htmlParts(d);
    expect(bytesOf(first)).toBe(renderHtml(thawed(d)));
    // One row replaced (its step ran): the other runs of rows are the same bytes, not made again.
    const next: ReportData = { ...d, steps: [...d.steps] };
    next.steps[130] = Object.freeze({ ...d.steps[130]!, action: 'ran', timeLabel: '2.00s', durationMs: 2000, reason: 'input changed' });
    const second = htmlParts(next);
    expect(bytesOf(second)).toBe(renderHtml(thawed(next)));
    expect(bytesOf(second)).toContain('<td>ran</td><td class="num">2.00s</td>');
    const buffers = (parts: (string | Buffer)[]): Buffer[] => parts.filter((p): p is Buffer => Buffer.isBuffer(p));
    const same = buffers(second).filter((b) => buffers(first).includes(b));
    // Of 5 runs of 64 rows, the one holding row 130 was made again; the libraries' bytes are kept too.
    expect(buffers(second)).toHaveLength(7);
    expect(same).toHaveLength(6);
    // Rows that are not frozen are never kept: a row changed in place shows.
    const open = data(300, false);
    htmlParts(open);
    open.steps[5]!.reason = 'changed in place';
    expect(bytesOf(htmlParts(open))).toContain('changed in place');
  });

  it('Markdown: the same text as plain rows, reusing the bytes of each run of step lines that did not change', () => {
    const d = data(300, false);
    for (const s of d.steps) Object.freeze(s);
    const first = markdownParts(d);
    const plain = renderMarkdown(thawed(d));
    expect(bytesOf(first)).toBe(plain);
    // The lines as the table has them: its head, 300 step lines, then the next section.
    const lines = plain.split('\n');
    const at = lines.indexOf('|---|---|---|---:|---:|---:|---:|---|---|');
    expect(lines.slice(at + 1, at + 301).every((l, i) => l.startsWith(`| s${i} |`))).toBe(true);
    expect(lines.slice(at + 301, at + 303)).toEqual(['', '## Integrity tests']);
    const next: ReportData = { ...d, steps: [...d.steps] };
    next.steps[200] = Object.freeze({ ...d.steps[200]!, action: 'ran', timeLabel: '2.00s', durationMs: 2000, reason: 'input changed' });
    const second = markdownParts(next);
    expect(bytesOf(second)).toBe(renderMarkdown(thawed(next)));
    expect(bytesOf(second)).toContain('| s200 | PASS | ran | 2.00s |');
    const buffers = (parts: (string | Buffer)[]): Buffer[] => parts.filter((p): p is Buffer => Buffer.isBuffer(p));
    // Of 5 runs of 64 lines, the one holding line 200 was made again.
    expect(buffers(second)).toHaveLength(5);
    expect(buffers(second).filter((b) => buffers(first).includes(b))).toHaveLength(4);
    // Rows that are not frozen are never kept; no steps at all gives the table's head alone.
    const open = data(300, false);
    markdownParts(open);
    open.steps[5]!.reason = 'changed in place';
    expect(bytesOf(markdownParts(open))).toContain('changed in place');
    const none: ReportData = { ...data(5, false), steps: [] };
    expect(bytesOf(markdownParts(none))).toBe(renderMarkdown(none));
    expect(renderMarkdown(none)).toContain('|---|---|---|---:|---:|---:|---:|---|---|\n\n## Integrity tests');
  });
});

describe('a step that did not execute, with a description', () => {
  it('shows the figures of the execution that wrote its outputs, marked with its run; the description escaped', () => {
    const d = data(5, true);
    d.steps[1] = {
      ...d.steps[1]!, description: 'Cleans <b>rows</b> & "dupes"', durationMs: 1200, cpuMs: 900, peakRssBytes: 4096,
      figuresFrom: { runId: 'r1', startedAt: '2026-12-07T19:14:06.227Z' },
    };
    const page = renderHtml(d);
    expect(page).toContain('<tr id="step-1"><td>s1<div class="desc">Cleans &lt;b&gt;rows&lt;/b&gt; &amp; &quot;dupes&quot;</div></td><td><span class="st PASS">PASS</span></td>' +
      '<td>up-to-date<div class="from">figures of run r1 (2026-12-07 19:14:06 UTC)</div></td><td class="num earlier">1.20s</td><td class="num"></td><td class="num earlier">900ms</td><td class="num earlier">4.0 KiB</td>');
    const text = renderMarkdown(d);
    expect(text).toContain('| s1 — Cleans &lt;b&gt;rows&lt;/b&gt; &amp; "dupes" | PASS | up-to-date | 1.20s (run r1) |  | 900ms | 4.0 KiB | up to date | [earlier log](runs/r1/s1.log) |');
  });
});
