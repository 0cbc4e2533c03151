// The validated-config cache (src/batchfile/config-cache.ts): a direct run with an unchanged
// Batchfile takes its config from .cache/batchfile/config.bin instead of evaluating it, and
// every thing the config depends on sends it back to evaluating: an edit of the Batchfile or
// of a module it imports, a file or folder it reads, an environment variable it reads; forEach
// matches and params files are read by every run whatever the cache holds; a damaged cache
// file is ignored. After each change the outputs equal a clean --force build's.
// Whether a run evaluated the Batchfile is read from BATCH_TIMING's marks ('batchfile from
// cache' or 'batchfile imported').
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectsRemovedAfterEach, type TempProject } from '../rig.js';
import { expectCleanBuildEqual } from '../helpers.js';

const ENV = { BATCH_TIMING: '1', BATCH_RACY_WINDOW_MS: '0' };

const project = projectsRemovedAfterEach();

/** A run: its steps' actions, and whether the config came from the cache. */
async function run(p: TempProject, env: NodeJS.ProcessEnv = {}): Promise<{ actions: Record<string, string>; cached: boolean }> {
  const r = await p.run([], { env: { ...ENV, ...env } });
  expect(r.code, r.stderr).toBe(0);
  const cached = r.stderr.includes('batchfile from cache');
  // Exactly one of the two.
  expect(cached !== r.stderr.includes('batchfile imported'), r.stderr).toBe(true);
  return { actions: Object.fromEntries(r.steps.map((s) => [s.name, s.action])), cached };
}

/** The files under out/ of `p`, and of a copy of its sources built from nothing with --force
 * and no config cache: they must be equal. */
function expectCleanEqual(p: TempProject, env: NodeJS.ProcessEnv = {}): Promise<void> {
  return expectCleanBuildEqual(p, { ...ENV, BATCH_CONFIG_CACHE: '0', ...env });
}

const echo = (name: string, text: string): string => `${name}: { command: 'echo ${text} > out/${name}.txt', outputs: ['out/${name}.txt'] },`;

