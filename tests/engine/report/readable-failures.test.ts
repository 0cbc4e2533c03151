// A failure reads at a glance: the end of the failed step's output in the terminal with its
// log's path; a run step's stack and a Batchfile evaluation error point at the user's .ts files
// and lines (not the compiled copies under .cache/); paths printed relative to the project.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

const HELPER = `export function check(n: number): number {
  if (n > 1) throw new Error('too many rows: ' + n);
  return n;
}
`;
const STATS = `import { check } from './helper.js';

export default async function stats(): Promise<void> {
  const rows = [1, 2, 3];
  // a comment the compiled copy does not keep
  check(rows.length);
}
`;

describe('failures in the terminal', () => {
  it("shows the last 20 lines of a failed step's output and its log, and maps run-step stacks to the .ts sources", async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
  bad: { command: 'for i in $(seq 1 30); do echo "line $i" >&2; done; echo "refusing: bad data" >&2; exit 3', outputs: ['out/bad.txt'] },
  stats: { run: 'steps/stats.ts', outputs: ['out/stats.txt'] },`),
      'steps/helper.ts': HELPER,
      'steps/stats.ts': STATS,
    });
    const r = await p.batch(['--keep-going']);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => /^ {2}bad: exit code 3 \(log: logs\/runs\/[^/]+\/bad\.log\)$/.test(l));
    expect(at, r.stdout).toBeGreaterThanOrEqual(0);
    const tail = lines.slice(at + 1, at + 21).map((l) => l.replace(/^ {4}│ /, ''));
    expect(tail).toEqual([...Array.from({ length: 19 }, (_, i) => `line ${i + 12}`), 'refusing: bad data']);
    expect(lines[at + 21]).toMatch(/^ {2}stats: too many rows: 3 \(log: logs\/runs\/[^/]+\/stats\.log\)$/);

    // The run step's stack: in the terminal and in its log, at the user's files and lines.
    expect(r.stdout).toContain('│     at check (steps/helper.ts:2:20)');
    expect(r.stdout).toContain('│     at stats (steps/stats.ts:6:3)');
    expect(r.stdout).not.toContain('.cache/');
    const log = p.read(lines[at + 21]!.match(/\(log: (.*)\)$/)![1]!);
    expect(log).toContain('at check (steps/helper.ts:2:20)');
    expect(log).not.toMatch(/\.cache\/modules|piscina/);
  });

  it('an error thrown while the Batchfile is evaluated names its lines; graph errors name the Batchfile relatively', async () => {
    p = TempProject.create({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
const tables: Record<string, string> = {};

function table(name: string): string { throw new Error('no such table: ' + name + tables[name]); }
export default defineBatch({ steps: {
  stats: { command: 'true', outputs: [table('flights')] },
} });
`,
    });
    const r = await p.batch();
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: Batchfile.ts:4:46: evaluating the Batchfile threw: no such table: flightsundefined\n  (called from Batchfile.ts:6:39)\n');
    expect(r.stderr).not.toContain(p.dir);

    p.write('Batchfile.ts', batchfile(`
  a: { command: 'true', inputs: ['x.txt'], outputs: ['y.txt'] },
  b: { command: 'true', inputs: ['y.txt'], outputs: ['x.txt'] },`));
    const c = await p.batch();
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('error: Batchfile.ts: the steps form a cycle: a -> b -> a\n  "a" reads "x.txt", which "b" writes\n  "b" reads "y.txt", which "a" writes');
    expect(c.stderr).not.toContain(p.dir);
  });
});
