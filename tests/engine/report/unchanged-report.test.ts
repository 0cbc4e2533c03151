// A no-op that would show what the report already shows (the report of an earlier no-op of
// the same config, still in place) leaves logs/report.html and report.md as they are
// (src/report/unchanged-report.ts); everything else writes them.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';

let p: TempProject;
const BATCHFILE = (desc: string): string => `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  a: { command: 'echo a > out/a.txt', outputs: ['out/a.txt'], description: '${desc}' },
  b: { command: 'cat out/a.txt > out/b.txt', inputs: ['out/a.txt'], outputs: ['out/b.txt'] },
}});
`;

beforeAll(() => {
  p = TempProject.create({ 'Batchfile.ts': BATCHFILE('first'), 'out/.keep': '' });
});
afterAll(() => p.cleanup());

/** A run's id, what it printed about the report, and the report files' mtimes after it. */
async function run(args: string[] = []): Promise<{ id: string; line: string; mtimes: number[] }> {
  const r = await p.batch(args);
  expect(r.code, r.stderr).toBe(0);
  const id = /run (\S+-\w{4})\n/.exec(r.stdout)?.[1];
  expect(id, r.stdout).toBeDefined();
  const line = r.stdout.split('\n').find((l) => l.startsWith('report: ')) ?? '';
  return { id: id!, line, mtimes: ['logs/report.html', 'logs/report.md'].map((f) => fs.statSync(p.path(f)).mtimeMs) };
}

const shows = (id: string): boolean => p.read('logs/report.md').includes(`run ${id}`) && p.read('logs/report.html').includes(id);

describe('the report after a no-op', () => {
  it('is kept when an earlier no-op report shows the same, and written after anything else', async () => {
    const build = await run();
    expect(shows(build.id)).toBe(true);
    // The first no-op after a build writes its own.
    const first = await run();
    expect(shows(first.id)).toBe(true);
    expect(first.line).toBe('report: logs/report.html');
    // The next one shows the same: kept, and the terminal says whose it is.
    const second = await run();
    expect(second.line).toBe(`report: logs/report.html (unchanged: run ${first.id} showed the same)`);
    expect(second.mtimes).toEqual(first.mtimes);
    expect(shows(first.id)).toBe(true);

    // Another config (a description changed, nothing to run): written.
    p.write('Batchfile.ts', BATCHFILE('second'));
    const edited = await run();
    expect(shows(edited.id)).toBe(true);
    expect(p.read('logs/report.html')).toContain('second');
    expect((await run()).line).toContain(`unchanged: run ${edited.id}`);

    // Other targets: written.
    const target = await run(['b']);
    expect(shows(target.id)).toBe(true);
    const back = await run();
    expect(shows(back.id)).toBe(true);

    // A report file removed or edited since: written.
    p.remove('logs/report.md');
    const removed = await run();
    expect(shows(removed.id)).toBe(true);
    fs.appendFileSync(p.path('logs/report.html'), '<!-- edited -->');
    const edit = await run();
    expect(shows(edit.id)).toBe(true);

    // A run that ran a step writes it, and the no-op after it writes its own again.
    const forced = await run(['--force']);
    expect(shows(forced.id)).toBe(true);
    const after = await run();
    expect(shows(after.id)).toBe(true);
    expect((await run()).line).toContain(`unchanged: run ${after.id}`);

    // Runs pruned from the history: the kept report would name a removed run and link its
    // deleted logs, so the next no-op writes its own.
    const pruned = await p.batch(['history', '--prune', '--keep', '1']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout + pruned.stderr).toContain(after.id);
    const fresh = await run();
    expect(fresh.line).toBe('report: logs/report.html');
    expect(shows(fresh.id)).toBe(true);
    expect(p.read('logs/report.html')).not.toContain(after.id);
  });
});
