// A step's `description` shows in `graph` (text, dot tooltip) and in `--dry-run`.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

describe('step descriptions', () => {
  it('appear in graph text and dot, and in --dry-run', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
  tidy: { command: 'true', outputs: ['t.txt'], description: 'Tidy the <rows>\\n & "keep" them' },
  plain: { command: 'true', inputs: ['t.txt'], outputs: ['p.txt'] },`),
    });
    const text = await p.batch(['graph', '--format', 'text']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('└─ tidy (command) — Tidy the <rows> & "keep" them');
    const dot = await p.batch(['graph', '--format', 'dot']);
    expect(dot.stdout).toContain('"tidy" [shape=parallelogram, tooltip="Tidy the <rows> & \\"keep\\" them"];');
    const dry = await p.batch(['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^run +tidy .*\n +\(Tidy the <rows> & "keep" them\)$/m);
  });
});
