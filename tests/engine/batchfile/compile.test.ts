// compileModules: several run modules in one esbuild build give each module exactly what a
// build of that module alone gives (the sources its key depends on, packages, exports), so
// code tracking cannot depend on which modules happened to compile together; a module that
// does not compile gets its own error and does not take the others down; steps that ask for
// their code together (the pre-run check) share one build, and each names itself in errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileModule, compileModules, type Compiled } from '../../../src/batchfile/compile.js';
import type { StepConfig } from '../../../src/batchfile/config.js';
import { compileQueuedNow, runKind } from '../../../src/kinds/run.js';
import type { StepCode } from '../../../src/plan/step-code.js';
import { initHash } from '../../../src/fingerprint/hash.js';
import { StatCache } from '../../../src/fingerprint/stat-cache.js';
import { BatchError } from '../../../src/util/errors.js';

let tmp: string | undefined;
afterEach(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

function project(files: Record<string, string>): string {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'compile-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
    fs.writeFileSync(path.join(tmp, rel), text);
  }
  return tmp;
}

const FILES = {
  'steps/a.ts': `import { shared } from './lib/shared.ts';\nimport './lib/side.ts';\nimport type { T } from './lib/types.ts';\nexport default async (): Promise<T> => shared;\n`,
  'steps/b.mjs': `import { shared } from './lib/shared.ts';\nimport { pkgText } from 'fakepkg';\nimport fs from 'node:fs';\nexport const extra = 1;\nexport default async () => [shared, pkgText, fs.existsSync('.')];\n`,
  'steps/c.ts': `import { unused } from './lib/shared.ts';\nexport default async () => 'c';\n`,
  'steps/lib/shared.ts': `export const shared = 'shared';\nexport const unused = 'unused';\n`,
  // Contributes no bytes to a's bundle: editing it can still change the bundle, so it must
  // be among a's sources. (An \`import type\` is erased before esbuild resolves it, alone or not.)
  'steps/lib/side.ts': `\n`,
  'steps/lib/types.ts': `export type T = string;\n`,
  'node_modules/fakepkg/package.json': JSON.stringify({ name: 'fakepkg', version: '1.0.0', type: 'module', main: 'index.js' }),
  'node_modules/fakepkg/index.js': `export const pkgText = 'from fakepkg';\n`,
};

const meta = (c: Compiled | BatchError): unknown => (c instanceof BatchError ? c.message : { sources: c.sources, packages: c.packages, exports: c.exports });

describe('compileModules', () => {
  it('gives each module what a build of it alone gives', async () => {
    const root = project(FILES);
    const names = ['steps/a.ts', 'steps/b.mjs', 'steps/c.ts'];
    const outdir = path.join(root, '.cache/modules');
    const together = await compileModules(
      root,
      names.map((n) => ({ entryAbs: path.join(root, n), what: n })),
      { outdir },
    );
    const alone = await Promise.all(names.map((n) => compileModule(root, path.join(root, n), n, { outdir })));
    expect(together.map(meta)).toEqual(alone.map(meta));
    expect(meta(together[0]!)).toEqual({
      sources: ['steps/a.ts', 'steps/lib/shared.ts', 'steps/lib/side.ts'],
      packages: [],
      exports: ['default'],
    });
    expect(meta(together[1]!)).toEqual({ sources: ['steps/b.mjs', 'steps/lib/shared.ts'], packages: ['fakepkg'], exports: ['default', 'extra'] });
    // c's import of a name it never uses is dropped (TypeScript semantics): its bundle does
    // not depend on shared.ts, even though a and b, built with it, do.
    expect(meta(together[2]!)).toEqual({ sources: ['steps/c.ts'], packages: [], exports: ['default'] });
    // The modules run, and their inline source maps name the sources from where they are written.
    fs.mkdirSync(outdir, { recursive: true });
    const file = path.join(outdir, 'b.mjs');
    const b = together[1] as Compiled;
    fs.writeFileSync(file, b.code);
    const mod = (await import(file)) as { default: () => Promise<unknown[]> };
    expect(await mod.default()).toEqual(['shared', 'from fakepkg', true]);
    const map = JSON.parse(Buffer.from(b.code.slice(b.code.lastIndexOf('base64,') + 7).trim(), 'base64').toString('utf8')) as { sources: string[] };
    expect(map.sources.map((s) => path.resolve(outdir, s)).sort()).toEqual([path.join(root, 'steps/b.mjs'), path.join(root, 'steps/lib/shared.ts')]);
  });

  it('a module that does not compile gets its own error; the others compile', async () => {
    const root = project({ ...FILES, 'steps/bad.ts': `export default async () => {\n  const x = ;\n};\n` });
    const names = ['steps/a.ts', 'steps/bad.ts', 'steps/c.ts'];
    const together = await compileModules(
      root,
      names.map((n) => ({ entryAbs: path.join(root, n), what: `module ${n}` })),
    );
    expect(together[0]).not.toBeInstanceOf(BatchError);
    expect(together[2]).not.toBeInstanceOf(BatchError);
    const err = together[1] as BatchError;
    expect(err).toBeInstanceOf(BatchError);
    expect(err.message).toMatch(/^module steps\/bad\.ts does not compile:\n\s+steps\/bad\.ts:2:\d+: /);
    await expect(compileModule(root, path.join(root, 'steps/bad.ts'), 'module steps/bad.ts')).rejects.toThrow(err.message);
  });
});

