// The HTML report of a large pipeline: every step keeps its table row, while the JSON block
// (read only by the page's script, which draws the DAG from it up to MAX_DAG_STEPS) leaves
// the step list out when no DAG is drawn: it was a third of a 10,000-step report's bytes.
import { describe, expect, it } from 'vitest';
import type { ReportData, ReportStep } from '../../../src/report/html/data.js';
import { renderHtml, renderMarkdown } from '../../../src/report/html/write.js';

function data(n: number, draw: boolean): ReportData {
  const steps: ReportStep[] = Array.from({ length: n }, (_, i) => ({
    name: `s${i}`, selected: true, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0, timeLabel: 'up to date', slower: false,
    deps: i > 0 ? [`s${i - 1}`] : [], ...(i % 2 ? { log: `runs/r1/s${i}.log`, logRun: 'r1' } : {}),
  }));
  steps[3] = { ...steps[3]!, action: 'ran', reason: 'input changed: a<b', error: 'exit 1 & more', status: 'FAIL', durationMs: 1500, timeLabel: '1.50s', cpuMs: 20, peakRssBytes: 2048, log: 'runs/r2/s3.log' };
  delete steps[3]!.logRun;
  return {
    run: { id: 'r2', status: 'FAIL', startedAt: 'a', endedAt: 'b', durationMs: 5, host: 'h', cpus: 2, node: 'v20', flags: [], targets: [], counts: { ran: 1, upToDate: n - 1, restored: 0, failed: 1, blocked: 0, notRun: 0 } },
    steps, history: { runs: [], charts: [], omitted: 0 }, rule: 'rule', dag: draw ? { draw: true } : { draw: false, note: 'too many' },
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
