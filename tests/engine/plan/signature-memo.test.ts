// statSignatureNow (src/plan/snapshot.ts): a step's stat signature is reused while the stat
// cache it was made from has forgotten and replaced none of its paths, and only for steps whose
// specs are all plain files; a glob's new match or a forgotten path gives the signature as it
// is now. StatCache.movedSince: which paths the epoch moved for.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StepConfig } from '../../../src/batchfile/config.js';
import { initHash } from '../../../src/fingerprint/hash.js';
import { FileStat, StatCache } from '../../../src/fingerprint/stat-cache.js';
import { statSignature, statSignatureNow } from '../../../src/plan/snapshot.js';

let root: string | undefined;
beforeAll(() => initHash());
afterEach(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  root = undefined;
});

const step = (inputs: string[], outputs: string[]): StepConfig => ({ name: 's', kind: 'command', spec: { command: ['true'] }, inputs, outputs, dependsOn: [], params: {}, env: [], retries: 0, cache: true });

function project(files: Record<string, string>): string {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-memo-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

describe('statSignatureNow', () => {
  it('reuses a plain-file step\'s signature until the stat cache forgets or replaces a stat', () => {
    const dir = project({ 'in/a.txt': 'a', 'in/b.txt': 'b', 'out/s.txt': 's', 'run.sh': '' });
    const stats = new StatCache(dir, undefined);
    const s = step(['in/a.txt', 'in/b.txt'], ['out/s.txt']);
    const first = statSignatureNow(dir, stats, s, ['run.sh']);
    expect(first).toEqual(statSignature(dir, stats, s, ['run.sh']));
    expect(statSignatureNow(dir, stats, s, ['run.sh'])).toBe(first); // reused
    // Other code paths: worked out again.
    expect(statSignatureNow(dir, stats, s, [])).not.toEqual(first);
    // A file changes and the cache forgets it (a file event, a step that wrote it): as it is now.
    fs.writeFileSync(path.join(dir, 'in/a.txt'), 'longer');
    stats.forget('in/a.txt');
    const after = statSignatureNow(dir, new StatCache(dir, undefined), s, ['run.sh']);
    expect(statSignatureNow(dir, stats, s, ['run.sh'])).toEqual(after);
    expect(after!.sig).not.toBe(first!.sig);
    // A stat replaced by another (the daemon's stat taken again once the folder is watched).
    const now = statSignatureNow(dir, stats, s, ['run.sh']);
    fs.writeFileSync(path.join(dir, 'in/b.txt'), 'bbbbbb');
    stats.replaceStat('in/b.txt', FileStat.of(fs.statSync(path.join(dir, 'in/b.txt'))));
    const replaced = statSignatureNow(dir, stats, s, ['run.sh']);
    expect(replaced!.sig).not.toBe(now!.sig);
    expect(replaced).toEqual(statSignature(dir, new StatCache(dir, undefined), s, ['run.sh']));
  });

  it("keeps a step's signature when only other steps' paths were forgotten or replaced, not when its own were or many paths at once", () => {
    const dir = project({ 'in/a.txt': 'a', 'in/b.txt': 'b', 'out/a.txt': 'a', 'out/b.txt': 'b', 'run.sh': '' });
    const stats = new StatCache(dir, undefined);
    const a = step(['in/a.txt'], ['out/a.txt']);
    const b = step(['in/b.txt'], ['out/b.txt']);
    const sigA = statSignatureNow(dir, stats, a, ['run.sh']);
    const sigB = statSignatureNow(dir, stats, b, ['run.sh']);
    // b's input changes (an event), and b's output is written and forgotten, and a stat of
    // b's is taken again: a's signature is the same object, b's is worked out again.
    fs.writeFileSync(path.join(dir, 'in/b.txt'), 'bb');
    stats.forget('in/b.txt');
    stats.forget('out/b.txt');
    stats.forget('never/held.txt'); // moves nothing
    expect(statSignatureNow(dir, stats, a, ['run.sh'])).toBe(sigA);
    const nowB = statSignatureNow(dir, stats, b, ['run.sh']);
    expect(nowB!.sig).not.toBe(sigB!.sig);
    expect(nowB).toEqual(statSignature(dir, new StatCache(dir, undefined), b, ['run.sh']));
    // One of a's code files is forgotten: a's is worked out again (the same, nothing changed).
    stats.forget('run.sh');
    const again = statSignatureNow(dir, stats, a, ['run.sh']);
    expect(again).not.toBe(sigA);
    expect(again).toEqual(sigA);
    // A drop of many paths at once names none: every signature is worked out again.
    stats.forgetWhere((rel) => rel.startsWith('zzz/'));
    expect(statSignatureNow(dir, stats, a, ['run.sh'])).toBe(again); // nothing dropped: no move
    stats.stat('zzz/x');
    stats.forgetWhere((rel) => rel.startsWith('zzz/'));
    expect(statSignatureNow(dir, stats, a, ['run.sh'])).not.toBe(again);
  });

  it('movedSince: the paths the epoch moved for, and "not known" past a bulk drop or too many moves', () => {
    const dir = project({ 'f0': '', 'f1': '' });
    const stats = new StatCache(dir, undefined);
    for (let i = 0; i < 100; i++) stats.stat(`f${i}`);
    const e0 = stats.epoch;
    expect(stats.movedSince(e0, () => true)).toBe(false);
    stats.forget('f1');
    expect(stats.movedSince(e0, (r) => r === 'f1')).toBe(true);
    expect(stats.movedSince(e0, (r) => r === 'f0')).toBe(false);
    const e1 = stats.epoch;
    expect(stats.movedSince(e1, (r) => r === 'f1')).toBe(false);
    // More moves than a check walks: not known.
    for (let i = 2; i < 90; i++) stats.forget(`f${i}`);
    expect(stats.movedSince(e1, (r) => r === 'f0')).toBe(true);
    const e2 = stats.epoch;
    stats.forgetAll();
    expect(stats.movedSince(e2, () => false)).toBe(true);
    expect(stats.movedSince(stats.epoch, () => true)).toBe(false);
  });

  it('never reuses the signature of a step with a glob or a folder spec', () => {
    const dir = project({ 'data/1.csv': '1', 'out/s.txt': 's' });
    const stats = new StatCache(dir, undefined);
    for (const s of [step(['data/*.csv'], ['out/s.txt']), step(['data'], ['out/s.txt'])]) {
      const before = statSignatureNow(dir, stats, s, []);
      fs.writeFileSync(path.join(dir, `data/${Math.random().toString(36).slice(2)}.csv`), 'n');
      // No path of the signature was forgotten, yet the listing is new.
      const after = statSignatureNow(dir, stats, s, []);
      expect(after!.sig).not.toBe(before!.sig);
      expect(after!.files.length).toBe(before!.files.length + 1);
    }
  });
});
