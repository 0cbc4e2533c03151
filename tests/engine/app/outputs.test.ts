// Outputs beyond single files: folders and globs (inferred edges, hand edits, stray files,
// early cutoff), a step that edits its own input while it runs, an output symlink that
// escapes the project, and a command that cannot start.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, table } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

const node = (code: string): string => JSON.stringify(['node', '-e', code]);

describe('outputs', () => {
  it('folder and glob outputs: edges, hand edits, stray files, early cutoff; bad outputs fail', async () => {
    p = TempProject.create({
      'in.txt': 'v1',
      'Batchfile.ts': batchfile(`
  folder: { command: ${node("const fs=require('fs');fs.mkdirSync('build/dir/sub',{recursive:true});fs.writeFileSync('build/dir/a.txt','a');fs.writeFileSync('build/dir/sub/b.txt','b');fs.appendFileSync('marks.txt','folder\\n')")}, outputs: ['build/dir'], cache: false },
  useFolder: { command: ${node("const fs=require('fs');fs.writeFileSync('build/use-folder.txt',fs.readFileSync('build/dir/sub/b.txt'));fs.appendFileSync('marks.txt','useFolder\\n')")}, inputs: ['build/dir'], outputs: ['build/use-folder.txt'] },
  parts: { command: ${node("const fs=require('fs');fs.mkdirSync('gen',{recursive:true});fs.writeFileSync('gen/1.csv','1');fs.writeFileSync('gen/2.csv','2');fs.appendFileSync('marks.txt','parts\\n')")}, outputs: ['gen/*.csv'], cache: false },
  notes: { command: ${node("require('fs').mkdirSync('gen',{recursive:true});require('fs').writeFileSync('gen/notes.txt','n')")}, outputs: ['gen/*.txt'] },
  useParts: { command: ${node("const fs=require('fs');fs.writeFileSync('build/use-parts.txt',fs.readdirSync('gen').filter(f=>f.endsWith('.csv')).sort().map(f=>fs.readFileSync('gen/'+f,'utf8')).join('+'));fs.appendFileSync('marks.txt','useParts\\n')")}, inputs: ['gen/*.csv'], outputs: ['build/use-parts.txt'] },
  selfish: { command: ${node("require('fs').appendFileSync('in.txt','!')")}, inputs: ['in.txt'] },
  escape: { command: ${node("const fs=require('fs');fs.mkdirSync('build',{recursive:true});fs.symlinkSync('/etc/hostname','build/link.txt')")}, outputs: ['build/link.txt'] },
  nobin: { command: ['no-such-binary-for-batch-tests'] },
`),
    });
    const r1 = await p.run(['-k', '-j', '2']);
    expect(table(r1.steps)).toEqual({
      folder: 'PASS ran',
      useFolder: 'PASS ran',
      parts: 'PASS ran',
      notes: 'PASS ran',
      useParts: 'PASS ran',
      selfish: 'PASS ran',
      escape: 'FAIL ran',
      nobin: 'FAIL ran',
    });
    const reason = (r: typeof r1, name: string): string | undefined => r.steps.find((s) => s.name === name)?.reason;
    expect(p.read('build/use-parts.txt')).toBe('1+2');
    expect(reason(r1, 'selfish')).toBe('no previous run recorded; inputs changed while running (not recorded)');
    expect(r1.stderr).toContain('step "selfish": in.txt changed while it ran; it will run again next time');
    expect(reason(r1, 'escape')).toMatch(/^output build\/link\.txt resolves outside the project \(\/etc\/hostname\); refused$/);
    expect(reason(r1, 'nobin')).toMatch(/^cannot start "no-such-binary-for-batch-tests": .*ENOENT/);

    p.write('build/dir/stray.txt', 'left by hand');
    p.write('gen/2.csv', 'edited by hand');
    const r2 = await p.run(['-k', '-j', '2']);
    expect(reason(r2, 'folder')).toBe('output added by hand: build/dir/stray.txt');
    expect(reason(r2, 'parts')).toBe('output changed: gen/2.csv');
    // Both reruns wrote the same bytes as before: their readers stay up to date.
    expect(table(r2.steps)).toMatchObject({ folder: 'PASS ran', useFolder: 'PASS up-to-date', parts: 'PASS ran', notes: 'PASS up-to-date', useParts: 'PASS up-to-date', selfish: 'PASS ran' });
    // A rerun starts from a clean slate: the stray file is gone, the hand edit undone.
    expect(p.exists('build/dir/stray.txt')).toBe(false);
    expect(p.read('gen/2.csv')).toBe('2');
    // Nothing was recorded for it, so it runs again from scratch.
    expect(reason(r2, 'selfish')).toBe('no previous run recorded; inputs changed while running (not recorded)');
    expect([...p.marks()].sort()).toEqual(['folder', 'folder', 'parts', 'parts', 'useFolder', 'useParts']);
  });
});
