// The git commit recorded with a run: read inside a work tree, absent (and no git process)
// outside one.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, cmd } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

const BF = batchfile(`  a: { command: ${cmd('--text', 'a', '--out', 'build/a.txt')}, outputs: ['build/a.txt'] },`);

describe('git info of a run', () => {
  it('records the commit and the dirty flag in a work tree, nothing outside one', async () => {
    const { gitInfo } = await import('../../../src/util/git.js');
    p = TempProject.create({ 'Batchfile.ts': BF, 'notes.txt': 'x' });
    expect(await gitInfo(p.dir)).toBeUndefined();

    const g = (...args: string[]): string => execFileSync('git', ['-C', p!.dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
    g('init', '-q');
    g('add', 'Batchfile.ts', 'notes.txt');
    g('commit', '-q', '-m', 'first');
    const commit = g('rev-parse', 'HEAD').trim();
    expect(await gitInfo(p.dir)).toEqual({ commit, dirty: false });
    p.write('notes.txt', 'changed');
    p.write('sub/x.txt', 'x');
    expect(await gitInfo(p.path('sub'))).toEqual({ commit, dirty: true }); // a project below the work tree's root

    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect((r as unknown as { git: unknown }).git).toEqual({ commit, dirty: true });
  });

  it('reads HEAD from the repository files (loose ref, packed ref, detached, a worktree), as git does', async () => {
    const { headFromFiles } = await import('../../../src/util/git.js');
    p = TempProject.create({ 'Batchfile.ts': BF });
    const g = (...args: string[]): string => execFileSync('git', ['-C', p!.dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();
    g('init', '-q');
    expect(headFromFiles(p.dir)).toBeUndefined(); // no commit yet
    g('add', 'Batchfile.ts');
    g('commit', '-q', '-m', 'first');
    expect(headFromFiles(p.dir)).toBe(g('rev-parse', 'HEAD'));
    g('pack-refs', '--all');
    expect(headFromFiles(p.dir)).toBe(g('rev-parse', 'HEAD'));
    g('commit', '-q', '--allow-empty', '-m', 'second');
    expect(headFromFiles(p.dir)).toBe(g('rev-parse', 'HEAD'));
    g('checkout', '-q', '--detach', 'HEAD~1');
    expect(headFromFiles(p.dir)).toBe(g('rev-parse', 'HEAD'));
    const wt = p.path('wt');
    g('worktree', 'add', '-q', '-b', 'side', wt, 'HEAD');
    g('-C', wt, 'commit', '-q', '--allow-empty', '-m', 'on side');
    expect(headFromFiles(wt)).toBe(execFileSync('git', ['-C', wt, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim());
  });

  it('starts no git process for a run that executes nothing; asks git status only when a step runs', async () => {
    p = TempProject.create({ 'Batchfile.ts': BF, 'notes.txt': 'x' });
    const g = (...args: string[]): string => execFileSync('git', ['-C', p!.dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();
    g('init', '-q');
    g('add', 'Batchfile.ts', 'notes.txt');
    g('commit', '-q', '-m', 'first');
    const commit = g('rev-parse', 'HEAD');
    // A `git` first on PATH that logs each call and then runs the real one.
    const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    p.write('bin/git', `#!/bin/sh\necho "$*" >> ${JSON.stringify(p.path('git-calls.txt'))}\nexec ${real} "$@"\n`);
    fs.chmodSync(p.path('bin/git'), 0o755);
    const env = { PATH: `${p.path('bin')}:${process.env.PATH}` };
    const calls = (): string[] => (p!.exists('git-calls.txt') ? p!.read('git-calls.txt').split('\n').filter(Boolean) : []);

    const built = await p.run([], { env });
    expect(built.code, built.stderr).toBe(0);
    expect((built as unknown as { git: unknown }).git).toEqual({ commit, dirty: false });
    expect(calls()).toEqual(['status --porcelain --untracked-files=no']);
    p.remove('git-calls.txt');
    const noop = await p.run([], { env });
    expect(noop.steps.map((s) => s.action)).toEqual(['up-to-date']);
    expect((noop as unknown as { git: unknown }).git).toEqual({ commit });
    expect(calls()).toEqual([]);
  });
});
