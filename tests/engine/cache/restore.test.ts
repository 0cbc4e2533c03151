// The output cache's main path: a fingerprint seen before is restored, not rerun; restoring
// leaves exactly the cached outputs; early cutoff still holds after a restore.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { actions, batchfile, cmd, entries, GEN_STEP, snapshot } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

describe('output cache: restore', () => {
  it('reverting an input edit restores both steps instead of rerunning them, with no stale file left, equal to a clean build', async () => {
    const files = {
      'names.txt': 'x\n',
      'gen.ts': GEN_STEP,
      // gen writes one file per line of names.txt into out/; cat reads the folder.
      'Batchfile.ts': batchfile(`
  gen: { run: 'gen.ts', inputs: ['names.txt'], outputs: ['out/'], params: { text: '!' } },
  cat: { command: ${cmd('--in', 'out/x.txt', '--text', '.', '--out', 'final/cat.txt', '--mark', 'marks.txt')}, inputs: ['out/'], outputs: ['final/cat.txt'] },
`),
    };
    p = TempProject.create(files);
    const first = await p.run();
    expect(first.code, first.stderr).toBe(0);
    expect(actions(first.steps)).toEqual({ gen: 'ran', cat: 'ran' });

    // A second line makes gen write a second file: out/y.txt.
    p.write('names.txt', 'x\ny\n');
    const edited = await p.run();
    expect(actions(edited.steps)).toEqual({ gen: 'ran', cat: 'ran' });
    expect(p.exists('out/y.txt')).toBe(true);
    expect(p.marks()).toEqual(['gen', 'cat', 'gen', 'cat']);

    p.write('names.txt', 'x\n');
    // The plan says so before anything runs.
    const plan = await p.batch(['--dry-run']);
    expect(plan.stdout).toMatch(new RegExp(`restore\\s+gen\\s+outputs of run ${first.runId} are in the output cache`));
    const reverted = await p.run();
    expect(reverted.code, reverted.stderr).toBe(0);
    expect(actions(reverted.steps)).toEqual({ gen: 'restored', cat: 'restored' });
    expect(reverted.steps.find((s) => s.name === 'gen')?.reason).toContain(`outputs of run ${first.runId}`);
    // Nothing executed: the marks are those of the first two runs.
    expect(p.marks()).toEqual(['gen', 'cat', 'gen', 'cat']);
    // out/y.txt, written by the edited run, is not part of the restored result.
    expect(p.exists('out/y.txt')).toBe(false);

    // The same project built from scratch without the cache gives the same files.
    const clean = TempProject.create(files);
    try {
      const cleanRun = await clean.run(['--no-cache']);
      expect(cleanRun.code, cleanRun.stderr).toBe(0);
      expect({ ...snapshot(p, 'out'), ...snapshot(p, 'final') }).toEqual({ ...snapshot(clean, 'out'), ...snapshot(clean, 'final') });
    } finally {
      clean.cleanup();
    }

    // What was restored is recorded as current: the next run is a no-op.
    const again = await p.run();
    expect(actions(again.steps)).toEqual({ gen: 'up-to-date', cat: 'up-to-date' });
  });

  it('params A → B → A: the second A is restored, and so is the downstream step', async () => {
    const withText = (t: string): string =>
      batchfile(`
  gen: { run: 'gen.ts', outputs: ['out/'], params: { text: ${JSON.stringify(t)} } },
  use: { command: ${cmd('--in', 'out/all.txt', '--out', 'use.txt', '--mark', 'marks.txt')}, inputs: ['out/all.txt'], outputs: ['use.txt'] },
`);
    p = TempProject.create({ 'gen.ts': GEN_STEP, 'Batchfile.ts': withText('A') });
    expect(actions((await p.run()).steps)).toEqual({ gen: 'ran', use: 'ran' });
    p.write('Batchfile.ts', withText('B'));
    expect(actions((await p.run()).steps)).toEqual({ gen: 'ran', use: 'ran' });
    expect(p.read('use.txt')).toBe('B');
    p.write('Batchfile.ts', withText('A'));
    const back = await p.run();
    expect(actions(back.steps)).toEqual({ gen: 'restored', use: 'restored' });
    expect(back.steps.find((s) => s.name === 'gen')?.reason).toContain('param changed: text "B" -> "A"');
    expect(p.read('out/all.txt')).toBe('A');
    expect(p.read('use.txt')).toBe('A');
    expect(p.marks()).toEqual(['gen', 'use', 'gen', 'use']);
  });

  it('early cutoff after a restore: a downstream step that last read the same bytes stays up to date', async () => {
    // `label` changes gen's fingerprint but not what it writes.
    const withLabel = (l: number): string =>
      batchfile(`
  gen: { run: 'gen.ts', outputs: ['out/'], params: { text: 'same', label: ${l} } },
  use: { command: ${cmd('--in', 'out/all.txt', '--out', 'use.txt', '--mark', 'marks.txt')}, inputs: ['out/'], outputs: ['use.txt'] },
`);
    p = TempProject.create({ 'gen.ts': GEN_STEP, 'Batchfile.ts': withLabel(1) });
    expect(actions((await p.run()).steps)).toEqual({ gen: 'ran', use: 'ran' });
    p.write('Batchfile.ts', withLabel(2));
    expect(actions((await p.run()).steps)).toEqual({ gen: 'ran', use: 'up-to-date' });
    p.write('Batchfile.ts', withLabel(1));
    const back = await p.run();
    expect(actions(back.steps)).toEqual({ gen: 'restored', use: 'up-to-date' });
    expect(p.marks()).toEqual(['gen', 'use', 'gen']);
  });

  it('restores outputs deleted by hand when the fingerprint is unchanged', async () => {
    p = TempProject.create({
      'in.txt': 'hello',
      'Batchfile.ts': batchfile(`
  a: { command: ${cmd('--in', 'in.txt', '--out', 'build/a.txt', '--mark', 'marks.txt')}, inputs: ['in.txt'], outputs: ['build/a.txt'] },
`),
    });
    await p.run();
    p.remove('build');
    const r = await p.run();
    expect(actions(r.steps)).toEqual({ a: 'restored' });
    expect(r.steps[0]?.reason).toContain('output missing: build/a.txt');
    expect(p.read('build/a.txt')).toBe('hello');
    expect(p.marks()).toEqual(['a']);
  });

  it('a restore gives back each file with its size and permission bits, and an output folder left empty', async () => {
    p = TempProject.create({
      'in.txt': 'one',
      'Batchfile.ts': batchfile(`
  s: { command: 'mkdir -p empty && { echo "#!/bin/sh"; cat in.txt; } > tool.sh && chmod 750 tool.sh && printf 12345 > data.txt && chmod 604 data.txt', inputs: ['in.txt'], outputs: ['tool.sh', 'data.txt', 'empty'] },
`),
    });
    const first = await p.run();
    expect(first.code, first.stderr).toBe(0);
    const [entry] = [...entries(p).values()];
    expect(entry?.files['tool.sh']?.size).toBe(fs.statSync(p.path('tool.sh')).size);
    expect(entry?.files['data.txt']?.size).toBe(5);
    p.write('in.txt', 'two');
    expect(actions((await p.run()).steps)).toEqual({ s: 'ran' });
    p.write('in.txt', 'one');
    const back = await p.run();
    expect(actions(back.steps)).toEqual({ s: 'restored' });
    expect(p.read('tool.sh')).toBe('#!/bin/sh\none');
    expect(fs.statSync(p.path('tool.sh')).mode & 0o777).toBe(0o750);
    expect(fs.statSync(p.path('data.txt')).mode & 0o777).toBe(0o604);
    expect(fs.readdirSync(p.path('empty'))).toEqual([]);
  });

  it('honours cache: false on a step, cache.enabled: false and --no-cache', async () => {
    const bf = (top: string, stepCache: string): string =>
      batchfile(
        `
  a: { command: ${cmd('--in', 'in.txt', '--out', 'a.txt', '--mark', 'marks.txt')}, inputs: ['in.txt'], outputs: ['a.txt'] ${stepCache} },
  b: { command: ${cmd('--in', 'in.txt', '--out', 'b.txt', '--mark', 'marks.txt')}, inputs: ['in.txt'], outputs: ['b.txt'] },
`,
        top,
      );
    p = TempProject.create({ 'in.txt': '1', 'Batchfile.ts': bf('', ', cache: false') });
    const cycle = async (args: string[] = []): Promise<Record<string, string>> => {
      p!.write('in.txt', '2');
      await p!.run(args);
      p!.write('in.txt', '1');
      return actions((await p!.run(args)).steps);
    };
    await p.run();
    // Step a opted out: never stored, so it runs; b is restored.
    expect(await cycle()).toEqual({ a: 'ran', b: 'restored' });
    expect([...entries(p).values()].map((e) => e.step).sort()).toEqual(['b', 'b']);

    // --no-cache: neither read nor written.
    p.write('in.txt', '3');
    await p.run(['--no-cache']);
    expect(await cycle(['--no-cache'])).toEqual({ a: 'ran', b: 'ran' });
    expect(entries(p).size).toBe(2);

    // The whole cache off in the Batchfile.
    p.write('Batchfile.ts', bf('cache: { enabled: false },', ''));
    await p.run();
    expect(await cycle()).toEqual({ a: 'ran', b: 'ran' });
    expect(entries(p).size).toBe(2);
  });

  it('--force does not read the cache but stores what it ran', async () => {
    p = TempProject.create({
      'in.txt': 'one',
      'Batchfile.ts': batchfile(`
  a: { command: ${cmd('--in', 'in.txt', '--out', 'a.txt', '--mark', 'marks.txt')}, inputs: ['in.txt'], outputs: ['a.txt'] },
`),
    });
    await p.run(['--no-cache']);
    expect(entries(p).size).toBe(0);
    const forced = await p.run(['--force']);
    expect(actions(forced.steps)).toEqual({ a: 'ran' });
    expect(entries(p).size).toBe(1);
    // An entry for this very fingerprint exists now, yet --force runs the step again.
    expect(actions((await p.run(['--force'])).steps)).toEqual({ a: 'ran' });
    expect(p.marks()).toEqual(['a', 'a', 'a']);
    p.write('in.txt', 'two');
    await p.run();
    p.write('in.txt', 'one');
    const back = await p.run();
    expect(actions(back.steps)).toEqual({ a: 'restored' });
    expect(p.read('a.txt')).toBe('one');
    expect(p.marks()).toHaveLength(4);
  });
});
