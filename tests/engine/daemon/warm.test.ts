// A newly started daemon: once a served run is over, while it is idle, it watches the folders
// of the files the run stat'ed and stats them again after the watch, so that its second
// served run already finds every file known. Real daemon processes, real inotify events.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject, waitForFile } from '../rig.js';
import { batchfile, cmd, table } from '../helpers.js';
import { Daemons } from './daemons.js';

let p: TempProject | undefined;
const daemons = new Daemons();

afterEach(async () => {
  await daemons.stopAll(p);
  p?.cleanup();
  p = undefined;
});


const filesStatted = (r: unknown): number => (r as { checks: { filesStatted: number } }).checks.filesStatted;

/** Waits (bounded) until the daemon has logged `n` ends of its work after a run. */
async function idleWorkDone(project: TempProject, n: number): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    const log = project.exists('.cache/daemon/daemon.log') ? project.read('.cache/daemon/daemon.log') : '';
    if ((log.match(/ kept the stat of /g) ?? []).length >= n) return;
    if (Date.now() > until) throw new Error(`the daemon did not finish its work after run ${n}:\n${log}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `folders` steps, each reading `files` inputs in a folder of its own. */
function wide(folders: number, files: number): { files: Record<string, string>; steps: Record<string, string> } {
  const out: Record<string, string> = {};
  let body = '';
  for (let d = 0; d < folders; d++) {
    const ins: string[] = [];
    for (let f = 0; f < files; f++) {
      out[`in/d${d}/f${f}.txt`] = `folder ${d} file ${f}\n`;
      ins.push(`in/d${d}/f${f}.txt`);
    }
    body += `  d${d}: { command: ${cmd(...ins.flatMap((i) => ['--in', i]), '--out', `out/d${d}.txt`)}, inputs: ${JSON.stringify(ins)}, outputs: ['out/d${d}.txt'] },\n`;
  }
  out['Batchfile.ts'] = batchfile(body);
  return { files: out, steps: Object.fromEntries(Array.from({ length: folders }, (_, d) => [`d${d}`, 'PASS up-to-date'])) };
}

describe('a newly started daemon', () => {
  it('stats, from its second served run on, no file that did not change', async () => {
    const { files, steps } = wide(6, 8);
    p = TempProject.create(files);
    expect((await p.run(['--no-daemon'])).code).toBe(0);
    await daemons.start(p);
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await p.run();
      expect(r.code, r.stderr).toBe(0);
      expect(table(r.steps)).toEqual(steps);
      counts.push(filesStatted(r));
    }
    // The first stats every input and output (48 + 6); the second, as every later one, none.
    expect(counts[0]).toBeGreaterThanOrEqual(54);
    expect(counts.slice(1)).toEqual([0, 0, 0]);
    // Without a daemon, every run stats them all.
    expect(filesStatted(await p.run(['--no-daemon']))).toBe(counts[0]);
  });

  it('sees a file changed right after a run (during its idle work) and one changed after that work', async () => {
    const { files, steps } = wide(5, 4);
    p = TempProject.create(files);
    expect((await p.run(['--no-daemon'])).code).toBe(0);
    await daemons.start(p);
    let r = await p.run();
    expect(table(r.steps)).toEqual(steps);
    p.write('in/d3/f2.txt', 'changed at once\n');
    r = await p.run();
    expect(table(r.steps)).toEqual({ ...steps, d3: 'PASS ran' });
    await idleWorkDone(p, 2);
    p.write('in/d1/f0.txt', 'changed later\n');
    // Same size, mtime put back: only the event can tell.
    const before = fs.statSync(p.path('in/d4/f1.txt'));
    p.write('in/d4/f1.txt', files['in/d4/f1.txt']!.toUpperCase());
    fs.utimesSync(p.path('in/d4/f1.txt'), before.atime, before.mtime);
    r = await p.run();
    expect(table(r.steps)).toEqual({ ...steps, d1: 'PASS ran', d4: 'PASS ran' });
    await idleWorkDone(p, 3);
    r = await p.run();
    expect(table(r.steps)).toEqual(steps);
  });

  it('sees a file changed after the run stat-ed it and before its folder was watched', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
  b: { command: ${cmd('--in', 'data/b.txt', '--out', 'out/b.txt')}, inputs: ['data/b.txt'], outputs: ['out/b.txt'] },
  slow: { command: ${cmd('--in', 'out/b.txt', '--started', 'slow.started', '--wait-for', 'release', '--out', 'out/slow.txt')}, inputs: ['out/b.txt'], outputs: ['out/slow.txt'] },
`),
      'data/b.txt': 'beta',
    });
    await daemons.start(p);
    // The first served run: nothing is watched yet. `b` has read data/b.txt (its stat is
    // recorded with it) by the time `slow` starts.
    const first = p.start([]);
    await waitForFile(p.path('slow.started'));
    p.write('data/b.txt', 'BETA, changed while no watch was set');
    p.write('release', '');
    expect((await first.exited).code, first.output).toBe(0);
    const r = await p.run();
    expect(table(r.steps)).toEqual({ b: 'PASS ran', slow: 'PASS ran' });
    expect(p.read('out/b.txt')).toBe('BETA, changed while no watch was set');
  });
});
