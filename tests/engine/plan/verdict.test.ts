// One verdict, four ways to ask for it: a run, `--force`, `--dry-run` and `explain` drive the
// same scenarios (each change on its own independent step) and must agree on every step's
// verdict (run, up to date, restore, blocked) and its reason.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempProject, type RunSummary } from '../rig.js';
import { batchfile, cmd } from '../helpers.js';

const ENV = 'BATCH_VERDICT_TEST_ENV';

const steps = (v: { command: string }): string => batchfile(`
  content: { command: ${cmd('--in', 'in/content.txt', '--out', 'out/content.txt')}, inputs: ['in/content.txt'], outputs: ['out/content.txt'] },
  touched: { command: ${cmd('--in', 'in/touched.txt', '--out', 'out/touched.txt')}, inputs: ['in/touched.txt'], outputs: ['out/touched.txt'] },
  command: { command: ${cmd('--text', v.command, '--out', 'out/command.txt')}, outputs: ['out/command.txt'] },
  params: { command: ${cmd('--text', 'p', '--out', 'out/params.txt')}, outputs: ['out/params.txt'], params: { n: PARAM_N } },
  env: { command: ${cmd('--text', 'e', '--out', 'out/env.txt')}, outputs: ['out/env.txt'], env: ['${ENV}'] },
  code: { run: 'steps/mod.ts', outputs: ['out/mod.txt'] },
  deleted: { command: ${cmd('--text', 'd', '--out', 'out/deleted.txt')}, outputs: ['out/deleted.txt'], cache: false },
  cached: { command: ${cmd('--text', 'c', '--out', 'out/cached.txt')}, outputs: ['out/cached.txt'] },
  outside: { command: ${cmd('--text', 'o', '--out', 'link/o.txt')}, outputs: ['link/o.txt'] },
  stable: { command: ${cmd('--in', 'in/stable.txt', '--out', 'out/stable.txt')}, inputs: ['in/stable.txt'], outputs: ['out/stable.txt'] },
`, `import { PARAM_N } from './conf.ts';`);

const MODULE = (text: string): string => `import fs from 'node:fs';
export default async (ctx: { outputs: string[] }) => { fs.mkdirSync('out', { recursive: true }); fs.writeFileSync(ctx.outputs[0]!, ${JSON.stringify(text)}); };
`;

type Kind = 'run' | 'up-to-date' | 'restore' | 'blocked';
interface Seen {
  kind: Kind;
  reason: string;
}
interface Explained {
  name: string;
  decision: string;
  reasons: string[];
}

const NAMES = ['content', 'touched', 'command', 'params', 'env', 'code', 'deleted', 'cached', 'outside', 'stable'];

/** The verdicts `--dry-run` or `explain` print (--json), with the reason as a run records it. */
function fromPlan(stdout: string): Record<string, Seen> {
  const out: Record<string, Seen> = {};
  for (const s of (JSON.parse(stdout) as { steps: Explained[] }).steps) {
    const restoreFrom = /^outputs of run (\S+) are in the output cache/.exec(s.reasons[0] ?? '');
    const reason =
      s.decision === 'up-to-date' ? 'up to date'
      : restoreFrom ? `restored from cache (outputs of run ${restoreFrom[1]}); ${s.reasons.slice(1).join('; ')}`
      : s.reasons.join('; ');
    out[s.name] = { kind: s.decision as Kind, reason };
  }
  return out;
}

/** The verdicts a run acted on, from its --json summary. */
function fromRun(run: RunSummary): Record<string, Seen> {
  const out: Record<string, Seen> = {};
  for (const s of run.steps) {
    const kind: Kind =
      s.action === 'ran' ? 'run'
      : s.action === 'restored' ? 'restore'
      : s.action === 'up-to-date' ? 'up-to-date'
      : 'blocked';
    out[s.name] = { kind, reason: s.reason };
  }
  return out;
}

let p: TempProject;
let elsewhere: string;
const env1 = { [ENV]: 'one' };
const env2 = { [ENV]: 'two' };

/** Makes every scenario's change after a first full run. */
function change(): void {
  p.write('in/content.txt', 'content 2');
  p.touch('in/touched.txt');
  p.write('Batchfile.ts', steps({ command: 'v2' }));
  p.write('conf.ts', 'export const PARAM_N = 2;\n');
  p.write('steps/mod.ts', MODULE('mod v2'));
  p.remove('out/deleted.txt');
  p.remove('out/cached.txt');
  // `link` becomes a symlink out of the project: the step may not write through it.
  p.remove('link');
  fs.symlinkSync(elsewhere, p.path('link'));
}

