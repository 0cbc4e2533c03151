// What a command step's record says about CPU and memory: the whole process tree is measured
// (the shell's child does the work), also when two steps run at once.
import { afterAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';

let p: TempProject | undefined;
afterAll(() => p?.cleanup());

/** Holds 120 MB and burns at least 150 ms of its own CPU (measured, so it does not depend on
 * the machine's speed), then writes OUT. `&& echo` makes the shell fork rather than exec. */
function hungry(out: string): string {
  const js = `const b=Buffer.alloc(120e6,1);const t=process.cpuUsage();while(process.cpuUsage(t).user<150000){}require('fs').writeFileSync('${out}',String(b[7]))`;
  return `${JSON.stringify(process.execPath)} -e ${JSON.stringify(js)} && echo done >> ${out}`;
}

describe('command step metrics', () => {
  it('peak RSS and CPU of the process tree, with two steps overlapping', async () => {
    p = TempProject.create({
      'in.txt': 'x',
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  one: { command: ${JSON.stringify(hungry('one.txt'))}, inputs: ['in.txt'], outputs: ['one.txt'] },
  two: { command: ${JSON.stringify(hungry('two.txt'))}, inputs: ['in.txt'], outputs: ['two.txt'] },
}});`,
    });
    const r = await p.run(['-j', '2']);
    expect(r.code, r.stderr).toBe(0);
    for (const s of r.steps as (typeof r.steps[number] & { cpuMs?: number; peakRssBytes?: number })[]) {
      expect(s.action).toBe('ran');
      // The node child, not the 1-3 MB shell.
      expect(s.peakRssBytes, s.name).toBeGreaterThan(100e6);
      // At least the 150 ms it burnt, less at most one 50 ms sampling interval.
      expect(s.cpuMs, s.name).toBeGreaterThanOrEqual(100);
    }
  });
});
