// Path specs in a Batchfile: most are plain relative paths, which validation accepts with one
// test; every other form takes the full check. Both must give what the full check gives.
import { describe, expect, it } from 'vitest';
import { validateBatch } from '../../../src/batchfile/validate.js';
import { KINDS } from '../../../src/kinds/registry.js';

const ROOT = '/project';
function inputsOf(specs: string[]): string[] {
  const config = validateBatch({ steps: { s: { command: 'true', inputs: specs } } }, `${ROOT}/Batchfile.ts`, ROOT, KINDS);
  return config.steps.get('s')!.inputs;
}
function errorOf(spec: string): string {
  try {
    inputsOf(['ok.txt', spec]);
  } catch (e) {
    return (e as Error).message;
  }
  return 'accepted';
}

describe('path specs', () => {
  it('plain specs stay as written; others are normalised', () => {
    const cases: [string, string][] = [
      ['data/a.csv', 'data/a.csv'],
      ['.hidden/x', '.hidden/x'],
      ['..x/y', '..x/y'],
      ['x..', 'x..'],
      [' spaced name', ' spaced name'],
      ['data/**/*.csv', 'data/**/*.csv'],
      ['./data/a.csv', 'data/a.csv'],
      ['data//a.csv', 'data/a.csv'],
      ['data/', 'data'],
      ['data/./a.csv', 'data/a.csv'],
      ['a/../b.csv', 'b.csv'],
      ['a/..', '.'],
      ['.', '.'],
      ['ünïcode/é.txt', 'ünïcode/é.txt'],
    ];
    expect(inputsOf(cases.map(([raw]) => raw))).toEqual(cases.map(([, want]) => want));
    for (const [raw, want] of cases) expect(inputsOf([raw]), raw).toEqual([want]);
  });

  it('refuses blank, absolute and escaping specs, naming the field', () => {
    expect(errorOf('')).toMatch(/step "s"\.inputs\[1\]: is an empty path/);
    expect(errorOf('   ')).toMatch(/step "s"\.inputs\[1\]: is an empty path/);
    expect(errorOf('\u00a0')).toMatch(/step "s"\.inputs\[1\]: is an empty path/);
    expect(errorOf('/etc/passwd')).toMatch(/step "s"\.inputs\[1\]: "\/etc\/passwd" is absolute/);
    expect(errorOf('..')).toMatch(/"\.\." points outside the project/);
    expect(errorOf('../x')).toMatch(/"\.\.\/x" points outside the project/);
    expect(errorOf('a/../../x')).toMatch(/points outside the project/);
    expect(errorOf('data/a.csv')).toBe('accepted');
  });
});
