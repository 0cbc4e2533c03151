// The validated-config cache's key, in process: another engine build, another compiled
// Batchfile, another project or a changed dependency each make a stored config unusable; and
// which compiled Batchfiles may be cached at all (purity.ts's cacheBlocker).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { depsOf, readCachedConfig, writeCachedConfig } from '../../../src/batchfile/config-cache.js';
import type { PipelineConfig } from '../../../src/batchfile/config.js';
import { cacheBlocker } from '../../../src/batchfile/purity.js';
import { initHash } from '../../../src/fingerprint/hash.js';
import { ENGINE_ENTRY, engineStamp, setEngineStamp } from '../../../src/util/engine.js';

let tmp: string | undefined;
const stampBefore = engineStamp();
beforeAll(() => initHash());
afterEach(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
  setEngineStamp(stampBefore);
});

function place(): { root: string; file: string; cacheDir: string; out: string } {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'config-cache-'));
  fs.mkdirSync(path.join(tmp, '.cache', 'batchfile'), { recursive: true });
  return { root: tmp, file: path.join(tmp, 'Batchfile.ts'), cacheDir: path.join(tmp, '.cache'), out: path.join(tmp, '.cache', 'batchfile', 'batchfile-1.mjs') };
}

const config = (root: string): PipelineConfig => ({
  root,
  file: path.join(root, 'Batchfile.ts'),
  steps: new Map([['a', { name: 'a', kind: 'command', spec: { command: ['echo'] }, inputs: [], outputs: ['out/a.txt'], dependsOn: [], params: { n: 1 }, env: [], retries: 0, cache: true }]]),
  cache: { enabled: true, maxBytes: 1024 },
});

describe('config cache key', () => {
  it('holds for the same build, compiled file and project, and for no other', () => {
    const w = place();
    setEngineStamp('build-1');
    writeCachedConfig(w, { files: [] }, config(w.root));
    expect(readCachedConfig(w)?.config).toEqual(config(w.root));
    expect(readCachedConfig({ ...w, out: `${w.out}x` })).toBeUndefined();
    expect(readCachedConfig({ ...w, file: `${w.file}x` })).toBeUndefined();
    expect(readCachedConfig({ ...w, root: `${w.root}x` })).toBeUndefined();
    // Another engine build (an upgrade, a rebuild): its validation may differ.
    setEngineStamp('build-2');
    expect(readCachedConfig(w)).toBeUndefined();
  });

  it('holds only while each file it read and each variable it read are as they were', () => {
    const w = place();
    const data = path.join(w.root, 'data.json');
    fs.writeFileSync(data, '[1]');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(data, old, old);
    const since = Date.now() + 10_000; // the evaluation started after every change (racy window passed)
    process.env.CONFIG_CACHE_TEST_VAR = 'one';
    try {
      const deps = depsOf({ paths: [data, path.join(w.root, 'absent')], wrote: false, env: { names: new Map([['CONFIG_CACHE_TEST_VAR', 'one']]), all: false } }, w.cacheDir, since);
      expect(deps).toBeDefined();
      writeCachedConfig(w, deps!, config(w.root));
      expect(readCachedConfig(w)).toBeDefined();
      process.env.CONFIG_CACHE_TEST_VAR = 'two';
      expect(readCachedConfig(w)).toBeUndefined();
      process.env.CONFIG_CACHE_TEST_VAR = 'one';
      expect(readCachedConfig(w)).toBeDefined();
      // Same size, same mtime put back: the content still differs.
      fs.writeFileSync(data, '[2]');
      fs.utimesSync(data, old, old);
      expect(readCachedConfig(w)).toBeUndefined();
      fs.writeFileSync(data, '[1]');
      fs.utimesSync(data, old, old);
      // (its ctime moved: the stat differs, so still not usable; a miss, never a wrong hit)
      expect(readCachedConfig(w)).toBeUndefined();
      // A path that was absent appears.
      const fresh = depsOf({ paths: [data, path.join(w.root, 'absent')], wrote: false, env: { names: new Map(), all: false } }, w.cacheDir, since);
      writeCachedConfig(w, fresh!, config(w.root));
      expect(readCachedConfig(w)).toBeDefined();
      fs.writeFileSync(path.join(w.root, 'absent'), '');
      expect(readCachedConfig(w)).toBeUndefined();
    } finally {
      delete process.env.CONFIG_CACHE_TEST_VAR;
    }
  });

  it('is not taken from an evaluation that wrote, or read a file changed during it', () => {
    const w = place();
    const data = path.join(w.root, 'data.json');
    fs.writeFileSync(data, '[1]');
    const none = { names: new Map<string, string | undefined>(), all: false };
    expect(depsOf({ paths: [], wrote: true, env: none }, w.cacheDir, Date.now())).toBeUndefined();
    // data.json changed after the evaluation started: what it read may not be what is there.
    expect(depsOf({ paths: [data], wrote: false, env: none }, w.cacheDir, Date.now() - 60_000)).toBeUndefined();
  });
});

describe('cacheBlocker', () => {
  // Compiled Batchfiles import the engine by its path (util/engine.ts).
  const engine = `import { defineBatch } from ${JSON.stringify(ENGINE_ENTRY)};\n`;
  it('allows pure code, fs reads and process.env', () => {
    expect(cacheBlocker(`${engine}export default defineBatch({ steps: {} });`)).toBeUndefined();
    expect(cacheBlocker(`import fs from "node:fs";\nconst x = fs.readFileSync("a");`)).toBeUndefined();
    expect(cacheBlocker(`const m = process.env.MODE; const c = process.cwd();`)).toBeUndefined();
    // Words in string literals are data.
    expect(cacheBlocker(`const cmd = "date > out.txt && echo process";`)).toBeUndefined();
  });
  it('refuses what it cannot record', () => {
    for (const code of [
      'const t = Date.now();',
      'const r = Math.random();',
      'import os from "node:os";',
      'import yaml from "yaml";',
      'const m = await import("./x.js");',
      'const a = process.argv;',
      'const p = process.platform;',
      'console.log(1);',
      'const g = globalThis.process;',
      'const f = eval("1");',
      'const c = crypto.randomUUID();',
    ]) {
      expect(cacheBlocker(code), code).toBeDefined();
    }
  });
});
