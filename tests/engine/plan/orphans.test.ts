// A step removed from the Batchfile: the outputs it last wrote are removed by the next run
// while they still hold its bytes (kept, with a warning, when changed since), the summary lists
// them, the steps reading them rerun, and --dry-run shows it first. The result equals a clean
// build of the new Batchfile.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, snapshot } from '../helpers.js';

let p: TempProject | undefined;
let fresh: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  fresh?.cleanup();
  p = fresh = undefined;
});

const tidy = (d: string): string =>
  `'tidy:${d}': { command: 'mkdir -p build/tidy && sed s/^/${d},/ data/${d}.csv > build/tidy/${d}.csv', inputs: ['data/${d}.csv'], outputs: ['build/tidy/${d}.csv'] },`;
const MERGE = `merge: { command: 'cat build/tidy/*.csv > build/all.csv', inputs: ['build/tidy/*.csv'], outputs: ['build/all.csv'] },`;
const files = (...ds: string[]): Record<string, string> => ({
  'data/d1.csv': 'a\nb\n',
  'data/d2.csv': 'c\n',
  'data/d3.csv': 'e\n',
  'Batchfile.ts': batchfile([...ds.map(tidy), MERGE].join('\n')),
});

describe('outputs of a step removed from the Batchfile', () => {
  it('are removed when still its bytes, listed, shown by --dry-run, and their readers rerun', { timeout: 180_000 }, async () => {
    p = TempProject.create(files('d1', 'd2', 'd3'));
    expect((await p.run()).code).toBe(0);
    expect(p.read('build/all.csv')).toBe('d1,a\nd1,b\nd2,c\nd3,e\n');

    // tidy:d2 goes; d3's output is edited by hand before tidy:d3 goes too.
    p.write('Batchfile.ts', files('d1')['Batchfile.ts']!);
    p.write('build/tidy/d3.csv', 'edited by hand\n');
    const dry = await p.batch(['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('would remove build/tidy/d2.csv (written by "tidy:d2", no longer in the Batchfile)');
    expect(dry.stdout).toContain('kept build/tidy/d3.csv: written by "tidy:d3", no longer in the Batchfile, but changed since');
    expect(dry.stdout).toMatch(/^run\s+merge\s/m);
    expect(dry.stdout).toContain('input removed: build/tidy/d2.csv (written by "tidy:d2", no longer in the Batchfile)');
    expect(p.exists('build/tidy/d2.csv')).toBe(true); // nothing done yet

    const human = await p.batch();
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('Outputs of steps no longer in the Batchfile:\n  removed build/tidy/d2.csv (written by "tidy:d2", no longer in the Batchfile)\n  kept build/tidy/d3.csv: written by "tidy:d3", no longer in the Batchfile, but changed since');
    expect(human.stderr + human.stdout).toMatch(/warning: kept build\/tidy\/d3\.csv/);
    expect(p.exists('build/tidy/d2.csv')).toBe(false);
    expect(p.read('build/tidy/d3.csv')).toBe('edited by hand\n');
    expect(p.read('build/all.csv')).toBe('d1,a\nd1,b\nedited by hand\n');

    // Reported once: the next run is a plain no-op.
    const again = await p.run();
    expect(again.steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date']);
    expect((again as unknown as { orphans?: unknown }).orphans).toBeUndefined();

    // The same as a clean build of the new Batchfile in a fresh project (with the kept file).
    p.remove('build/tidy/d3.csv');
    const r = await p.run();
    expect(r.steps.find((s) => s.name === 'merge')!.action).toBe('ran');
    fresh = TempProject.create(files('d1'));
    expect((await fresh.run()).code).toBe(0);
    expect(snapshot(p, 'build')).toEqual(snapshot(fresh, 'build'));
  });

  it('leaves a file a declared step now writes, and records what it did with the run', { timeout: 180_000 }, async () => {
    p = TempProject.create(files('d1', 'd2'));
    expect((await p.run()).code).toBe(0);
    // tidy:d2 renamed: the new step declares the same output, so it is not an orphan's.
    p.write('Batchfile.ts', batchfile([tidy('d1'), tidy('d2').replace("'tidy:d2'", "'clean:d2'"), MERGE].join('\n')));
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect((r as unknown as { orphans?: unknown }).orphans).toBeUndefined();
    expect(p.read('build/tidy/d2.csv')).toBe('d2,c\n');
    // Removing it now does remove it, and the run record lists it.
    p.write('Batchfile.ts', files('d1')['Batchfile.ts']!);
    const gone = await p.run();
    expect((gone as unknown as { orphans: unknown }).orphans).toEqual([{ step: 'clean:d2', removed: ['build/tidy/d2.csv'], kept: [] }]);
    expect(p.exists('build/tidy/d2.csv')).toBe(false);
  });
});
