import fs from 'node:fs';
import path from 'node:path';
import { BatchError } from '../util/errors.js';
import { ENGINE_ENTRY } from '../util/engine.js';
import { toRel } from '../util/paths.js';

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
}

/** Bundles a TS/JS module and its local imports into one ESM file with esbuild, leaving
 * packages external. esbuild is imported here, lazily: only a changed source pays for it. */
export async function compileModule(root: string, entryAbs: string, what: string, opts: CompileOptions = {}): Promise<Compiled> {
  const esbuild = await import('esbuild');
  let result: Awaited<ReturnType<typeof esbuild.build>> & { metafile: import('esbuild').Metafile };
  try {
    result = await esbuild.build({
      entryPoints: [entryAbs],
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
    });
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number; lineText: string } }[] }).errors;
    if (errors && errors.length > 0) {
      const lines = errors.slice(0, 5).map((er) =>
        er.location ? `${er.location.file}:${er.location.line}:${er.location.column + 1}: ${er.text}\n    ${er.location.lineText}` : er.text,
      );
      throw new BatchError(`${what} does not compile:\n  ${lines.join('\n  ')}`, 2);
    }
    throw new BatchError(`${what} does not compile: ${(e as Error).message}`, 2);
  }
  const out = result.outputFiles?.[0];
  if (!out) throw new BatchError(`${what}: esbuild produced no output`, 2);
  const sources = Object.keys(result.metafile.inputs)
    .map((p) => toRel(root, path.resolve(root, p)))
    .sort();
  const packages = new Set<string>();
  const exports = new Set<string>();
  for (const o of Object.values(result.metafile.outputs)) {
    for (const x of o.exports) exports.add(x);
    for (const imp of o.imports) {
      if (!imp.external || imp.path.startsWith('node:') || path.isAbsolute(imp.path)) continue;
      const parts = imp.path.split('/');
      const name = imp.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
      if (name) packages.add(name);
    }
  }
  return { code: out.text, sources, packages: [...packages].sort(), exports: [...exports].sort() };
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
