// Bundles the CLI into a few ESM files under dist/bundle/ (run by `npm run build`, after tsc).
// Why: Node's ESM loader costs ~1 ms per module file (resolve, read, compile, link); the
// engine is ~70 small modules, so `batch --version` spent more time loading than running.
// One file per load path is much cheaper. Packages stay external (resolved from
// node_modules as before). Every `import()` stays lazy: with `splitting`, each dynamic
// import becomes its own chunk, loaded only when the code path that needs it runs.
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

fs.rmSync(OUT, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: REPO,
  entryPoints: { main: 'src/cli/main.ts', index: 'src/index.ts', ...besideEntries() },
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
await esbuild.build({
  absWorkingDir: REPO,
  entryPoints: { client: 'src/daemon/client.ts' },
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
});
const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
const bytes = files.reduce((n, f) => n + result.metafile.outputs[f].bytes, 0);
console.log(`bundle: ${files.length} files, ${(bytes / 1024).toFixed(0)} KiB in ${path.relative(REPO, OUT)}/ (entries: ${Object.keys(result.metafile.outputs).filter((f) => result.metafile.outputs[f].entryPoint).map((f) => path.basename(f)).join(', ')})`);
