// examples/ml-pipeline, copied to a temp folder and driven through the real CLI: params from
// params.yaml rerun exactly the stages reading a changed key (a comment edit reruns nothing),
// `batch metrics --diff` shows metric and param changes, and a metric
// that crosses its bound is flagged by `batch trends` and by the report, checked in Chromium.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TempProject } from '../rig.js';

const EXAMPLE = path.join(REPO, 'examples/ml-pipeline');
const SKIP = new Set(['build', 'eval', 'logs', '.cache']);

let p: TempProject;
beforeAll(() => {
  p = TempProject.create();
  fs.cpSync(EXAMPLE, p.dir, { recursive: true, filter: (src) => !SKIP.has(path.relative(EXAMPLE, src).split(path.sep)[0]!) });
});
afterAll(() => p.cleanup());

const ran = (steps: { name: string; action: string }[]): string[] => steps.filter((s) => s.action === 'ran').map((s) => s.name).sort();

function setParam(section: string, key: string, value: string | number): void {
  const text = p.read('params.yaml');
  const re = new RegExp(`(\\n${section}:\\n(?:  .*\\n)*?  ${key}: )[^\\n#]*`);
  expect(text).toMatch(re);
  p.write('params.yaml', text.replace(re, `$1${value} `));
}

describe('the ML example', () => {
  it('runs every stage once and records the metrics', async () => {
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(ran(r.steps)).toEqual(['evaluate', 'featurize', 'prepare', 'train']);
    const m = await p.batch(['metrics', '--json']);
    const { metrics } = JSON.parse(m.stdout) as { metrics: { step: string; metric: string; latest: number }[] };
    expect(metrics.map((x) => x.metric).sort()).toEqual(['accuracy', 'precision', 'recall', 'roc_auc']);
    const acc = metrics.find((x) => x.metric === 'accuracy')!.latest;
    expect(JSON.parse(p.read('eval/metrics.json')).accuracy).toBe(acc);
    expect(p.read('logs/metrics.csv')).toMatch(new RegExp(`^run_id,timestamp,step,metric,value\\n.*,evaluate,accuracy,${acc}\\n`));
  });

  it('a comment-only or formatting edit of params.yaml reruns nothing', async () => {
    p.write('params.yaml', `# retuned ${Date.now()}\n${p.read('params.yaml').replace('max_features: 60', 'max_features:   60   # vocabulary size')}`);
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(ran(r.steps)).toEqual([]);
  });

  it('each key change reruns the stage reading it (and what reads its outputs), never a stage upstream', async () => {
    setParam('train', 'n_est', 50);
    let r = await p.run();
    expect(ran(r.steps)).toEqual(['evaluate', 'train']);
    setParam('featurize', 'max_features', 40);
    r = await p.run();
    expect(ran(r.steps)).not.toContain('prepare');
    expect(ran(r.steps)).toContain('featurize');
    setParam('train', 'min_split', 3);
    r = await p.run();
    expect(ran(r.steps)).not.toContain('prepare');
    expect(ran(r.steps)).not.toContain('featurize');
    expect(ran(r.steps)).toContain('train');
    setParam('prepare', 'split', 0.3);
    r = await p.run();
    expect(ran(r.steps)).toContain('prepare');
  });

  it('explain names the changed key and both values', async () => {
    setParam('train', 'n_est', 45);
    try {
      const e = await p.batch(['explain', 'train']);
      expect(e.code, e.stderr).toBe(0);
      expect(e.stdout).toMatch(/run\s+train\s+param changed: train\.n_est 50 -> 45\n/);
      const dry = await p.batch(['--dry-run']);
      expect(dry.stdout).toMatch(/param changed: train\.n_est 50 -> 45\n/);
      expect(dry.stdout).not.toMatch(/train\.seed|train\.min_split/);
    } finally {
      await p.run();
    }
  });

  it('`batch metrics --diff` shows the metric changes and the param changes between two runs', async () => {
    setParam('train', 'n_est', 45);
    await p.run();
    setParam('train', 'n_est', 1);
    const r = await p.run();
    expect(ran(r.steps)).toEqual(['evaluate', 'train']);
    const d = await p.batch(['metrics', '--diff', '--json']);
    expect(d.code, d.stderr).toBe(0);
    const diff = JSON.parse(d.stdout) as { metrics: { step: string; metric: string; old: number; new: number; change: number }[]; params: { param: string; old: unknown; new: unknown }[] };
    const acc = diff.metrics.find((m) => m.metric === 'accuracy')!;
    expect(acc.new).toBe(JSON.parse(p.read('eval/metrics.json')).accuracy);
    expect(acc.change).toBeCloseTo(acc.new - acc.old, 10);
    expect(diff.params).toEqual([{ param: 'params.yaml:train.n_est', old: 45, new: 1 }]);
    const text = await p.batch(['metrics', '--diff', 'previous', 'latest']);
    expect(text.stdout).toMatch(/evaluate\s+roc_auc\s+[\d.]+\s+[\d.]+\s+-[\d.]+\n/);
    expect(text.stdout).toMatch(/params\.yaml:train\.n_est\s+45\s+1/);
  });

  it('a metric that crossed its bound is flagged by `batch trends`', async () => {
    const t = await p.batch(['trends']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/evaluate\s+roc_auc\s+[\d.]+\s+-[\d.]+\s+min 0\.8, maxDrop 0\.02\s.*OUT OF BOUNDS: below min 0\.8\n/);
    expect(t.stdout).toMatch(/1 metric out of bounds: evaluate roc_auc\n/);
    const j = JSON.parse((await p.batch(['trends', '--json'])).stdout) as { metrics: { metric: string; outOfBounds: boolean }[] };
    expect(j.metrics.filter((m) => m.outOfBounds).map((m) => m.metric)).toEqual(['roc_auc']);
  });

  it('watch mode picks up a params change within one cycle', async () => {
    const run = p.start(['--watch', '--no-tests']);
    try {
      await run.waitFor(/cycle 1: PASS[^\n]*ran: none/, 60_000);
      const from = run.output.length;
      setParam('train', 'n_est', 30);
      const m = await run.waitFor(/cycle 2: (\w+) [^\n]*changed: params\.yaml \| ran: ([^|]*) \|/, 60_000, from);
      expect(m[1]).toBe('PASS');
      expect(m[2]!.split(', ').sort()).toEqual(['evaluate', 'train']);
    } finally {
      run.kill('SIGINT');
      await run.exited;
    }
    // Back to the value of the run before, so the bound checks below see the crossing.
    setParam('train', 'n_est', 1);
    await p.run();
  });

  it('the report charts the metrics and flags the one out of bounds (Chromium)', async () => {
    const exe = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
    const browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
      await page.goto(pathToFileURL(p.path('logs/report.html')).href);
      await page.waitForSelector('#report-data[data-drawn="true"]', { state: 'attached', timeout: 30_000 });
      expect(await page.locator('#metric-bounds li').allTextContents()).toEqual([expect.stringMatching(/^evaluate roc_auc = [\d.]+: below min 0\.8 \(bounds: min 0\.8, maxDrop 0\.02\)$/)]);
      const charts = page.locator('#metric-charts .chart.metric');
      expect(await charts.count()).toBe(4);
      const flagged = page.locator('#metric-charts .chart.metric.slower');
      expect(await flagged.count()).toBe(1);
      expect(await flagged.first().getAttribute('data-metric')).toBe('evaluate roc_auc');
      const canvas = await flagged.first().locator('canvas').boundingBox();
      expect(canvas?.width ?? 0).toBeGreaterThan(200);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
