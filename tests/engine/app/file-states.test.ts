// The file-state tracker (src/app/file-states/) on its own, as watch mode uses it: a real
// temp folder, real writes, real inotify events. Every wait is for an event the tracker tells
// (or for its cookie, which proves every earlier event was read), with a bounded timeout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStates, type WatchTree } from '../../../src/app/file-states/file-states.js';
import type { StatCache } from '../../../src/fingerprint/stat-cache.js';

let dir: string;
let t: FileStates | undefined;
let heard: string[] = [];
let lines: string[] = [];
let waiters: { rel: string; resolve: () => void }[] = [];

afterEach(() => {
  t?.close();
  t = undefined;
  heard = [];
  lines = [];
  waiters = [];
  fs.rmSync(dir, { recursive: true, force: true });
});

function project(files: Record<string, string>): void {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-file-states-'));
  for (const [rel, content] of Object.entries(files)) write(rel, content);
}

function write(rel: string, content: string): void {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), content);
}

/** Everything under the root is watched whole (as a WatchSet for `**` would have it). */
const ALL: WatchTree = { roots: ['.'], enter: (rel) => !rel.startsWith('.cache') };

function open(opts: { overflowAt?: number; tree?: WatchTree | null } = {}): { files: FileStates; stats: StatCache } {
  const files = new FileStates({ root: dir, store: undefined, log: (l) => lines.push(l), ...(opts.overflowAt ? { overflowAt: opts.overflowAt } : {}) });
  t = files;
  files.subscribe((rel) => {
    heard.push(rel);
    for (const w of waiters.filter((x) => x.rel === rel)) w.resolve();
    waiters = waiters.filter((x) => x.rel !== rel);
  });
  if (opts.tree !== null) files.watchTree(opts.tree ?? ALL);
  return { files, stats: files.cacheFor(undefined) };
}

