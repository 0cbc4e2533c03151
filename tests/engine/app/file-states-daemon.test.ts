// The file-state tracker as the daemon uses it: a real FileStates over a real temp folder, real inotify
// watches and a real LMDB store. A "run" here is what a served run does with it: beforeRun,
// then stat what the run needs. What must hold: a stat it keeps was taken after its folder was
// watched, so that every later change is seen, however the work after a run is cut short.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStates } from '../../../src/app/file-states/file-states.js';
import type { FileStat, StatCache } from '../../../src/fingerprint/stat-cache.js';
import { openStore, type Store } from '../../../src/store/store.js';

let dir: string | undefined;
let store: Store | undefined;
let trusted: FileStates | undefined;
let lines: string[] = [];

afterEach(async () => {
  trusted?.close();
  trusted = undefined;
  await store?.close();
  store = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  lines = [];
});

/** A project of `folders` folders of `files` files each; their paths. */
function project(folders: number, files: number): string[] {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-trusted-'));
  const rels: string[] = [];
  for (let d = 0; d < folders; d++) {
    fs.mkdirSync(path.join(dir, `in/d${d}`), { recursive: true });
    for (let f = 0; f < files; f++) {
      const rel = `in/d${d}/f${f}.txt`;
      fs.writeFileSync(path.join(dir, rel), `file ${d}/${f}\n`);
      rels.push(rel);
    }
  }
  return rels;
}

function open(opts: { slice?: number; maxWatches?: number } = {}): { t: FileStates; stats: StatCache } {
  store = openStore(path.join(dir!, '.cache'));
  trusted = new FileStates({ root: dir!, store, log: (l) => lines.push(l), ...opts });
  return { t: trusted, stats: trusted.cacheFor(store) };
}

/** One run: the cookie sync, then a stat of every path. Returns how many it stat'ed. */
async function run(t: FileStates, stats: StatCache, rels: readonly string[]): Promise<number> {
  await t.beforeRun();
  for (const rel of rels) stats.stat(rel);
  return stats.filesStatted;
}

function same(st: FileStat | null | undefined, rel: string): boolean {
  const real = fs.statSync(path.join(dir!, rel));
  return !!st && st.size === real.size && st.mtimeMs === real.mtimeMs && st.ctimeMs === real.ctimeMs && st.ino === real.ino;
}

