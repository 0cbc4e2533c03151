// The stat cache keeps a compact FileStat per path instead of fs.Stats (whose four Dates per
// file were most of a 10,000-step no-op's heap). It must answer exactly as fs.Stats would.
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatCache } from '../../../src/fingerprint/stat-cache.js';
import { TempProject } from '../rig.js';

let p: TempProject;
beforeEach(() => {
  p = TempProject.create({ 'data/a.csv': '1,2\n', 'run.sh': 'echo hi\n' });
  fs.chmodSync(p.path('run.sh'), 0o755);
  fs.symlinkSync('a.csv', p.path('data/link.csv'));
  fs.symlinkSync('data', p.path('linked-dir'));
  fs.linkSync(p.path('run.sh'), p.path('hard.sh'));
});
afterEach(() => p.cleanup());

describe('StatCache.stat', () => {
  it('gives the fields and kinds fs.statSync gives, following links', () => {
    const stats = new StatCache(p.dir, undefined);
    for (const rel of ['data/a.csv', 'run.sh', 'hard.sh', 'data', 'data/link.csv', 'linked-dir']) {
      const want = fs.statSync(p.path(rel));
      const got = stats.stat(rel);
      expect(got, rel).not.toBeNull();
      expect({ size: got!.size, mtimeMs: got!.mtimeMs, ctimeMs: got!.ctimeMs, ino: got!.ino, mode: got!.mode, nlink: got!.nlink }, rel).toEqual({
        size: want.size, mtimeMs: want.mtimeMs, ctimeMs: want.ctimeMs, ino: want.ino, mode: want.mode, nlink: want.nlink,
      });
      expect([got!.isFile(), got!.isDirectory()], rel).toEqual([want.isFile(), want.isDirectory()]);
    }
    expect(stats.stat('data/missing.csv')).toBeNull();
  });
});

describe('StatCache.forget', () => {
  it('moves the epoch only when it drops something held: a path never asked for changes no verdict', async () => {
    const stats = new StatCache(p.dir, undefined);
    expect(stats.stat('data/a.csv')).not.toBeNull();
    expect(stats.stat('data/missing.csv')).toBeNull();
    await stats.get('run.sh');
    const e0 = stats.epoch;
    stats.forget('data/never-asked.csv');
    expect(stats.epoch).toBe(e0);
    // A stat held, an absence held and a hash held each count, once.
    stats.forget('data/a.csv');
    expect(stats.epoch).toBe(e0 + 1);
    stats.forget('data/a.csv');
    expect(stats.epoch).toBe(e0 + 1);
    stats.forget('data/missing.csv');
    expect(stats.epoch).toBe(e0 + 2);
    stats.forget('run.sh');
    expect(stats.epoch).toBe(e0 + 3);
    // Forgotten means asked again: a change made meanwhile is seen.
    fs.writeFileSync(p.path('data/a.csv'), '1,2,3\n');
    expect(stats.stat('data/a.csv')!.size).toBe(6);
  });
});
