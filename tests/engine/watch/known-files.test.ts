// What watch mode carries from one run to the next (one StatCache for the session): every file
// event forgets its path at once, and where events cannot be relied on the files are looked at
// again. Real files in a temp folder; fake timers for the settle check (no sleeps).
import fs from 'node:fs';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { initHash } from '../../../src/fingerprint/hash.js';
import { KnownFiles, SETTLE_MS } from '../../../src/watch/known-files.js';
import { TempProject } from '../rig.js';

let p: TempProject;
let missed: string[];
beforeAll(() => initHash());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  p = TempProject.create({ 'data/a.csv': '1', 'data/sub/b.csv': '22', 'notes.txt': 'n' });
  missed = [];
});
afterEach(() => {
  vi.useRealTimers();
  p.cleanup();
});

/** Watches everything under data/ (as a WatchSet would for the input glob data/**). */
const DATA = { classify: (rel: string) => (rel.startsWith('data/') ? { kind: 'input' as const } : undefined) };

function known(trustEvents = true): KnownFiles {
  return new KnownFiles({ root: p.dir, store: undefined, trustEvents, onMissed: (rel) => missed.push(rel) });
}

/** Rewrites a file so that its stat surely differs (size, and mtime pushed forward). */
function rewrite(rel: string, content: string): void {
  p.write(rel, content);
  const t = new Date(Date.now() + 10_000);
  fs.utimesSync(p.path(rel), t, t);
}

describe('KnownFiles', () => {
  it('keeps what it knows until an event names the path', () => {
    const k = known();
    k.beforeRun(DATA);
    expect(k.stats.get('data/a.csv')?.size).toBe(1);
    rewrite('data/a.csv', '1111');
    // No event: the run trusts what it saw (this is the point: no re-stat of every file).
    k.beforeRun(DATA);
    expect(k.stats.get('data/a.csv')?.size).toBe(1);
    k.onEvent('data/a.csv', 'change');
    expect(k.stats.get('data/a.csv')?.size).toBe(4);
  });

  it('forgets a removed or renamed folder, everything under it and its parents', () => {
    const k = known();
    k.beforeRun(DATA);
    expect(k.stats.stat('data/sub')?.isDirectory()).toBe(true);
    expect(k.stats.get('data/sub/b.csv')?.size).toBe(2);
    fs.renameSync(p.path('data/sub'), p.path('data/moved'));
    k.onEvent('data/sub', 'unlinkDir');
    expect(k.stats.stat('data/sub')).toBeNull();
    expect(k.stats.get('data/sub/b.csv')).toBeNull();
    // A file event also refreshes the folders above it (a folder input that appears).
    expect(k.stats.stat('data/new')).toBeNull();
    p.write('data/new/c.csv', 'c');
    k.onEvent('data/new/c.csv', 'add');
    expect(k.stats.stat('data/new')?.isDirectory()).toBe(true);
  });

  it('looks again, before every run, at files it gets no events for', () => {
    const k = known();
    k.beforeRun(DATA);
    expect(k.stats.get('notes.txt')?.size).toBe(1);
    expect(k.stats.get('data/a.csv')?.size).toBe(1);
    rewrite('notes.txt', 'nnn');
    rewrite('data/a.csv', '111');
    vi.advanceTimersByTime(10 * SETTLE_MS);
    k.beforeRun(DATA);
    expect(k.stats.get('notes.txt')?.size).toBe(3);
    expect(k.stats.get('data/a.csv')?.size).toBe(1);
  });

  it('takes a stat again when it was taken close after an event (chokidar may have dropped the next one)', () => {
    const k = known();
    k.beforeRun(DATA);
    rewrite('data/a.csv', '11');
    k.onEvent('data/a.csv', 'change');
    vi.advanceTimersByTime(10);
    k.beforeRun(DATA); // run N starts 10 ms after the event and reads the file
    expect(k.stats.get('data/a.csv')?.size).toBe(2);
    rewrite('data/a.csv', '111'); // a second write whose event chokidar throttled away
    vi.advanceTimersByTime(10 * SETTLE_MS);
    k.beforeRun(DATA); // run N+1
    expect(k.stats.get('data/a.csv')?.size).toBe(3);
    // Long after, with no event in between, it is trusted again.
    rewrite('data/a.csv', '1111');
    vi.advanceTimersByTime(10 * SETTLE_MS);
    k.beforeRun(DATA);
    vi.advanceTimersByTime(10 * SETTLE_MS);
    k.beforeRun(DATA);
    expect(k.stats.get('data/a.csv')?.size).toBe(3);
  });

  it('reports a change chokidar did not, SETTLE_MS after the event it did, when a run looked at the file in between', () => {
    const k = known();
    k.beforeRun(DATA);
    rewrite('data/a.csv', '11');
    rewrite('data/sub/b.csv', '2222');
    k.onEvent('data/a.csv', 'change');
    k.onEvent('data/sub/b.csv', 'change');
    expect(k.stats.get('data/a.csv')?.size).toBe(2); // a run reads it after the event...
    rewrite('data/a.csv', '111'); // ...then it is written again, and that event is dropped
    rewrite('data/sub/b.csv', '22222'); // not looked at since its event: the next look is fresh anyway
    vi.advanceTimersByTime(SETTLE_MS - 1);
    expect(missed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(missed).toEqual(['data/a.csv']);
    expect(k.stats.get('data/a.csv')?.size).toBe(3);
    expect(k.stats.get('data/sub/b.csv')?.size).toBe(5);
    k.dispose();
  });

  it('with --poll, or after a watcher error, every run looks at every file again', () => {
    for (const k of [known(false), known(true)]) {
      k.beforeRun(DATA);
      expect(k.stats.get('data/a.csv')?.size).toBe(1);
      k.distrust(); // no-op for the polling one
      rewrite('data/a.csv', '1'.repeat(5));
      k.beforeRun(DATA);
      expect(k.stats.get('data/a.csv')?.size).toBe(5);
      rewrite('data/a.csv', '1');
    }
  });

  it('forgets everything when a new watcher starts (files newly watched were not watched before)', () => {
    const k = known();
    k.beforeRun(DATA);
    expect(k.stats.get('data/a.csv')?.size).toBe(1);
    rewrite('data/a.csv', '11');
    k.onNewWatcher();
    expect(k.stats.get('data/a.csv')?.size).toBe(2);
  });
});