/** Resolves once the tracker has told `rel` as changed (at once if it has since the last `clear`). */
function told(rel: string, timeoutMs = 5000): Promise<void> {
  if (heard.includes(rel)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no event for ${rel} within ${timeoutMs} ms (heard: ${heard.join(', ')})`)), timeoutMs);
    waiters.push({ rel, resolve: () => (clearTimeout(timer), resolve()) });
  });
}

/** One run as a front end makes it: the cookie sync, then stats; then the idle judging. */
async function run(files: FileStates, stats: StatCache, rels: readonly string[]): Promise<number> {
  await files.beforeRun();
  for (const rel of rels) stats.stat(rel);
  const n = stats.filesStatted;
  await files.settle();
  return n;
}

const size = (rel: string): number => fs.statSync(path.join(dir, rel)).size;

describe('FileStates (watch mode)', () => {
  it('an edit is told and forgets the path; the next look sees the new stat', async () => {
    project({ 'a.txt': '1', 'b.txt': '2' });
    const { files, stats } = open();
    await run(files, stats, ['a.txt', 'b.txt']);
    await files.beforeRun();
    expect(files.isTrusted('a.txt')).toBe(true);
    fs.appendFileSync(path.join(dir, 'a.txt'), '111');
    await told('a.txt');
    expect(stats.peekStat('a.txt')).toBeUndefined();
    expect(files.isTrusted('a.txt')).toBe(false);
    expect(stats.stat('a.txt')?.size).toBe(4);
    // The other file is still held, and nothing else was told.
    expect(stats.peekStat('b.txt')?.size).toBe(1);
    expect(heard.filter((r) => r !== 'a.txt')).toEqual([]);
  });

  it('a create, a delete and a rename are told, and each path then stats as it is', async () => {
    project({ 'a.txt': 'aa', 'gone.txt': 'g' });
    const { files, stats } = open();
    expect(await run(files, stats, ['a.txt', 'gone.txt', 'new.txt', 'moved.txt'])).toBe(4);
    expect(await run(files, stats, ['a.txt', 'gone.txt', 'new.txt', 'moved.txt'])).toBe(0);
    write('new.txt', 'nnn');
    fs.rmSync(path.join(dir, 'gone.txt'));
    fs.renameSync(path.join(dir, 'a.txt'), path.join(dir, 'moved.txt'));
    await Promise.all(['new.txt', 'gone.txt', 'a.txt', 'moved.txt'].map((r) => told(r)));
    expect(await run(files, stats, ['a.txt', 'gone.txt', 'new.txt', 'moved.txt'])).toBe(4);
    expect(stats.peekStat('new.txt')?.size).toBe(3);
    expect(stats.peekStat('gone.txt')).toBeNull();
    expect(stats.peekStat('a.txt')).toBeNull();
    expect(stats.peekStat('moved.txt')?.size).toBe(2);
  });

  it("an editor's atomic save (write a temporary file, rename it over) is told as the file, with its new inode", async () => {
    project({ 'conf.json': '{"n":1}' });
    const { files, stats } = open();
    await run(files, stats, ['conf.json']);
    const before = stats.peekStat('conf.json')!;
    write('.conf.json.swp', '{"n":22}');
    fs.renameSync(path.join(dir, '.conf.json.swp'), path.join(dir, 'conf.json'));
    await told('conf.json');
    expect(await run(files, stats, ['conf.json'])).toBe(1);
    const after = stats.peekStat('conf.json')!;
    expect(after.size).toBe(8);
    expect(after.ino).not.toBe(before.ino);
    await files.beforeRun();
    expect(files.isTrusted('conf.json')).toBe(true);
  });

  it('a new sub-folder is entered: files written before its watch was set and after are both told', async () => {
    project({ 'data/a.csv': '1' });
    const { files, stats } = open({ tree: { roots: ['data'], enter: (rel) => rel === 'data' || rel.startsWith('data/') } });
    await run(files, stats, ['data/a.csv']);
    // Written at once, most likely before the tracker has read the folder's creation.
    write('data/new/deeper/x.csv', 'x');
    await told('data/new/deeper/x.csv');
    write('data/new/deeper/y.csv', 'y');
    await told('data/new/deeper/y.csv');
    expect(await run(files, stats, ['data/new/deeper/x.csv', 'data/new/deeper/y.csv'])).toBe(2);
    await files.beforeRun();
    expect(files.isTrusted('data/new/deeper/y.csv')).toBe(true);
    // A folder renamed away: everything known under it is told and forgotten.
    heard = [];
    fs.renameSync(path.join(dir, 'data/new'), path.join(dir, 'data/old'));
    await told('data/new/deeper/x.csv');
    expect(stats.peekStat('data/new/deeper/y.csv')).toBeUndefined();
    expect(files.isTrusted('data/new/deeper/y.csv')).toBe(false);
    await told('data/old/deeper/y.csv');
  });

  it('a burst of edits settles to the last state', async () => {
    project({ 'a.txt': '' });
    const { files, stats } = open();
    await run(files, stats, ['a.txt']);
    for (let i = 1; i <= 50; i++) fs.writeFileSync(path.join(dir, 'a.txt'), 'x'.repeat(i));
    await told('a.txt');
    // The cookie proves every event of the burst was read: whatever the run sees is the last write.
    await files.beforeRun();
    expect(stats.stat('a.txt')?.size).toBe(50);
    await files.settle();
    await files.beforeRun();
    expect(files.isTrusted('a.txt')).toBe(true);
    expect(stats.peekStat('a.txt')?.size).toBe(size('a.txt'));
  });
});

describe('FileStates: when a state is trusted', () => {
  it('not before the watcher is proven live by a cookie; a stat taken before its folder was watched is taken again', async () => {
    project({ 'in/a.txt': 'a' });
    const { files, stats } = open({ tree: null });
    stats.stat('in/a.txt');
    expect(files.isTrusted('in/a.txt')).toBe(false); // no cookie yet, no folder watched
    await files.settle();
    expect(lines.at(-1)).toMatch(/^kept the stat of 1 paths \(1 stat'ed again/);
    // Its folder is watched since after the run: trusted once the next run's cookie is back.
    expect(files.isTrusted('in/a.txt')).toBe(false);
    await files.beforeRun();
    expect(files.isTrusted('in/a.txt')).toBe(true);
    expect(stats.stat("in/a.txt")?.size).toBe(1);
    expect(stats.filesStatted).toBe(0); // answered from what is held
  });

  it('not when the cookie cannot come back: every file is looked at again', async () => {
    project({ 'a.txt': 'a', '.cache/cookies': 'a file where the cookie folder goes' });
    const { files, stats } = open();
    expect(await run(files, stats, ['a.txt'])).toBe(1);
    expect(lines.join('\n')).toMatch(/file events did not arrive in time: checking every file/);
    expect(await run(files, stats, ['a.txt'])).toBe(1);
    expect(files.isTrusted('a.txt')).toBe(false);
  });

  it('not after more events than the kernel may queue (an overflow loses events unseen): every file is looked at again', async () => {
    project({ 'a.txt': 'a', 'b.txt': 'b' });
    const { files, stats } = open({ overflowAt: 40 });
    await run(files, stats, ['a.txt', 'b.txt']);
    await files.beforeRun();
    expect(files.isTrusted('b.txt')).toBe(true);
    await files.settle();
    // 60 real events, read before the next run's cookie.
    for (let i = 0; i < 30; i++) write(`n${i}.txt`, String(i));
    await told('n29.txt');
    await files.beforeRun();
    expect(lines.join('\n')).toMatch(/file events since the last run, more than the kernel's queue may hold: some may have been lost: checking every file/);
    expect(stats.peekStat('b.txt')).toBeUndefined();
    expect(files.isTrusted('b.txt')).toBe(false);
    // Quiet again: trusted from the next run on.
    stats.stat('b.txt');
    await files.settle();
    await files.beforeRun();
    expect(files.isTrusted('b.txt')).toBe(true);
  });

  it('after distrust (a poller, a watcher error): nothing is trusted, every run stats every file', async () => {
    project({ 'a.txt': 'a' });
    const { files, stats } = open();
    await run(files, stats, ['a.txt']);
    expect(await run(files, stats, ['a.txt'])).toBe(0);
    files.distrust();
    expect(await run(files, stats, ['a.txt'])).toBe(1);
    expect(await run(files, stats, ['a.txt'])).toBe(1);
    expect(files.isTrusted('a.txt')).toBe(false);
  });
});

describe('PackedStats (the held stats, one row a path)', () => {
  it('gives back what was set (a stat, or nothing there), reuses freed rows, and grows', async () => {
    const { PackedStats } = await import('../../../src/app/file-states/packed-stats.js');
    const { FileStat } = await import('../../../src/fingerprint/stat-cache.js');
    const p = new PackedStats();
    const st = (i: number): InstanceType<typeof FileStat> => new FileStat(i, 1.5e12 + i + 0.25, 1.5e12 + i + 0.75, 2 ** 40 + i, 0o100644, 1 + (i % 3));
    for (let i = 0; i < 3000; i++) p.set(`f${i}`, i % 10 === 0 ? null : st(i));
    expect(p.size).toBe(3000);
    expect(p.get('f10')).toBeNull();
    expect(p.get('f2999')).toEqual(st(2999));
    expect(p.get('f2999')?.isFile()).toBe(true);
    expect(p.get('nope')).toBeUndefined();
    expect(p.delete('f5')).toBe(true);
    expect(p.has('f5')).toBe(false);
    p.set('g', st(7)); // takes f5's row
    expect(p.get('g')).toEqual(st(7));
    expect(p.get('f6')).toEqual(st(6));
    p.set('f6', null);
    expect(p.get('f6')).toBeNull();
    expect([...p.keys()]).toHaveLength(3000);
    p.clear();
    expect(p.get('f1')).toBeUndefined();
    expect(p.size).toBe(0);
  });
});
