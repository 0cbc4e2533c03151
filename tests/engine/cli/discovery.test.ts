// Run from anywhere in the project: like git, batch in a subfolder uses the nearest Batchfile
// at or above it and says which; -C still wins; no Batchfile anywhere is a clear error.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchIn, TempProject } from '../rig.js';
import { projectFlags, projectRoot } from '../../../src/util/project-root.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

/** A Batchfile whose one step writes `text` to out.txt with the step's working folder in it. */
const WRITES = (text: string): string => `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  write: { command: ['node', '-e', "require('fs').writeFileSync('out.txt', '${text} ' + process.cwd())"], outputs: ['out.txt'] },
}});
`;

describe('project discovery', () => {
  it('finds the nearest Batchfile at or above a folder; a folder named like one does not count', () => {
    p = TempProject.create({ 'Batchfile.ts': WRITES('top'), 'a/b/c/keep.txt': '', 'a/inner/Batchfile.ts': WRITES('inner'), 'a/b/Batchfile.mjs/x': '' });
    expect(projectRoot(p.path('a/b/c'))).toEqual({ root: p.dir, how: 'found', file: p.path('Batchfile.ts') });
    expect(projectRoot(p.path('a/inner'))).toEqual({ root: p.path('a/inner'), how: 'found', file: p.path('a/inner/Batchfile.ts') });
    expect(projectRoot(p.path('a/b/c'), '../../inner')).toEqual({ root: p.path('a/inner'), how: 'named' });
    expect(projectRoot(p.path('a/b/c'), undefined, 'x.ts')).toEqual({ root: p.path('a/b/c'), how: 'named' });
  });

  it('reads -C/--cwd and --file from a command line as the parser does', () => {
    expect(projectFlags(['-C', 'x', 'run'])).toEqual({ cwd: 'x' });
    expect(projectFlags(['-Cx', '--file=B.ts'])).toEqual({ cwd: 'x', file: 'B.ts' });
    expect(projectFlags(['--cwd=y', '--cwd', 'z', '--file', 'f.ts'])).toEqual({ cwd: 'z', file: 'f.ts' });
    expect(projectFlags(['--', '-C', 'x'])).toEqual({});
  });

  it('batch in a subfolder runs the project above it, in its root, and says which Batchfile it uses', async () => {
    p = TempProject.create({ 'Batchfile.ts': WRITES('top'), 'deep/er/keep.txt': '' });
    const r = await batchIn(p.path('deep/er'), []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`batch: using ${p.path('Batchfile.ts')}`);
    // The step ran with the project root as its working folder.
    expect(p.read('out.txt')).toBe(`top ${fs.realpathSync(p.dir)}`);
    expect(fs.existsSync(p.path('deep/er/.cache'))).toBe(false);
    // Other commands too: explain and graph read the same project.
    const g = await batchIn(p.path('deep'), ['graph', '--format', 'text']);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toContain('write');
    expect(g.stdout).not.toContain('batch: using'); // the note is on stderr, never in a command's output
    // In the root itself nothing is said.
    const again = await batchIn(p.dir, []);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('batch: using');
  });

  it('the nearest Batchfile wins over one further up, and -C wins over both', async () => {
    p = TempProject.create({ 'Batchfile.ts': WRITES('top'), 'sub/Batchfile.ts': WRITES('sub'), 'sub/x/keep.txt': '', 'other/Batchfile.ts': WRITES('other') });
    const r = await batchIn(p.path('sub/x'), []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`batch: using ${p.path('sub/Batchfile.ts')}`);
    expect(p.read('sub/out.txt')).toMatch(/^sub /);
    expect(p.exists('out.txt')).toBe(false);
    const c = await batchIn(p.path('sub/x'), ['-C', '../../other']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).not.toContain('batch: using');
    expect(p.read('other/out.txt')).toMatch(/^other /);
    // -C to a folder without a Batchfile does not search above it.
    fs.mkdirSync(p.path('sub/empty'));
    const e = await batchIn(p.dir, ['-C', 'sub/empty']);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain(`No Batchfile in ${p.path('sub/empty')} (looked for Batchfile.ts`);
  });

  it('no Batchfile here or above: exit 2, saying where it looked', async () => {
    p = TempProject.create({ 'a/keep.txt': '' });
    // The temp folder's ancestors (os.tmpdir(), /) must have no Batchfile for this test to mean anything.
    expect(projectRoot(p.path('a')).how).toBe('none');
    const r = await batchIn(p.path('a'), []);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`No Batchfile in ${fs.realpathSync(p.path('a'))} or any folder above it (looked for Batchfile.ts, Batchfile.mts, Batchfile.js, Batchfile.mjs). Create one with \`batch init\`.`);
    expect(fs.existsSync(path.join(p.path('a'), '.cache'))).toBe(false);
  });
});
