// The integrity-test phase: the Batchfile's Vitest files run after the steps, their results
// reach the summary, --json, the store and the CSV; a failing test fails the run; the phase is
// cached like a step (test files, files beside them, checked files) and --no-tests skips it.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { cmd, csvRows, readStore } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

const BATCHFILE = `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    make: { command: ${cmd('--in', 'in.txt', '--out', 'out/data.txt')}, inputs: ['in.txt'], outputs: ['out/data.txt'] },
  },
  tests: { files: ['checks/*.test.ts'] },
});
`;

const TEST = `import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expected } from './helper.js';
describe('data', () => {
  it('is populated', () => {
    expect(fs.readFileSync('out/data.txt', 'utf8').length).toBeGreaterThan(0);
  });
  it('has the expected line count', () => {
    const lines = fs.readFileSync('out/data.txt', 'utf8').trim().split('\\n').length;
    expect(lines, \`rows in out/data.txt (\${lines}) != expected (\${expected})\`).toBe(expected);
  });
});
`;

describe('integrity test phase', () => {
  it('runs after the steps, is recorded everywhere, fails the run on a failing test, and is cached', async () => {
    p = TempProject.create({ 'Batchfile.ts': BATCHFILE, 'in.txt': 'a\nb\n', 'checks/data.test.ts': TEST, 'checks/helper.ts': 'export const expected = 2;\n' });

    const first = await p.run();
    expect(first.code).toBe(0);
    expect(first.status).toBe('PASS');
    expect(first.tests).toMatchObject({ status: 'PASS', action: 'ran', passed: 2, failed: 0 });
    expect(first.tests!.cases.map((c) => [c.name, c.status])).toEqual([
      ['data > is populated', 'PASS'],
      ['data > has the expected line count', 'PASS'],
    ]);

    // Cached: nothing the tests read changed.
    const second = await p.run();
    expect(second.tests).toMatchObject({ status: 'PASS', action: 'up-to-date', passed: 2 });
    expect(second.tests!.cases).toHaveLength(2);

    // A file beside the tests (an imported helper) changes: the tests rerun, and now fail.
    p.write('checks/helper.ts', 'export const expected = 3;\n');
    const third = await p.run();
    expect(third.code).toBe(1);
    expect(third.status).toBe('FAIL');
    expect(third.steps[0]!.action).toBe('up-to-date');
    expect(third.tests).toMatchObject({ status: 'FAIL', action: 'ran', passed: 1, failed: 1 });
    const failed = third.tests!.cases.find((c) => c.status === 'FAIL')!;
    expect(failed.message).toContain('rows in out/data.txt (2) != expected (3)');

    // A failing result is never cached: the next run runs the tests again.
    const fourth = await p.run();
    expect(fourth.tests).toMatchObject({ status: 'FAIL', action: 'ran' });

    // A checked file (a step output) changes: the step reruns and so do the tests, which pass.
    p.write('in.txt', 'a\nb\nc\n');
    const fifth = await p.run();
    expect(fifth.steps[0]!.action).toBe('ran');
    expect(fifth.tests).toMatchObject({ status: 'PASS', action: 'ran', passed: 2 });

    // --no-tests skips the phase; --force reruns it.
    const sixth = await p.run(['--no-tests']);
    expect(sixth.tests).toBeUndefined();
    const seventh = await p.run(['--force']);
    expect(seventh.tests).toMatchObject({ status: 'PASS', action: 'ran' });

    // Every run's test results are in the store and the CSV.
    const store = await readStore(p);
    const runs = Object.values(store.runs) as { id: string; tests?: { status: string; failed: number } }[];
    expect(runs.find((r) => r.id === third.runId)?.tests).toMatchObject({ status: 'FAIL', failed: 1 });
    const rows = csvRows(p);
    const testRows = rows.filter((r) => r.run_id === third.runId && r.kind === 'test');
    expect(testRows.map((r) => [r.name, r.status])).toEqual([
      ['checks/data.test.ts > data > is populated', 'PASS'],
      ['checks/data.test.ts > data > has the expected line count', 'FAIL'],
    ]);
    expect(rows.find((r) => r.run_id === third.runId && r.kind === 'tests')?.status).toBe('FAIL');
  });

  it('a test file that does not load fails the phase with its error', async () => {
    p = TempProject.create({ 'Batchfile.ts': BATCHFILE, 'in.txt': 'a\n', 'checks/broken.test.ts': 'import { it } from "vitest";\nthrow new Error("cannot load fixtures");\nit("x", () => {});\n' });
    const r = await p.run();
    expect(r.code).toBe(1);
    expect(r.tests?.status).toBe('FAIL');
    expect(r.tests?.cases.some((c) => c.status === 'FAIL' && (c.message ?? '').includes('cannot load fixtures'))).toBe(true);
  });
});
