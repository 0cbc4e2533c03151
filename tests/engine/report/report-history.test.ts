// The report after real runs with no-op runs between, in real headless Chromium (Debian's
// `chromium` through playwright-core): each step's chart draws a dot for every one of its
// executions (no-op runs neither hide nor push out any), the log link and the figures of a
// step that did not run are those of the execution that wrote its current outputs (not a later
// failed one) and are marked as earlier, descriptions show (as text), and the DAG — a shape
// whose long edges dagre routes around the nodes — stays inside its panel.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMs } from '../../../src/util/duration.js';
import { batchfile, cmd } from '../helpers.js';
import { TempProject } from '../rig.js';

/** The report's chart length (CHART_EXECUTIONS): the runs below outnumber it. */
const N = 30;

// A DAG whose long edges (s0 -> s8 and the like) dagre routes past the nodes' extent.
const DEPS: Record<string, string[]> = { s0: [], s1: ['s0'], s2: [], s3: ['s0'], s4: ['s0', 's3'], s5: ['s0'], s6: ['s2', 's5'], s7: ['s6'], s8: ['s0', 's1', 's4', 's6'] };
const DESCRIPTION = 'Reads <b>raw</b> rows & "cleans" them';

function pipeline(): string {
  const steps = Object.entries(DEPS).map(([name, deps]) => {
    const ins = [`in/${name}.txt`, ...deps.map((d) => `out/${d}.txt`)];
    const write = cmd(...ins.flatMap((f) => ['--in', f]), '--out', `out/${name}.txt`);
    // s5 refuses an input holding "bad", before writing anything.
    const command = name === 's5' ? JSON.stringify(`if grep -q bad in/s5.txt; then echo refusing >&2; exit 3; fi; ${JSON.parse(write) as string}`) : write;
    const about = name === 's0' ? `, description: ${JSON.stringify(DESCRIPTION)}` : '';
    return `  ${name}: { command: ${command}, inputs: ${JSON.stringify(ins)}, outputs: ['out/${name}.txt']${about} },`;
  });
  return batchfile(steps.join('\n'));
}

let browser: Browser;
let p: TempProject;

beforeAll(async () => {
  const exe = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run'] });
  p = TempProject.create({ 'Batchfile.ts': pipeline(), ...Object.fromEntries(Object.keys(DEPS).map((n) => [`in/${n}.txt`, `${n}\n`])) });
});
afterAll(async () => {
  await browser?.close();
  p?.cleanup();
});

interface Execution {
  runId: string;
  status: string;
  durationMs: number;
  cpuMs: number | null;
  logFile?: string;
}

/** Every execution of a step, oldest first, as `batch history STEP` reports them. */
async function executions(step: string): Promise<Execution[]> {
  const r = await p.batch(['history', step, '--json', '--limit', '1000']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { executions: Execution[] }).executions.reverse();
}

async function noOps(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps.every((s) => s.action === 'up-to-date'), JSON.stringify(r.steps)).toBe(true);
  }
}

async function open(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
  await page.goto(pathToFileURL(p.path('logs/report.html')).href);
  await page.waitForSelector('#report-data[data-drawn="true"]', { state: 'attached', timeout: 30_000 });
  return { page, errors };
}

/** The page's data block, as the report wrote it. */
async function reportData(page: Page): Promise<{ history: { charts: { step: string; runs: string[] }[] } }> {
  return JSON.parse((await page.locator('#report-data').textContent()) ?? '{}') as { history: { charts: { step: string; runs: string[] }[] } };
}