beforeAll(async () => {
  elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-verdict-elsewhere-'));
  p = TempProject.create({
    'Batchfile.ts': steps({ command: 'v1' }),
    'conf.ts': 'export const PARAM_N = 1;\n',
    'in/content.txt': 'content 1',
    'in/touched.txt': 'touched',
    'in/stable.txt': 'stable',
    'steps/mod.ts': MODULE('mod v1'),
  });
  fs.mkdirSync(p.path('link'));
  const first = await p.run([], { env: env1 });
  expect(first.code, first.stderr).toBe(0);
  change();
});
afterAll(() => {
  p?.cleanup();
  fs.rmSync(elsewhere, { recursive: true, force: true });
});

describe('one verdict for the run, --force, --dry-run and explain', () => {
  it('a never-run project: every step would run and does, for the same reason', async () => {
    const q = TempProject.create({ 'Batchfile.ts': steps({ command: 'v1' }), 'conf.ts': 'export const PARAM_N = 1;\n', 'in/content.txt': 'c', 'in/touched.txt': 't', 'in/stable.txt': 's', 'steps/mod.ts': MODULE('m') });
    try {
      const dry = fromPlan((await q.batch(['--dry-run', '--json'], { env: env1 })).stdout);
      const explained = fromPlan((await q.batch(['explain', ...NAMES, '--json'], { env: env1 })).stdout);
      const run = await q.run([], { env: env1 });
      expect(run.code, run.stderr).toBe(0);
      const every = Object.fromEntries(NAMES.map((n) => [n, { kind: 'run', reason: 'no previous run recorded' }]));
      expect(dry).toEqual(every);
      expect(explained).toEqual(every);
      expect(fromRun(run)).toEqual(every);
    } finally {
      q.cleanup();
    }
  });

  it('after each change: the same verdict and reason from --dry-run, explain and the run', async () => {
    const dry = await p.batch(['--dry-run', '--json'], { env: env2 });
    expect(dry.code, dry.stderr).toBe(0);
    const explained = await p.batch(['explain', ...NAMES, '--json'], { env: env2 });
    expect(explained.code, explained.stderr).toBe(0);
    const planned = fromPlan(dry.stdout);
    expect(fromPlan(explained.stdout)).toEqual(planned);

    // What each scenario must give (so the agreement below cannot hold vacuously).
    expect(planned).toMatchObject({
      content: { kind: 'run', reason: 'input changed: in/content.txt' },
      touched: { kind: 'up-to-date' },
      command: { kind: 'run', reason: 'command changed' },
      params: { kind: 'run', reason: 'param changed: n 1 -> 2' },
      env: { kind: 'run', reason: `env changed: ${ENV}` },
      code: { kind: 'run', reason: 'code changed: steps/mod.ts' },
      deleted: { kind: 'run', reason: 'output missing: out/deleted.txt' },
      cached: { kind: 'restore', reason: expect.stringMatching(/^restored from cache \(outputs of run \S+\); output missing: out\/cached\.txt$/) },
      outside: { kind: 'blocked', reason: expect.stringMatching(/^output link(\/o\.txt)? resolves outside the project/) },
      stable: { kind: 'up-to-date' },
    });

    // -k: the blocked step fails, and the independent steps still go ahead.
    const run = await p.run(['-k'], { env: env2 });
    expect(run.code).toBe(1);
    expect(fromRun(run)).toEqual(planned);
    expect(run.steps.find((s) => s.name === 'outside')).toMatchObject({ status: 'FAIL', action: 'not-run' });
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it('--force: every step runs, none is restored, the blocked one stays blocked, all four agree', async () => {
    p.remove('out/cached.txt');
    const dry = fromPlan((await p.batch(['--dry-run', '--force', '--json'], { env: env2 })).stdout);
    const explained = fromPlan((await p.batch(['explain', ...NAMES, '--force', '--json'], { env: env2 })).stdout);
    const run = await p.run(['--force', '-k'], { env: env2 });
    const expected = Object.fromEntries(NAMES.map((n) => [n, n === 'outside' ? dry.outside : { kind: 'run', reason: 'forced (--force)' }]));
    expect(dry.outside).toEqual({ kind: 'blocked', reason: expect.stringMatching(/resolves outside the project/) });
    expect(dry).toEqual(expected);
    expect(explained).toEqual(expected);
    expect(fromRun(run)).toEqual(expected);
  });

  it('a second run with nothing changed: up to date everywhere but the blocked step', async () => {
    const dry = fromPlan((await p.batch(['--dry-run', '--json'], { env: env2 })).stdout);
    const run = await p.run(['-k'], { env: env2 });
    expect(fromRun(run)).toEqual(dry);
    expect(Object.entries(dry).filter(([, v]) => v.kind !== 'up-to-date').map(([n]) => n)).toEqual(['outside']);
  });
});