/** A `run` step's code, as the pre-run check asks its kind for it. */
function code(step: StepConfig, root: string, cacheDir: string, stats: StatCache): Promise<StepCode> {
  return Promise.resolve(runKind.code(step, { root, cacheDir, stats }));
}

describe('run step code', () => {
  const step = (name: string, run: string): StepConfig => ({ name, kind: 'run', spec: { run }, inputs: [], outputs: [], dependsOn: [], params: {}, env: [], retries: 0, cache: false });

  it('steps asked for together share their builds; each names itself when its module does not compile', async () => {
    await initHash();
    const root = project({ ...FILES, 'steps/bad.ts': `export default async () => {\n  const x = ;\n};\n` });
    const stats = new StatCache(root, undefined);
    const cache = path.join(root, '.cache');
    const asked = [step('one', 'steps/a.ts'), step('two', 'steps/a.ts'), step('b', 'steps/b.mjs'), step('bad1', 'steps/bad.ts'), step('bad2', 'steps/bad.ts')];
    const got = await Promise.allSettled(asked.map((s) => code(s, root, cache, stats)));
    const [one, two, b, bad1, bad2] = got;
    expect(one?.status === 'fulfilled' && two?.status === 'fulfilled' && b?.status === 'fulfilled').toBe(true);
    if (one?.status !== 'fulfilled' || two?.status !== 'fulfilled' || b?.status !== 'fulfilled') return;
    expect(Object.keys(one.value.files)).toEqual(['steps/a.ts', 'steps/lib/shared.ts', 'steps/lib/side.ts']);
    expect(two.value).toEqual(one.value);
    expect(Object.keys(b.value.files)).toEqual(['steps/b.mjs', 'steps/lib/shared.ts', 'node_modules/fakepkg/package.json']);
    expect(path.dirname(b.value.compiled!)).toBe(path.join(cache, 'modules'));
    expect(fs.existsSync(b.value.compiled!)).toBe(true);
    const reason = (r: PromiseSettledResult<unknown> | undefined): string => (r?.status === 'rejected' ? (r.reason as Error).message : 'fulfilled');
    expect(reason(bad1)).toMatch(/^step "bad1"\.run module steps\/bad\.ts does not compile:\n\s+steps\/bad\.ts:2:/);
    expect(reason(bad2)).toBe(reason(bad1).replace('step "bad1"', 'step "bad2"'));
  });

  it('compileQueuedNow sends what was asked so far at once; a module asked after it in the same turn still compiles', async () => {
    await initHash();
    const root = project(FILES);
    const stats = new StatCache(root, undefined);
    const cache = path.join(root, '.cache');
    const first = [code(step('one', 'steps/a.ts'), root, cache, stats), code(step('b', 'steps/b.mjs'), root, cache, stats)];
    compileQueuedNow();
    const later = code(step('two', 'steps/a.ts'), root, cache, stats);
    const [one, b, two] = await Promise.all([...first, later]);
    expect(Object.keys(one!.files)).toEqual(['steps/a.ts', 'steps/lib/shared.ts', 'steps/lib/side.ts']);
    expect(two).toEqual(one);
    expect(Object.keys(b!.files)).toEqual(['steps/b.mjs', 'steps/lib/shared.ts', 'node_modules/fakepkg/package.json']);
  });
});
