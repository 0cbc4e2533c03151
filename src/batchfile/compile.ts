import fs from 'node:fs';
import path from 'node:path';
import { BatchError } from '../util/errors.js';
import { ENGINE_ENTRY } from '../util/engine.js';
import { toRel } from '../util/paths.js';
import { importEsm } from '../util/import-esm.js';

export interface Compiled {
  /** Bundled ESM text. */
  code: string;
  /** Project-relative paths of the local sources that went into it. */
  sources: string[];
  /** Bare package names it imports (left external, resolved from the project at run time). */
  packages: string[];
  /** Names the module exports ("default" among them when it has a default export). */
  exports: string[];
}

export interface CompileOptions {
  /** Inline a source map (default true). An inline map embeds the whole source again, in
   * base64: it roughly triples the file Node must read and parse at every import. */
  sourcemap?: boolean;
  /** Folder the output will be written to (source map paths are relative to it). */
  outdir?: string;
}

type Esbuild = typeof import('esbuild');
type BuildOptions = import('esbuild').BuildOptions;
type Metafile = import('esbuild').Metafile;

function buildOptions(root: string, opts: CompileOptions): BuildOptions {
  return {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    metafile: true,
    sourcemap: opts.sourcemap === false ? false : 'inline',
    logLevel: 'silent',
    plugins: [
      {
        name: 'batchfile-self',
        setup(build) {
          build.onResolve({ filter: /^batchfile$/ }, () => ({ path: ENGINE_ENTRY, external: true }));
        },
      },
    ],
  };
}

function compileError(what: string, e: unknown): BatchError {
  const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number; lineText: string } }[] }).errors;
  if (errors && errors.length > 0) {
    const lines = errors.slice(0, 5).map((er) =>
      er.location ? `${er.location.file}:${er.location.line}:${er.location.column + 1}: ${er.text}\n    ${er.location.lineText}` : er.text,
    );
    return new BatchError(`${what} does not compile:\n  ${lines.join('\n  ')}`, 2);
  }
  return new BatchError(`${what} does not compile: ${(e as Error).message}`, 2);
}

/** Bare package names among an output's external imports. */
function packagesOf(imports: Metafile['outputs'][string]['imports']): Set<string> {
  const packages = new Set<string>();
  for (const imp of imports) {
    if (!imp.external || imp.path.startsWith('node:') || path.isAbsolute(imp.path)) continue;
    const parts = imp.path.split('/');
    const name = imp.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    if (name) packages.add(name);
  }
  return packages;
}

/** Bundles a TS/JS module and its local imports into one ESM file with esbuild, leaving
 * packages external. esbuild is imported here, lazily: only a changed source pays for it. */
export async function compileModule(root: string, entryAbs: string, what: string, opts: CompileOptions = {}): Promise<Compiled> {
  const esbuild = await importEsm<Esbuild>('esbuild');
  let result: import('esbuild').BuildResult;
  try {
    result = await esbuild.build({
      ...buildOptions(root, opts),
      entryPoints: [entryAbs],
      ...(opts.outdir ? { outdir: opts.outdir } : {}),
    });
  } catch (e) {
    throw compileError(what, e);
  }
  const out = result.outputFiles?.[0];
  const meta = result.metafile;
  if (!out || !meta) throw new BatchError(`${what}: esbuild produced no output`, 2);
  const sources = Object.keys(meta.inputs)
    .map((p) => toRel(root, path.resolve(root, p)))
    .sort();
  const packages = new Set<string>();
  const exports = new Set<string>();
  for (const o of Object.values(meta.outputs)) {
    for (const x of o.exports) exports.add(x);
    for (const name of packagesOf(o.imports)) packages.add(name);
  }
  return { code: out.text, sources, packages: [...packages].sort(), exports: [...exports].sort() };
}

export interface ModuleToCompile {
  entryAbs: string;
  /** Names the module in an error ("step "x".run module steps/x.ts"). */
  what: string;
}

/** Compiles several modules in ONE esbuild build (one entry point each): esbuild parses
 * what they share once and the build costs one round trip to its service, where one build
 * per module cost ~3 ms of batch's main thread and ~2.5 ms of wall time each before the
 * first step could start. Each module's result is what compileModule would give (the same
 * sources, packages and exports). If the build fails, the modules are compiled one by one,
 * so each gets its own result or error. */
export async function compileModules(root: string, modules: ModuleToCompile[], opts: CompileOptions = {}): Promise<(Compiled | BatchError)[]> {
  const one = (m: ModuleToCompile): Promise<Compiled | BatchError> =>
    compileModule(root, m.entryAbs, m.what, opts).catch((e: unknown) => {
      if (e instanceof BatchError) return e;
      throw e;
    });
  if (modules.length === 1) return [await one(modules[0]!)];
  const esbuild = await importEsm<Esbuild>('esbuild');
  let result: import('esbuild').BuildResult;
  try {
    result = await esbuild.build({
      ...buildOptions(root, opts),
      entryPoints: modules.map((m, i) => ({ in: m.entryAbs, out: `entry${i}` })),
      // Where the modules are written, so an inline source map's paths resolve from there.
      outdir: opts.outdir ?? root,
    });
  } catch {
    return Promise.all(modules.map(one));
  }
  const meta = result.metafile;
  if (!meta) return Promise.all(modules.map(one));
  const texts = new Map<string, string>();
  for (const f of result.outputFiles ?? []) texts.set(path.basename(f.path), f.text);
  const outputs = new Map(Object.entries(meta.outputs).map(([k, o]) => [path.basename(k), o]));
  return modules.map((m, i) => {
    const output = outputs.get(`entry${i}.js`);
    const code = texts.get(`entry${i}.js`);
    if (!output?.entryPoint || code === undefined) return new BatchError(`${m.what}: esbuild produced no output`, 2);
    // The local files this module's bundle was built from: everything reachable from its
    // entry through non-external imports (what a build of this entry alone lists as inputs,
    // files that end up contributing no bytes included: editing one can change the bundle).
    const reach = new Set<string>([output.entryPoint]);
    for (const file of reach) for (const imp of meta.inputs[file]?.imports ?? []) if (!imp.external) reach.add(imp.path);
    const sources = [...reach].map((p) => toRel(root, path.resolve(root, p))).sort();
    return { code, sources, packages: [...packagesOf(output.imports)].sort(), exports: [...output.exports].sort() };
  });
}

/** Writes a file atomically: a crash leaves either the old file or the new one. */
export function writeFileAtomic(abs: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const tmp = `${abs}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, abs);
}

/** Finds `node_modules/<name>/package.json` from the project root upward, as Node would. */
export function findPackageJson(root: string, name: string): string | undefined {
  let dir = root;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
