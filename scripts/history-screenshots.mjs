#!/usr/bin/env node
// Makes docs/report.png and docs/terminal-summary.png (the README's screenshots of the run
// report and of the terminal summary) from real runs of a small demo pipeline:
//   npm run build && node scripts/history-screenshots.mjs
// The demo lives in build/history-demo (git-ignored, inside the repo so its integrity test
// resolves vitest). Eight runs build up timing history; then the `train` step's command
// changes and gets slower, and the ninth run flags it. Needs Debian's `chromium`
// (apt-get install chromium); never downloads a browser.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demo = path.join(root, 'build', 'history-demo');
const cli = path.join(root, 'bin', 'batch.js');

function batchfile(trainSeconds) {
  // Each step sleeps like real work and writes its output; `sh -c` keeps it one line.
  const step = (out, secs, ins, about = '') =>
    `{ command: ${JSON.stringify(`sleep ${secs} && mkdir -p out && cat ${ins.join(' ')} > ${out}`)}, inputs: ${JSON.stringify(ins)}, outputs: [${JSON.stringify(out)}]${about ? `, description: ${JSON.stringify(about)}` : ''} }`;
  return `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    download: ${step('out/raw.csv', 0.5, ['data/source.csv'], "the day's extract from the source system")},
    validate: ${step('out/validate.json', 0.25, ['out/raw.csv', 'data/rules.json'])},
    tidy: ${step('out/clean.csv', 0.7, ['out/raw.csv'])},
    features: ${step('out/features.csv', 0.9, ['out/clean.csv'])},
    train: ${step('out/model.bin', trainSeconds, ['out/features.csv'], 'gradient-boosted model on the features')},
    evaluate: ${step('out/metrics.json', 0.35, ['out/model.bin', 'out/validate.json'])},
    publish: ${step('out/report.csv', 0.2, ['out/metrics.json'])},
  },
  tests: { files: ['tests/*.test.ts'] },
});
`;
}

fs.rmSync(demo, { recursive: true, force: true });
fs.mkdirSync(path.join(demo, 'data'), { recursive: true });
fs.mkdirSync(path.join(demo, 'tests'), { recursive: true });
fs.writeFileSync(path.join(demo, 'data/source.csv'), 'id,value\n1,10\n2,20\n');
fs.writeFileSync(path.join(demo, 'data/rules.json'), '{"min":0}\n');
fs.writeFileSync(path.join(demo, 'tests/outputs.test.ts'), `import fs from 'node:fs';
import { expect, it } from 'vitest';
it('publishes a report', () => expect(fs.existsSync('out/report.csv')).toBe(true));
it('keeps every row', () => expect(fs.readFileSync('out/report.csv', 'utf8')).toContain('2,20'));
`);
fs.writeFileSync(path.join(demo, 'Batchfile.ts'), batchfile(1.2));

const run = (args, env = {}) => {
  // -j is a flag of runs only (per-command flags).
  const jobs = args[0] === 'trends' ? [] : ['-j', '2'];
  const r = spawnSync(process.execPath, [cli, '-C', demo, ...jobs, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`batch ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
};
for (let i = 0; i < 8; i++) {
  // Mostly whole runs; now and then only the rules change (validate and its dependents rerun).
  if (i === 3 || i === 6) fs.writeFileSync(path.join(demo, 'data/rules.json'), `{"min":${i}}\n`);
  else run(['-f']);
  if (i === 3 || i === 6) run([]);
  process.stderr.write(`run ${i + 1}/8\n`);
}
// The change that makes train slower.
fs.writeFileSync(path.join(demo, 'Batchfile.ts'), batchfile(2.6));
const summary = run([], { FORCE_COLOR: '1' });
const trends = run(['trends'], { FORCE_COLOR: '1' });

// ANSI → HTML for the terminal picture (only the codes the CLI uses).
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLOURS = { 1: 'font-weight:bold', 2: 'opacity:.6', 31: 'color:#ff6b6b', 32: 'color:#5fd068', 33: 'color:#f0c050' };
function ansiToHtml(text) {
  let out = '';
  let open = 0;
  for (const part of text.split(/(\x1b\[\d+m)/)) {
    const m = /^\x1b\[(\d+)m$/.exec(part);
    if (!m) out += esc(part);
    else if (m[1] === '0') {
      out += '</span>'.repeat(open);
      open = 0;
    } else {
      out += `<span style="${COLOURS[m[1]] ?? ''}">`;
      open++;
    }
  }
  return out + '</span>'.repeat(open);
}
const termHtml = `<!doctype html><meta charset="utf-8"><body style="margin:0;background:#1e1f24">
<pre style="margin:0;padding:18px 22px;color:#e6e6e6;font:13px/1.4 'DejaVu Sans Mono',monospace;white-space:pre">` +
  `<span style="color:#8be9fd">$</span> batch\n${ansiToHtml(summary.trimEnd())}\n\n<span style="color:#8be9fd">$</span> batch trends\n${ansiToHtml(trends.trimEnd())}</pre></body>`;
const termFile = path.join(demo, 'terminal.html');
fs.writeFileSync(termFile, termHtml);

const chromiumPath = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run', '--disable-component-update', '--disable-sync'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(pathToFileURL(path.join(demo, 'logs', 'report.html')).href);
  await page.waitForSelector('#report-data[data-drawn="true"]', { state: 'attached' });
  await page.screenshot({ path: path.join(root, 'docs', 'report.png'), fullPage: true });
  const term = await browser.newPage({ viewport: { width: 1280, height: 400 }, deviceScaleFactor: 1 });
  await term.goto(pathToFileURL(termFile).href);
  const pre = term.locator('pre');
  await pre.screenshot({ path: path.join(root, 'docs', 'terminal-summary.png') });
} finally {
  await browser.close();
}
console.log('wrote docs/report.png and docs/terminal-summary.png');