/** Writes new content (of another size, so that any stat tells) to a path. */
function edit(rel: string): void {
  fs.appendFileSync(path.join(dir!, rel), 'more\n');
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('FileStates', () => {
  it('after the first run, its idle work keeps every stat: the second run stats nothing', async () => {
    const rels = project(4, 5);
    const { t, stats } = open();
    expect(await run(t, stats, rels)).toBe(rels.length);
    await t.settle();
    expect(lines.at(-1)).toMatch(new RegExp(`^kept the stat of ${rels.length} paths \\(${rels.length} stat'ed again`));
    expect(await run(t, stats, rels)).toBe(0);
    await t.settle();
    expect(await run(t, stats, rels)).toBe(0);
  });

  it('a file changed after the run stat it, before its folder was watched, is held with its new stat', async () => {
    const rels = project(2, 3);
    const { t, stats } = open();
    await run(t, stats, rels);
    // Changed while no watch could see it: only the stat taken again after the watch tells.
    edit('in/d1/f2.txt');
    expect(same(stats.peekStat('in/d1/f2.txt'), 'in/d1/f2.txt')).toBe(false);
    await t.settle();
    for (const rel of rels) expect(same(stats.peekStat(rel), rel), rel).toBe(true);
    // Changed after the idle work: the event forgets it before the next run.
    edit('in/d0/f0.txt');
    expect(await run(t, stats, rels)).toBe(1);
    for (const rel of rels) expect(same(stats.peekStat(rel), rel), rel).toBe(true);
  });

  it('a run that starts while the idle work is half done finishes it first; changes on either side of it are seen', async () => {
    const rels = project(6, 4);
    const { t, stats } = open({ slice: 3 });
    await run(t, stats, rels);
    const settled = t.settle();
    await tick();
    await tick();
    // Some of the paths are judged by now, not all.
    const held = (): number => rels.filter((r) => stats.peekStat(r) !== undefined).length;
    expect(lines.filter((l) => l.startsWith('kept the stat'))).toHaveLength(0);
    // One in a folder already watched (its event forgets it), one in a folder not yet watched
    // (its stat is taken again after the watch).
    edit('in/d0/f0.txt');
    edit('in/d5/f3.txt');
    const n = await run(t, stats, rels);
    await settled;
    expect(held()).toBe(rels.length);
    for (const rel of rels) expect(same(stats.peekStat(rel), rel), rel).toBe(true);
    // Only the one whose event came after its stat was kept.
    expect(n).toBe(1);
    await t.settle();
    expect(await run(t, stats, rels)).toBe(0);
  });

  it('folders it cannot watch (out of inotify watches): their files are stat-ed by every run, changes seen', async () => {
    const rels = project(3, 2);
    // The root, `in` and one of the three folders.
    const { t, stats } = open({ maxWatches: 3 });
    await run(t, stats, rels);
    await t.settle();
    expect(lines.join('\n')).toMatch(/out of inotify watches after 3 folders/);
    const watchedOnes = rels.filter((r) => stats.peekStat(r) !== undefined);
    expect(watchedOnes).toHaveLength(2);
    expect(await run(t, stats, rels)).toBe(4);
    await t.settle();
    const other = rels.find((r) => !watchedOnes.includes(r))!;
    edit(other);
    edit(watchedOnes[0]!);
    expect(await run(t, stats, rels)).toBe(5);
    for (const rel of rels) expect(same(stats.peekStat(rel), rel), rel).toBe(true);
  });

  it('closed (the daemon stopping) during its idle work: the work ends there, quietly', async () => {
    const rels = project(4, 4);
    const { t, stats } = open({ slice: 2 });
    await run(t, stats, rels);
    const settled = t.settle();
    await tick();
    t.close();
    await settled;
    await tick();
    expect(lines).toEqual([]);
    expect(fs.existsSync(path.join(dir!, `.cache/cookies/${process.pid}`))).toBe(false);
  });

  it('keeps no stat of a symbolic link, a hard-linked file, a folder or a path outside the project', async () => {
    const rels = project(1, 2);
    outsideFile = path.join(os.tmpdir(), `batch-trusted-outside-${process.pid}.txt`);
    fs.writeFileSync(outsideFile, 'outside');
    fs.symlinkSync(outsideFile, path.join(dir!, 'in/d0/link.txt'));
    fs.linkSync(path.join(dir!, 'in/d0/f1.txt'), path.join(dir!, 'in/hard.txt'));
    const { t, stats } = open();
    const all = [...rels, 'in/d0/link.txt', 'in/d0', path.relative(dir!, outsideFile)];
    await run(t, stats, all);
    await t.settle();
    // f0 only: f1 has a second name.
    expect(await run(t, stats, all)).toBe(all.length - 1);
    fs.writeFileSync(outsideFile, 'changed outside');
    await run(t, stats, all);
    expect(stats.peekStat('in/d0/link.txt')?.size).toBe('changed outside'.length);
  });

  it('keeps no stat of a file under a folder reached through a symbolic link: the folder it names can be swapped with no event here', async () => {
    const rels = project(1, 1);
    fs.mkdirSync(path.join(dir!, 'real/data'), { recursive: true });
    fs.writeFileSync(path.join(dir!, 'real/data/a.txt'), 'one\n');
    fs.symlinkSync('real/data', path.join(dir!, 'data'));
    const { t, stats } = open();
    const all = [...rels, 'data/a.txt'];
    await run(t, stats, all);
    await t.settle();
    // The plain file is kept; the one behind the link is stat'ed again by every run.
    expect(await run(t, stats, all)).toBe(1);
    await t.settle();
    expect(await run(t, stats, all)).toBe(1);
    await t.settle();
    // The folder behind the link moved away and another put in its place: no event reaches a
    // folder watched here, and the next run must see the new file.
    fs.renameSync(path.join(dir!, 'real'), path.join(dir!, 'real_old'));
    fs.mkdirSync(path.join(dir!, 'real/data'), { recursive: true });
    fs.writeFileSync(path.join(dir!, 'real/data/a.txt'), 'two, longer\n');
    await run(t, stats, all);
    expect(same(stats.peekStat('data/a.txt'), 'data/a.txt')).toBe(true);
    expect(stats.peekStat('data/a.txt')?.size).toBe('two, longer\n'.length);
  });
});

let outsideFile: string | undefined;
afterEach(() => {
  if (outsideFile) fs.rmSync(outsideFile, { force: true });
  outsideFile = undefined;
});
