// Real runs: the terminal summary shows each step's time against its median and flags a
// regression; logs/report.html and logs/report.md are written after every run, no-op too.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fake, TempProject } from '../rig.js';
import { recordRuns } from '../history/record.js';

let p: TempProject;

beforeAll(async () => {
  p = TempProject.create({
    'in.txt': 'hello',
    'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  // Both print, so both have a log (a step that prints nothing has none).
  a: { command: ${JSON.stringify(`echo making a && ${fake('--in', 'in.txt', '--out', 'out/a.txt')}`)}, inputs: ['in.txt'], outputs: ['out/a.txt'] },
  // At least 300 ms, against a recorded history of 10 ms: slower by any rule.
  slow: { command: ${JSON.stringify(`sleep 0.3 && echo making slow && ${fake('--in', 'out/a.txt', '--out', 'out/slow.txt')}`)}, inputs: ['out/a.txt'], outputs: ['out/slow.txt'] },
}});`,
  });
  // Six earlier runs through the real recorder: slow took 10 ms each time; a never ran.
  await recordRuns(p.dir, Array.from({ length: 6 }, () => ({ steps: { a: 'skip' as const, slow: 10 } })));
});
afterAll(() => p.cleanup());

describe('after a run', () => {
  it('--json carries each step’s median and the regression flag', async () => {
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    const by = new Map(r.steps.map((s) => [s.name, s as typeof s & { medianMs?: number; slower?: boolean }]));
    expect(by.get('slow')).toMatchObject({ action: 'ran', medianMs: 10, slower: true });
    expect(by.get('slow')!.durationMs).toBeGreaterThanOrEqual(300);
    expect(by.get('a')!.medianMs).toBeUndefined(); // no earlier execution of a
  });

  it('the terminal summary shows the median column and the flag; the report says it too', async () => {
    const r = await p.batch(['-f']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('STATUS'))).toMatch(/TIME\s+MEDIAN\s+STEP/);
    expect(lines.find((l) => /\bslow\b/.test(l) && l.startsWith('PASS'))).toMatch(/10ms ×\d+\.\d\d ▲/);
    expect(r.stdout).toMatch(/▲ 1 step slower than usual: slow \S+ \(median 10ms\)/);
    expect(r.stdout).toMatch(/report: .*logs\/report\.html/);

    const html = p.read('logs/report.html');
    expect(html).toContain('<section id="regressions">');
    const md = p.read('logs/report.md');
    expect(md).toMatch(/## Slower than usual\n\n- \*\*slow\*\*: \S+ against a median of 10ms/);
    // Log links are relative to logs/ and point at this run's logs.
    const links = [...md.matchAll(/\[log\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(links).toHaveLength(2);
    for (const l of links) expect(fs.existsSync(path.join(p.dir, 'logs', l)), l).toBe(true);
  });

  it('a no-op run rewrites the report, linking the logs of the last execution', async () => {
    const before = fs.statSync(p.path('logs/report.md')).mtimeMs;
    const r = await p.run();
    expect(r.steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date']);
    const md = p.read('logs/report.md');
    expect(fs.statSync(p.path('logs/report.md')).mtimeMs).toBeGreaterThanOrEqual(before);
    expect(md).toContain(`# batch PASS: run ${r.runId}`);
    expect(md).toContain('0 ran, 2 up to date');
    const links = [...md.matchAll(/\[earlier log\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(links).toHaveLength(2);
    for (const l of links) expect(fs.existsSync(path.join(p.dir, 'logs', l)), l).toBe(true);
    expect(p.read('logs/report.html')).toContain(r.runId);
  });
});
