// logs/report.html in real headless Chromium (Debian's `chromium`, driven by playwright-core;
// .ci/run installs it): the DAG, the table and the charts render, nothing errs, nothing is
// fetched but the file itself, and user text carrying HTML shows as text.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord, StepResult } from '../../../src/store/types.js';
import { fake, REPO, TempProject } from '../rig.js';

type WriteModule = typeof import('../../../src/report/html/write.js');

function chromiumPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: `apt-get install -y chromium` (.ci/run does it); this test never downloads a browser');
  }
}

let browser: Browser;
const projects: TempProject[] = [];

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  for (const p of projects) p.cleanup();
});

interface Opened {
  page: Page;
  errors: string[];
  requests: string[];
}

/** Opens a report from disk and waits until its script has drawn the pictures. */
async function open(file: string): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('#report-data[data-drawn="true"]', { state: 'attached', timeout: 30_000 });
  return { page, errors, requests };
}

async function box(page: Page, selector: string): Promise<{ width: number; height: number }> {
  const b = await page.locator(selector).first().boundingBox();
  return { width: b?.width ?? 0, height: b?.height ?? 0 };
}

describe('report.html in Chromium', () => {
  it('renders the DAG, the table and the charts of a real pipeline, offline and without errors', async () => {
    const p = TempProject.create({
      'in.txt': 'hello',
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  extract: { command: ${JSON.stringify(`echo extracting && ${fake('--in', 'in.txt', '--out', 'out/e.txt')}`)}, inputs: ['in.txt'], outputs: ['out/e.txt'] },
  transform: { command: ${JSON.stringify(`echo transforming >&2 && ${fake('--in', 'out/e.txt', '--out', 'out/t.txt')}`)}, inputs: ['out/e.txt'], outputs: ['out/t.txt'] },
  load: { command: ${JSON.stringify(fake('--in', 'out/t.txt', '--out', 'out/l.txt'))}, inputs: ['out/t.txt'], outputs: ['out/l.txt'] },
  broken: { command: ${JSON.stringify(fake('--in', 'in.txt', '--out', 'out/b.txt', '--exit', '3'))}, inputs: ['in.txt'], outputs: ['out/b.txt'] },
}});`,
    });
    projects.push(p);
    expect((await p.run(['-k'])).code).toBe(1);
    const last = await p.run(['-k', '-f']);
    expect(last.code).toBe(1);

    const { page, errors, requests } = await open(p.path('logs/report.html'));
    expect(errors).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);

    // The DAG: one node per step, edges between them, a picture with a size.
    expect(await page.locator('#dag svg a.node').count()).toBe(4);
    expect(await page.locator('#dag svg path.edge').count()).toBe(2);
    const dag = await box(page, '#dag svg');
    expect(dag.width).toBeGreaterThan(100);
    expect(dag.height).toBeGreaterThan(20);
    const failedFill = await page.locator('#dag svg a.node', { hasText: 'broken' }).locator('rect').getAttribute('fill');
    expect(failedFill).toBe('#d64545');
    expect(await page.locator('#dag svg a.node', { hasText: 'transform' }).textContent()).toMatch(/transform\d+(ms|\.\d+s)/);

    // The table: a row per step with status, and a log link that exists on disk for each step
    // that has a log: one that printed (extract, transform) or failed (broken); load printed
    // nothing, so it has none.
    const rows = page.locator('#steps tbody tr');
    expect(await rows.count()).toBe(4);
    expect(await rows.filter({ hasText: 'broken' }).locator('.st').textContent()).toBe('FAIL');
    const hrefs = await page.locator('#steps a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    expect(hrefs.map((h) => h.replace(/^.*\//, '')).sort()).toEqual(['broken.log', 'extract.log', 'transform.log']);
    for (const h of hrefs) expect(fs.existsSync(path.join(p.dir, 'logs', decodeURIComponent(h))), h).toBe(true);
    expect(hrefs.every((h) => h.startsWith(`runs/${last.runId}/`))).toBe(true);

    // The charts: one per step that ran, each a uPlot canvas with a size.
    expect(await page.locator('#charts .chart').count()).toBe(4);
    const canvas = await box(page, '#charts .chart canvas');
    expect(canvas.width).toBeGreaterThan(100);
    expect(canvas.height).toBeGreaterThan(50);
    await page.close();
  });

  it('shows HTML in user data as text: nothing runs, no element is injected', async () => {
    const p = TempProject.create({});
    projects.push(p);
    const mod = (await import(pathToFileURL(path.join(REPO, 'dist/report/html/write.js')).href)) as WriteModule;
    const evil = '<img src=x onerror="window.__xss=1">';
    const now = Date.now();
    const record: RunRecord = {
      id: '20260101T000000000Z-evil', startedAt: now, endedAt: now + 10, durationMs: 10, status: 'FAIL', flags: ['--force'], targets: [],
      git: { commit: 'abcdef0123456789abcdef0123456789abcdef01', dirty: true }, host: `<b>host</b>`, cpus: 2, node: process.version,
      counts: { ran: 1, upToDate: 0, restored: 0, failed: 1, blocked: 0, notRun: 0 },
      tests: { status: 'FAIL', action: 'ran', reason: 'tests changed', durationMs: 5, passed: 0, failed: 1, skipped: 0, cases: [{ file: 'tests/x.test.ts', name: `checks ${evil}`, status: 'FAIL', durationMs: 1, message: `expected ${evil} to be "<script>window.__xss=2</script>"` }] },
    };
    // Step names are validated to [A-Za-z0-9_.:@+-]; the report escapes them regardless.
    const results: StepResult[] = [
      { name: evil, status: 'PASS', action: 'ran', reason: `input changed: ${evil}`, durationMs: 5, logFile: 'logs/runs/x/a.log' },
      { name: 'ok', status: 'FAIL', action: 'ran', reason: '</script><script>window.__xss=3</script>', error: `<svg onload="window.__xss=4">`, durationMs: 3 },
    ];
    const graph = { order: [evil, 'ok'], deps: new Map([[evil, []], ['ok', [evil]]]) };
    const written = mod.writeReports({ record, results, graph, root: p.dir, logsDir: p.path('logs') });

    const { page, errors, requests } = await open(written.html);
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    expect(await page.evaluate(() => (globalThis as { __xss?: unknown }).__xss)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('main svg[onload], main [onerror]').count()).toBe(0);
    expect(await page.locator('#steps tbody tr').first().locator('td').first().textContent()).toBe(evil);
    expect(await page.locator('#steps').textContent()).toContain('</script><script>window.__xss=3</script>');
    expect(await page.locator('#test-cases').textContent()).toContain(`expected ${evil} to be`);
    expect(await page.locator('#run').textContent()).toContain('<b>host</b>');
    expect(await page.locator('#dag svg a.node').first().textContent()).toContain(evil);
    expect(await page.locator('#charts .chart h3').first().textContent()).toContain(evil);
    await page.close();

    // The Markdown report escapes the same text.
    const md = fs.readFileSync(written.md, 'utf8');
    expect(md).not.toMatch(/<img|<script|<svg|<b>/);
    expect(md).toContain('&lt;img src=x onerror="window.\\_\\_xss=1"&gt;');
  });
});