/** The parts of a chart's box (and of the uPlot instance it keeps) the dot check reads. */
interface ChartBox {
  uplot: {
    data: (number | null)[][];
    valToPos(v: number, scale: string, canvasPixels: boolean): number;
    ctx: { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
  };
}

/** For each passed point of a step's chart (by its run): whether the canvas shows a filled dot
 * there (the series colour at the centre and 2 px left, right, above and below it: more than a
 * line through the point covers). */
async function dots(page: Page, step: string, runs: string[]): Promise<{ run: string; dot: boolean }[]> {
  const chart = page.locator(`#charts .chart[data-step="${step}"]`);
  if ((await chart.count()) === 0) return [];
  const found = await chart.evaluate((box) => {
    const u = (box as unknown as ChartBox).uplot;
    const blue = (x: number, y: number): boolean => {
      const [r, g, b, a] = Array.from(u.ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data);
      return a! > 200 && Math.abs(r! - 0x2e) < 40 && Math.abs(g! - 0x7d) < 40 && Math.abs(b! - 0xd7) < 40;
    };
    const out: { i: number; dot: boolean }[] = [];
    // Series 1 is the median, 2 the passed executions.
    u.data[2]!.forEach((d, i) => {
      if (d === null) return;
      const x = u.valToPos(i, 'x', true);
      const y = u.valToPos(d, 'y', true);
      out.push({ i, dot: [[0, 0], [-2, 0], [2, 0], [0, -2], [0, 2]].every(([dx, dy]) => blue(x + dx!, y + dy!)) });
    });
    return out;
  });
  return found.map(({ i, dot }) => ({ run: runs[i] ?? '?', dot }));
}

interface Row {
  cells: ArrayLike<{ firstChild: { textContent: string | null } | null; textContent: string | null }>;
  querySelector(s: string): { getAttribute(name: string): string | null } | null;
  querySelectorAll(s: string): { length: number };
}

type Rect = { x0: number; y0: number; x1: number; y1: number };

async function rectOf(page: Page, selector: string): Promise<Rect> {
  const b = (await page.locator(selector).boundingBox())!;
  return { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height };
}

/** What every check below expects of the newest report (soft assertions: each point of the
 * issue is reported on its own). */
async function checkReport(label: string): Promise<void> {
  // Each step's executions, asked once per check (a CLI run each).
  const byStep = new Map<string, Execution[]>();
  for (const step of Object.keys(DEPS)) byStep.set(step, await executions(step));
  const executionsOf = (step: string): Execution[] => byStep.get(step)!;
  const { page, errors } = await open();
  try {
    // Charts: each step's last N executions, each passed one drawn as a dot.
    for (const step of ['s0', 's2', 's5']) {
      const all = executionsOf(step).slice(-N);
      const chart = (await reportData(page)).history.charts.find((c) => c.step === step);
      expect.soft(chart?.runs, `${label}: chart of ${step}`).toEqual(all.map((e) => e.runId));
      expect.soft(await dots(page, step, chart?.runs ?? []), `${label}: dots of ${step}`).toEqual(all.filter((e) => e.status === 'PASS').map((e) => ({ run: e.runId, dot: true })));
    }

    // The step table, row by row: the name (without its description), cells, log link.
    const rows = new Map((await page.locator('#steps tbody tr').evaluateAll((trs) => trs.map((el) => {
      const tr = el as unknown as Row;
      const cells = Array.from(tr.cells);
      return { name: cells[0]!.firstChild?.textContent ?? '', cells: cells.map((c) => c.textContent ?? ''), href: tr.querySelector('a')?.getAttribute('href') ?? null, earlier: tr.querySelectorAll('td.num.earlier').length };
    }))).map((r) => [r.name, r]));

    // s5's outputs are those of its last passed execution (restored after the failure): its
    // log link and its figures are that execution's, marked with its run.
    const s5 = executionsOf('s5').filter((e) => e.status === 'PASS').pop()!;
    const row = rows.get('s5') ?? { href: null, cells: [], earlier: 0 };
    expect.soft(row.href, label).toBe(`runs/${s5.runId}/s5.log`);
    expect.soft(row.cells[3], `${label}: time`).toBe(formatMs(s5.durationMs));
    expect.soft(row.cells[5], `${label}: CPU`).toBe(s5.cpuMs === null ? '' : formatMs(s5.cpuMs));
    expect.soft(row.cells[2], `${label}: marked as earlier`).toContain(`figures of run ${s5.runId}`);
    expect.soft(row.earlier).toBeGreaterThan(0);

    // Every step's log link exists on disk and is its last passed execution's.
    for (const step of Object.keys(DEPS)) {
      const last = executionsOf(step).filter((e) => e.status === 'PASS').pop()!;
      const href = rows.get(step)?.href;
      expect.soft(href, `${label}: log of ${step}`).toBe(`runs/${last.runId}/${step}.log`);
      expect.soft(href !== null && href !== undefined && fs.existsSync(path.join(p.dir, 'logs', href)), `${label}: log of ${step} on disk`).toBe(true);
    }

    // The description, as text.
    expect.soft(await page.locator('#steps tbody tr').first().locator('.desc').allTextContents(), `${label}: description`).toEqual([DESCRIPTION]);
    expect.soft(await page.locator('#steps b').count()).toBe(0);

    // The DAG: every node and edge inside the picture, and the picture inside its panel.
    const geometry = {
      panel: await rectOf(page, '#dag'),
      svg: await rectOf(page, '#dag svg'),
      items: await page.locator('#dag svg path.edge, #dag svg a.node').evaluateAll((els) => els.map((e) => {
        const r = e.getBoundingClientRect();
        return { what: e.getAttribute('class'), x0: r.left, y0: r.top, x1: r.right, y1: r.bottom };
      })),
    };
    const inside = (a: Rect, b: Rect): boolean => a.x0 >= b.x0 - 0.5 && a.y0 >= b.y0 - 0.5 && a.x1 <= b.x1 + 0.5 && a.y1 <= b.y1 + 0.5;
    expect.soft(geometry.items.filter((i) => i.what === 'edge')).toHaveLength(Object.values(DEPS).flat().length);
    expect.soft(inside(geometry.svg, geometry.panel), `${label}: picture in panel`).toBe(true);
    expect.soft(geometry.items.filter((i) => !inside(i, geometry.svg) || !inside(i, geometry.panel)), `${label}: off the panel`).toEqual([]);
    expect.soft(errors).toEqual([]);
  } finally {
    await page.close();
  }
}

describe('the report over real runs with no-op runs between', () => {
  it('charts every execution, links the current outputs’ log and figures, shows descriptions, keeps the DAG in its panel', async () => {
    expect((await p.run()).code).toBe(0);
    // s2 executes now and then, with no-op runs between.
    for (let i = 0; i < 3; i++) {
      p.write('in/s2.txt', `s2 v${i}\n`);
      expect((await p.run()).steps.find((s) => s.name === 's2')?.action).toBe('ran');
      await noOps(1);
    }
    // s5 fails on a bad input, then its input goes back: its outputs come back from the
    // output cache (those of its last passed execution), and it is up to date after.
    p.write('in/s5.txt', 'bad\n');
    const failed = await p.run(['-k']);
    expect(failed.steps.find((s) => s.name === 's5')).toMatchObject({ status: 'FAIL', action: 'ran' });
    p.write('in/s5.txt', 's5\n');
    expect((await p.run()).steps.find((s) => s.name === 's5')?.action).toBe('restored');

    // Some no-op runs: every execution is still within the last N runs.
    await noOps(12);
    await checkReport('after 12 no-op runs');
    // More no-op runs than the chart holds: nothing is pushed out.
    await noOps(N - 8);
    await checkReport(`after ${N + 4} no-op runs`);
  }, 300_000);
});