describe('validated-config cache', () => {
  it('reuses the config of an unchanged Batchfile, and evaluates again after an edit of it or of a module it imports', async () => {
    const p = project({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';\nimport { WORD } from './lib/word.ts';\nexport default defineBatch({ steps: { ${echo('a', 'one')} b: { command: 'echo ' + WORD + ' > out/b.txt', outputs: ['out/b.txt'] } } });\n`,
      'lib/word.ts': `export const WORD = 'first';\n`,
      'out/.keep': '',
    });
    expect(await run(p)).toEqual({ actions: { a: 'ran', b: 'ran' }, cached: false });
    expect(await run(p)).toEqual({ actions: { a: 'up-to-date', b: 'up-to-date' }, cached: true });
    // The Batchfile: a new step, another command.
    p.write('Batchfile.ts', p.read('Batchfile.ts').replace("echo one", 'echo uno').replace('} } });', `} , ${echo('c', 'three')} } });`));
    expect(await run(p)).toEqual({ actions: { a: 'ran', b: 'up-to-date', c: 'ran' }, cached: false });
    expect(await run(p)).toEqual({ actions: { a: 'up-to-date', b: 'up-to-date', c: 'up-to-date' }, cached: true });
    // A module it imports.
    p.write('lib/word.ts', `export const WORD = 'second';\n`);
    expect(await run(p)).toEqual({ actions: { a: 'up-to-date', b: 'ran', c: 'up-to-date' }, cached: false });
    expect(p.read('out/b.txt')).toBe('second\n');
    expect((await run(p)).cached).toBe(true);
    await expectCleanEqual(p);
  });

  it('evaluates again when a file or folder the Batchfile read changed, or a variable it read', async () => {
    const p = project({
      'Batchfile.ts': `import fs from 'node:fs';
import { defineBatch } from 'batchfile';
const words: string[] = JSON.parse(fs.readFileSync('words.json', 'utf8'));
const parts = fs.readdirSync('parts').sort();
const steps: Record<string, { command: string; outputs: string[] }> = {};
for (const w of words) steps['w-' + w] = { command: 'echo ' + w + ' > out/w-' + w + '.txt', outputs: ['out/w-' + w + '.txt'] };
for (const f of parts) steps['p-' + f] = { command: 'cat parts/' + f + ' > out/p-' + f, outputs: ['out/p-' + f] };
steps.mode = { command: 'echo ' + (process.env.PIPE_MODE ?? 'none') + ' > out/mode.txt', outputs: ['out/mode.txt'] };
export default defineBatch({ steps });
`,
      'words.json': '["x", "y"]',
      'parts/1.txt': 'one\n',
      'out/.keep': '',
    });
    expect((await run(p)).cached).toBe(false);
    expect(await run(p)).toEqual({ actions: { 'w-x': 'up-to-date', 'w-y': 'up-to-date', 'p-1.txt': 'up-to-date', mode: 'up-to-date' }, cached: true });
    // A file it read.
    p.write('words.json', '["x", "z"]');
    expect(await run(p)).toEqual({ actions: { 'w-x': 'up-to-date', 'w-z': 'ran', 'p-1.txt': 'up-to-date', mode: 'up-to-date' }, cached: false });
    expect((await run(p)).cached).toBe(true);
    // A folder it listed: a new file in it.
    p.write('parts/2.txt', 'two\n');
    expect(await run(p)).toEqual({ actions: { 'w-x': 'up-to-date', 'w-z': 'up-to-date', 'p-1.txt': 'up-to-date', 'p-2.txt': 'ran', mode: 'up-to-date' }, cached: false });
    expect((await run(p)).cached).toBe(true);
    // A variable it read: set, then changed, then unset again.
    expect(await run(p, { PIPE_MODE: 'fast' })).toMatchObject({ actions: { mode: 'ran' }, cached: false });
    expect(p.read('out/mode.txt')).toBe('fast\n');
    expect(await run(p, { PIPE_MODE: 'fast' })).toMatchObject({ actions: { mode: 'up-to-date' }, cached: true });
    expect(await run(p, { PIPE_MODE: 'slow' })).toMatchObject({ actions: { mode: 'ran' }, cached: false });
    // Back to the first value: its output is restored from the output cache.
    expect(await run(p)).toMatchObject({ actions: { mode: 'restored' }, cached: false });
    expect(p.read('out/mode.txt')).toBe('none\n');
    await expectCleanEqual(p);
  });

  it('lists forEach globs and reads params files on every run, whatever the cache holds', async () => {
    const p = project({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  each: { forEach: 'data/*.csv', command: 'cat {path} > out/{stem}.txt', inputs: ['{path}'], outputs: ['out/{stem}.txt'] },
  tuned: { command: 'echo "$BATCH_PARAM_MODEL_DEPTH" > out/depth.txt', outputs: ['out/depth.txt'], paramsFrom: { 'params.yaml': ['model.depth'] } },
} });
`,
      'data/a.csv': 'a\n',
      'params.yaml': 'model:\n  depth: 3\n',
      'out/.keep': '',
    });
    expect((await run(p)).cached).toBe(false);
    expect((await run(p)).cached).toBe(true);
    // A new forEach match: its instance runs, from the cached config.
    p.write('data/b.csv', 'b\n');
    const r = await run(p);
    expect(r.cached).toBe(true);
    expect(Object.entries(r.actions).filter(([, a]) => a === 'ran').map(([n]) => n)).toHaveLength(1);
    expect(p.read('out/b.txt')).toBe('b\n');
    // A params file key.
    p.write('params.yaml', 'model:\n  depth: 5\n');
    expect(await run(p)).toMatchObject({ actions: { tuned: 'ran' }, cached: true });
    expect(p.read('out/depth.txt')).toBe('5\n');
    await expectCleanEqual(p);
  });

  it('ignores a damaged or truncated cache file and writes it again', async () => {
    const p = project({ 'Batchfile.ts': `import { defineBatch } from 'batchfile';\nexport default defineBatch({ steps: { ${echo('a', 'one')} } });\n`, 'out/.keep': '' });
    expect((await run(p)).cached).toBe(false);
    expect((await run(p)).cached).toBe(true);
    const file = p.path('.cache/batchfile/config.bin');
    const good = fs.readFileSync(file);
    // One byte of the config changed: the checksum no longer matches.
    const flipped = Buffer.from(good);
    flipped[flipped.length - 20] = flipped[flipped.length - 20]! ^ 0xff;
    fs.writeFileSync(file, flipped);
    expect(await run(p)).toEqual({ actions: { a: 'up-to-date' }, cached: false });
    expect((await run(p)).cached).toBe(true);
    for (const bad of [good.subarray(0, good.length >> 1), Buffer.from('garbage'), Buffer.alloc(0)]) {
      fs.writeFileSync(file, bad);
      expect(await run(p)).toEqual({ actions: { a: 'up-to-date' }, cached: false });
    }
    expect(fs.readFileSync(file).equals(good)).toBe(true);
    await expectCleanEqual(p);
  });

  it('never caches a Batchfile that could give another config without a recorded change', async () => {
    for (const [what, code] of [
      ['the clock', `const when = String(Date.now() > 0);`],
      ['randomness', `const when = String(Math.random() >= 0);`],
      ['printing', `console.error('hello'); const when = 'x';`],
      ['a write', `import fs from 'node:fs';\nfs.writeFileSync('side.txt', 'x'); const when = 'x';`],
      ['setting a variable', `process.env.FROM_BATCHFILE = 'x'; const when = 'x';`],
    ] as const) {
      const p = project({ 'Batchfile.ts': `${code}\nimport { defineBatch } from 'batchfile';\nexport default defineBatch({ steps: { a: { command: 'echo ' + when + ' > out/a.txt', outputs: ['out/a.txt'] } } });\n`, 'out/.keep': '' });
      expect((await run(p)).cached, what).toBe(false);
      expect((await run(p)).cached, what).toBe(false);
    }
  });
});
