// The git commit recorded with a run: read inside a work tree, absent (and no git process)
// outside one.
import { execFileSync } from 'node:child_process';
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
});
