// The report of a pipeline with a forEach step, in real headless Chromium: the instances are
// boxed together under their step's name in the picture, and the steps table lists each one.
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, cmd } from '../helpers.js';

const p = TempProject.create({
  'data/a.csv': 'a',
  'data/b.csv': 'b',
  'data/c.csv': 'c',
  'Batchfile.ts': batchfile(`
  tidy: { forEach: 'data/*.csv', command: ${cmd('--in', '{path}', '--out', 'out/{stem}.csv')}, inputs: ['{path}'], outputs: ['out/{stem}.csv'] },
  merge: { command: 'cat out/*.csv > all.csv', inputs: ['out/*.csv'], outputs: ['all.csv'] },
`),
});
afterAll(() => p.cleanup());

it('boxes the instances of a forEach step under its name', async () => {
  expect((await p.run()).code).toBe(0);
  const exe = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  const browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(p.path('logs/report.html')).href);
    await page.waitForSelector('#report-data[data-drawn="true"]', { state: 'attached', timeout: 30_000 });
    expect(await page.locator('#dag text.group-label').allTextContents()).toEqual(['tidy (forEach)']);
    const box = await page.locator('#dag rect.group').boundingBox();
    // Every instance's node lies inside the box; the merge step's does not.
    const nodes = await page.locator('#dag a.node').evaluateAll((els) => els.map((e) => {
      const r = e.querySelector('rect')!.getBoundingClientRect();
      return { name: e.querySelector('text')?.textContent ?? '', x: r.x, y: r.y, w: r.width, h: r.height };
    }));
    const inside = (n: { x: number; y: number; w: number; h: number }): boolean => !!box && n.x >= box.x && n.y >= box.y && n.x + n.w <= box.x + box.width && n.y + n.h <= box.y + box.height;
    expect(nodes.filter(inside).map((n) => n.name).sort()).toEqual(['tidy:a', 'tidy:b', 'tidy:c']);
    expect(nodes.find((n) => n.name === 'merge')).toBeDefined();
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
});
