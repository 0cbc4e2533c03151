// explain, --dry-run and a run's reason name each changed param (key, old -> new) and each
// changed env variable (its name only: values never appear).
import { afterEach, describe, expect, it } from 'vitest';
import { diffParts } from '../../../src/plan/decide.js';
import type { FingerprintParts } from '../../../src/store/types.js';
import { TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

const parts = (params: Record<string, string> | undefined, definition = 'd1'): FingerprintParts => ({
  definition: { command: 'c', params: definition, specs: 's' },
  env: {},
  inputs: {},
  code: {},
  ...(params ? { params } : {}),
});

describe('reasons for changed params and env', () => {
  it('diffParts names each param key with its old and new value', () => {
    const before = parts({ n: '1', tag: '"a"', gone: 'true', big: JSON.stringify('x'.repeat(100)) });
    const now = parts({ n: '2', tag: '"a"', added: '{"k":[1,2]}', big: JSON.stringify('y'.repeat(100)) }, 'd2');
    expect(diffParts(before, now)).toEqual([
      'param changed: n 1 -> 2',
      'param added: added.k = [1,2]',
      `param changed: big "${'x'.repeat(56)}… -> "${'y'.repeat(56)}…`,
      'param removed: gone (was true)',
    ]);
    // A nested value (a paramsFrom section) is named key by key.
    expect(diffParts(parts({ train: '{"n_est":60,"seed":7}' }), parts({ train: '{"n_est":70,"seed":7}' }, 'd2'))).toEqual(['param changed: train.n_est 60 -> 70']);
    // A state recorded before param values were kept: the old, general reason.
    expect(diffParts(parts(undefined), now)).toEqual(['params changed']);
  });

  it('explain, --dry-run and the run itself show them; env values never appear', async () => {
    const file = (n: number, mode: string): string =>
      batchfile(`
  tidy: { command: 'mkdir -p out && echo "$TOKEN" > /dev/null && echo p > out/t.txt', outputs: ['out/t.txt'], params: { n: ${n}, mode: '${mode}', keep: [1, 2] }, env: ['TOKEN'], description: 'Tidy the <rows> & keep them' },
`);
    p = TempProject.create({ 'Batchfile.ts': file(1, 'fast') });
    expect((await p.run([], { env: { TOKEN: 'secret-one' } })).code).toBe(0);
    p.write('Batchfile.ts', file(2, 'slow'));
    const env = { env: { TOKEN: 'secret-two' } };

    const explain = await p.batch(['explain', 'tidy'], env);
    expect(explain.code, explain.stderr).toBe(0);
    for (const line of ['param changed: n 1 -> 2', 'param changed: mode "fast" -> "slow"', 'env changed: TOKEN']) expect(explain.stdout).toContain(line);
    const dry = await p.batch(['--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    for (const line of ['param changed: n 1 -> 2', 'param changed: mode "fast" -> "slow"', 'env changed: TOKEN']) expect(dry.stdout).toContain(line);
    const json = JSON.parse((await p.batch(['explain', 'tidy', '--json'], env)).stdout) as { steps: { reasons: string[] }[] };
    expect(json.steps[0]!.reasons).toEqual(['param changed: n 1 -> 2', 'param changed: mode "fast" -> "slow"', 'env changed: TOKEN']);

    const run = await p.run([], env);
    expect(run.steps[0]!.reason).toBe('param changed: n 1 -> 2; param changed: mode "fast" -> "slow"; env changed: TOKEN');
    for (const out of [explain.stdout, explain.stderr, dry.stdout, dry.stderr, JSON.stringify(run)]) expect(out).not.toMatch(/secret-(one|two)/);
  });
});
