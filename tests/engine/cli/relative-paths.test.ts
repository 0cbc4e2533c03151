// Every path the CLI prints is relative to the project, the store, lock, logs-folder and
// report messages too (issue 19, point 4), including the system's own text inside them
// (an errno message names the absolute path). Real runs of the real CLI in temp folders; the
// folders are broken by putting a file where a folder must be (the tests may run as root, for
// whom permissions stop nothing).
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { batchfile, cmd } from '../helpers.js';
import { TempProject, type BatchResult } from '../rig.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

function project(): TempProject {
  p = TempProject.create({
    'in.txt': 'x',
    'Batchfile.ts': batchfile(`  a: { command: ${cmd('--in', 'in.txt', '--out', 'out/a.txt')}, inputs: ['in.txt'], outputs: ['out/a.txt'] },`),
  });
  return p;
}

/** What the user sees, with the project's absolute path nowhere in it. */
function shown(r: BatchResult, dir: string): string {
  const all = `${r.stdout}${r.stderr}`;
  expect(all).not.toContain(dir);
  return all;
}

describe('paths in messages are relative to the project', () => {
  it('no store yet, and a damaged store', async () => {
    const t = project();
    const none = await t.batch(['history']);
    expect(none.code).toBe(2);
    expect(shown(none, t.dir)).toContain('error: No run records yet: .cache/store does not exist. Run `batch` first.');

    expect((await t.batch([])).code).toBe(0);
    fs.writeFileSync(t.path('.cache/store/data.mdb'), 'not an LMDB file, not at all, nothing like one');
    const damaged = await t.batch(['history']);
    expect(damaged.code).toBe(3);
    expect(shown(damaged, t.dir)).toMatch(/error: The store at \.cache\/store is damaged \(.+\)\. Remove it with `batch clean --store`/);
  });

  it('a cache folder that cannot be made: the run, the lock of prune and of clean', async () => {
    const t = project();
    t.write('.cache', 'a file where the cache folder goes');
    const run = await t.batch([]);
    expect(run.code).toBe(3);
    expect(shown(run, t.dir)).toMatch(/error: Cannot (write the compiled Batchfile under|create) \.cache\b.*'\.cache(\/[^']*)?'/);
    const prune = await t.batch(['history', '--prune', '--keep', '1']);
    expect(shown(prune, t.dir)).toMatch(/error: (No run records yet: \.cache\/store does not exist|Cannot create \.cache: .*'\.cache')/);
    const clean = await t.batch(['clean', 'a']);
    expect(clean.code).not.toBe(0);
    expect(shown(clean, t.dir)).toMatch(/error: Cannot (write the compiled Batchfile under|create) \.cache\b.*'\.cache(\/[^']*)?'/);
  });

  it('a logs folder that cannot be written, and a report that cannot be', async () => {
    const t = project();
    t.write('logs', 'a file where the logs folder goes');
    const run = await t.batch([]);
    expect(run.code).toBe(3);
    expect(shown(run, t.dir)).toMatch(/error: Cannot write the run logs under logs: .*'logs\/runs'.*\. It must be a writable folder\./);

    t.remove('logs');
    fs.mkdirSync(t.path('logs/report.html'), { recursive: true });
    fs.writeFileSync(t.path('logs/report.html/keep'), 'a folder where the report goes');
    const ok = await t.batch(['-f']);
    expect(ok.code).toBe(0);
    expect(shown(ok, t.dir)).toMatch(/warning: could not write the run report under logs: .*logs\/report\.html/);
    // The report line of a run that wrote its report names it relatively too.
    t.remove('logs/report.html');
    const again = await t.batch(['-f']);
    expect(shown(again, t.dir)).toMatch(/^report: logs\/report\.html$/m);
  });
});
