import { afterEach, describe, expect, it } from 'vitest';
import { fake, TempProject } from './rig.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

describe('smoke', () => {
  it('runs a two-step pipeline, then is a no-op', async () => {
    p = TempProject.create({
      'in.txt': 'hello',
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  a: { command: ${JSON.stringify(fake('--in', 'in.txt', '--out', 'out/a.txt', '--mark', 'marks.txt'))}, inputs: ['in.txt'], outputs: ['out/a.txt'] },
  b: { command: ${JSON.stringify(fake('--in', 'out/a.txt', '--text', '!', '--out', 'out/b.txt', '--mark', 'marks.txt'))}, inputs: ['out/a.txt'], outputs: ['out/b.txt'] },
}});`,
    });
    const first = await p.run();
    expect(first.code).toBe(0);
    expect(first.steps.map((s) => [s.name, s.status, s.action])).toEqual([
      ['a', 'PASS', 'ran'],
      ['b', 'PASS', 'ran'],
    ]);
    expect(p.read('out/b.txt')).toBe('hello!');
    const second = await p.run();
    expect(second.steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date']);
    expect(p.marks()).toEqual(['a', 'b']);
  });
});
