// Bundles the engine under dist/bundle/ (run by `npm run build`, after tsc).
// Why: Node's ESM loader costs ~1 ms per module file (resolve, read, compile, link); the
// engine is ~70 small modules, so `batch --version` spent more time loading than running.
// Packages stay external (resolved from node_modules as before).
//
// The CLI is one CommonJS file, dist/bundle/cli.cjs, which bin/batch.js runs through a V8
// code cache (src/cli/cached-load.ts, bundled as dist/bundle/load.cjs): Node 20 caches no
// compiled code for ES modules, and compiling the engine at every start was ~20-30 ms of a
// no-op. Its lazy parts stay lazy (esbuild wraps each module reached only through `import()`
// in a function run on first use), but are in the one file, so the cache holds them too.
// Code run that way cannot call `import()` (it needs an experimental flag), so the engine
// imports ES modules only through util/import-esm.ts, which this build replaces with the
// loader's own `import()`; any other dynamic import fails the build.
// The public entry (index.js), the Piscina worker and the helpers started by path stay ESM
// files with shared chunks.
//
// The chunks sit flat in dist/bundle/, one folder below dist/ like dist/util/ and
// dist/executors/, so paths the engine builds from import.meta.url still resolve:
// `../../package.json` (the version), `../forkserver`, and `./worker.js`, `./spawn-helper.js`
// (started by path; bundled here as entries of their own). The public entry that Batchfiles
// import (`batchfile`) is an entry too, dist/bundle/index.js (util/engine.ts points there).
// The package ships this bundle alone, with tsc's .d.ts files; tsc's per-file .js output in
// dist/ stays for the repository's own tests and benchmarks.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(REPO, 'dist', 'bundle');

/** Files the engine starts by path beside the module that names them, as
 * `new URL('./name.js', import.meta.url)` (the Piscina worker, the spawn helper): each must
 * exist beside the bundle's chunks too, so each becomes an entry of its own. */
function besideEntries() {
  const entries = {};
  const walk = (dir) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, d.name);
      if (d.isDirectory()) walk(abs);
      else if (d.name.endsWith('.ts')) {
        for (const m of fs.readFileSync(abs, 'utf8').matchAll(/new URL\(\s*['"]\.\/([\w.-]+)\.js['"]\s*,\s*import\.meta\.url\s*\)/g)) {
          const name = m[1];
          const src = path.relative(REPO, path.join(dir, `${name}.ts`));
          if (!fs.existsSync(path.join(REPO, src))) throw new Error(`${path.relative(REPO, abs)} names ./${name}.js, but ${src} does not exist`);
          if (name === 'main' || name === 'index' || (entries[name] && entries[name] !== src)) throw new Error(`bundle: two files would be dist/bundle/${name}.js`);
          entries[name] = src;
        }
      }
    }
  };
  walk(path.join(REPO, 'src'));
  return entries;
}

/** esbuild's CommonJS output wraps every `import x from 'node:fs'` of every module in
 * `__toESM(require(...))`, which copies each property of the module onto a new object as a
 * getter: ~150 wraps of node:fs and node:path at each start, ~7k property definitions, ~10 ms
 * of a no-op's CPU. Made once per module object here (the same live getters, shared by every
 * importer). Edited on the helper's own lines, so the source map's lines stay right; a
 * changed helper (another esbuild) fails the build instead of going unnoticed. */
function memoizeToEsm(file) {
  const text = fs.readFileSync(file, 'utf8');
  const helper = 'var __toESM = (mod, isNodeMode, target) => (';
  const next = 'var __toCommonJS = ';
  if (text.split(helper).length !== 2 || text.split(`\n${next}`).length !== 2) throw new Error(`bundle: esbuild's __toESM helper is not as expected in ${file}: update memoizeToEsm in scripts/bundle.mjs`);
  const memo =
    'var __toESMDone = new WeakMap(); var __toESM = (mod, isNodeMode) => { if (mod == null || (typeof mod !== "object" && typeof mod !== "function")) return __toESMOnce(mod, isNodeMode); let m = __toESMDone.get(mod); if (!m) __toESMDone.set(mod, (m = [])); return (m[isNodeMode ? 1 : 0] ??= __toESMOnce(mod, isNodeMode)); }; ';
  fs.writeFileSync(file, text.replace(helper, 'var __toESMOnce = (mod, isNodeMode, target) => (').replace(`\n${next}`, `\n${memo}${next}`));
}

/** One CommonJS file `OUT/<name>.cjs` of `entry` and what it imports (packages stay outside). */
function cjsFile(name, entry, extra = {}) {
  return esbuild.build({
    absWorkingDir: REPO,
    entryPoints: { [name]: entry },
    outdir: OUT,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    ...extra,
  });
}

fs.rmSync(OUT, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: REPO,
  entryPoints: { index: 'src/index.ts', ...besideEntries() },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: '[name]-[hash]',
  // Stack traces from the engine map back to src/ under `node --enable-source-maps`;
  // a separate .map file costs nothing at start-up unless that flag is given.
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
});
// The daemon client loads on every `batch` start, before the CLI: one CommonJS file of its
// own (bin/batch.js requires it, so a served run never starts the ESM loader), not a chunk
// shared with the CLI.
await cjsFile('client', 'src/daemon/client.ts', { sourcemap: 'linked', sourcesContent: false });
// Its modules import node:fs and node:path too (eight wraps at every start; ~0.35 ms).
memoizeToEsm(path.join(OUT, 'client.cjs'));
// The CLI, one CommonJS file for the code cache (see the top).
const IMPORT_ESM = path.join(REPO, 'src', 'util', 'import-esm.ts');
const cli = await cjsFile('cli', 'src/cli/main.ts', {
  // import.meta.url of every module is the bundle's own (it sits beside the ESM chunks, so the
  // paths built from it resolve the same).
  define: { 'import.meta.url': '__batch_import_meta_url' },
  // The directive first: before it, esbuild's own "use strict" is no directive, and the bundle
  // (ES modules, strict as such) would run sloppy.
  banner: { js: '"use strict";var __batch_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [
    {
      name: 'import-esm',
      setup(b) {
        b.onLoad({ filter: /[\\/]util[\\/]import-esm\.ts$/ }, (a) =>
          a.path === IMPORT_ESM ? { contents: 'export const importEsm = (specifier) => __import(specifier);', loader: 'js' } : undefined,
        );
      },
    },
  ],
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
});
memoizeToEsm(path.join(OUT, 'cli.cjs'));
const dynamic = Object.values(cli.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.kind === 'dynamic-import' && i.external).map((i) => i.path));
if (dynamic.length > 0) throw new Error(`bundle: the CLI imports ${dynamic.join(', ')} with import(): import ES modules through src/util/import-esm.ts (cli.cjs runs from a code cache, where import() cannot be used)`);
await cjsFile('load', 'src/cli/cached-load.ts');
const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
const bytes = files.reduce((n, f) => n + result.metafile.outputs[f].bytes, 0);
console.log(`bundle: ${files.length} files, ${(bytes / 1024).toFixed(0)} KiB in ${path.relative(REPO, OUT)}/ (entries: ${Object.keys(result.metafile.outputs).filter((f) => result.metafile.outputs[f].entryPoint).map((f) => path.basename(f)).join(', ')})`);
