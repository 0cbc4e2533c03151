import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashBytes, hashString, initHash } from '../fingerprint/hash.js';
import { ENGINE_ENTRY, engineVersion } from '../util/engine.js';
import { BatchError } from '../util/errors.js';
import { shownPath, shownPathsIn } from '../util/paths.js';
import { inlineSourceMap, mapStack } from '../util/source-map.js';
import { BATCHFILE_NAMES, batchfileIn } from '../util/project-root.js';
import { mark } from '../util/timing.js';
import { compileModule, writeFileAtomic } from './compile.js';
import type { PipelineConfig } from './config.js';
import { depsOf, readCachedConfig, writeCachedConfig } from './config-cache.js';
import { cacheBlocker } from './purity.js';
import { projectReads, trackAccess, type Accessed } from './reads.js';
import { validateBatch, type KindRules } from './validate.js';
import { importEsm } from '../util/import-esm.js';

export { BATCHFILE_NAMES } from '../util/project-root.js';
export { impurity } from './purity.js';

export function findBatchfile(root: string, explicit?: string, searchedAbove = false): string {
  if (explicit) {
    const abs = path.resolve(root, explicit);
    if (!fs.existsSync(abs)) throw new BatchError(`Batchfile not found: ${abs}`, 2);
    return abs;
  }
  const found = batchfileIn(root);
  if (found) return found;
  throw new BatchError(`No Batchfile in ${root}${searchedAbove ? ' or any folder above it' : ''} (looked for ${BATCHFILE_NAMES.join(', ')}). Create one with \`batch init\`.`, 2);
}

/** Bump when the compiled form changes (compile options), so older compiled Batchfiles
 * are rebuilt rather than reused. 2: no inline source map. */
const COMPILE_FORMAT = 2;

interface Manifest {
  format: number;
  engine: string;
  /** The engine entry the compiled code imports `batchfile` from (an absolute path written
   * into it): another install or checkout of the engine must recompile. */
  engineEntry: string;
  entry: string;
  sources: Record<string, string>;
  out: string;
}

function manifestPath(cacheDir: string): string {
  return path.join(cacheDir, 'batchfile', 'manifest.json');
}

function hashSource(abs: string): string | undefined {
  try {
    return hashBytes(fs.readFileSync(abs));
  } catch {
    return undefined;
  }
}

/** The compiled Batchfile, reused while every source it was built from is byte-identical. */
export async function compiledBatchfile(root: string, file: string, cacheDir: string): Promise<{ out: string; sources: string[] }> {
  const mPath = manifestPath(cacheDir);
  try {
    const m = JSON.parse(fs.readFileSync(mPath, 'utf8')) as Manifest;
    const out = path.join(cacheDir, 'batchfile', m.out);
    if (
      m.format === COMPILE_FORMAT &&
      m.engine === engineVersion() &&
      m.engineEntry === ENGINE_ENTRY &&
      m.entry === file &&
      Object.entries(m.sources).every(([rel, h]) => hashSource(path.resolve(root, rel)) === h) &&
      fs.existsSync(out)
    ) {
      return { out, sources: Object.keys(m.sources) };
    }
  } catch {
    // no usable manifest: compile
  }
  // No source map: the Batchfile is imported at every run and an evaluation error is
  // reported by its message; an inline map made a 10,000-step Batchfile 12.6 MB instead of 4.5.
  const compiled = await compileModule(root, file, path.relative(root, file) || file, { sourcemap: false });
  const sources: Record<string, string> = {};
  for (const rel of compiled.sources) sources[rel] = hashSource(path.resolve(root, rel)) ?? '';
  const outName = `batchfile-${hashString(compiled.code)}.mjs`;
  const out = path.join(cacheDir, 'batchfile', outName);
  try {
    if (!fs.existsSync(out)) writeFileAtomic(out, compiled.code);
    const manifest: Manifest = { format: COMPILE_FORMAT, engine: engineVersion(), engineEntry: ENGINE_ENTRY, entry: file, sources, out: outName };
    writeFileAtomic(mPath, JSON.stringify(manifest));
  } catch (e) {
    throw new BatchError(`Cannot write the compiled Batchfile under ${shownPath(root, cacheDir)}: ${shownPathsIn(root, (e as Error).message)}`, 3);
  }
  return { out, sources: compiled.sources };
}

export interface Loaded {
  config: PipelineConfig;
  /** Project-relative sources of the Batchfile (itself and its local imports), for watch mode. */
  sources: string[];
  /** The compiled module that was imported. */
  out?: string;
  /** With `trackReads`: project files its evaluation read (see reads.ts). */
  reads?: string[];
  /** The config came from the validated-config cache (config-cache.ts): not evaluated. */
  cached?: boolean;
  /** Identifies the config and what it depends on (config-cache.ts), when it is cached:
   * equal ids, equal configs. */
  configId?: string;
}

export interface LoadOptions {
  /** Evaluate the Batchfile again even when this process imported the same compiled file
   * before (a new module instance): watch mode, for a Batchfile that reads files. */
  fresh?: boolean;
  /** Record the project files the evaluation reads. */
  trackReads?: boolean;
}

let freshImports = 0;

export type CompiledBatchfile = Awaited<ReturnType<typeof compiledBatchfile>>;

/** Compiles (or reuses), imports and validates the Batchfile. `compiled`: what a caller found
 * moments ago (the daemon, checking the Batchfile before it serves a run), not looked up again.
 * `kinds`: the step kinds a step may be (kinds/registry.ts's KINDS). */
export async function loadBatchfile(root: string, file: string, cacheDir: string, kinds: readonly KindRules[], compiled?: CompiledBatchfile, opts: LoadOptions = {}): Promise<Loaded> {
  await initHash();
  // A process that keeps the loaded Batchfile (the daemon hands `compiled`; watch mode loads
  // afresh and tracks reads) has its own memo; one-shot commands use the cached config.
  const useCache = compiled === undefined && !opts.fresh && !opts.trackReads && process.env.BATCH_CONFIG_CACHE !== '0';
  const { out, sources } = compiled ?? (await compiledBatchfile(root, file, cacheDir));
  mark('batchfile compiled');
  const where = { root, file, cacheDir, out };
  if (useCache) {
    const hit = readCachedConfig(where);
    if (hit) {
      mark('batchfile from cache');
      return { config: hit.config, sources, out, cached: true, configId: hit.id };
    }
  }
  const cacheable = useCache && cacheBlocker(fs.readFileSync(out, 'utf8')) === undefined;
  const since = Date.now();
  const { mod, accessed } = await evaluate(root, file, out, opts.fresh === true, opts.trackReads === true || cacheable);
  mark('batchfile imported');
  const config = validated(mod.default, file, root, kinds);
  mark('batchfile validated');
  const deps = cacheable && accessed ? depsOf(accessed, cacheDir, since) : undefined;
  const configId = deps ? writeCachedConfig(where, deps, config) : undefined;
  return { config, sources, out, ...(configId ? { configId } : {}), ...(opts.trackReads && accessed ? { reads: projectReads(root, accessed.paths) } : {}) };
}

/** Imports the compiled Batchfile (`track`: recording what it reads) and checks it has a
 * default export; an error thrown while evaluating it is reported at its line. */
async function evaluate(root: string, file: string, out: string, fresh: boolean, track: boolean): Promise<{ mod: { default?: unknown }; accessed?: Omit<Accessed<unknown>, 'value'> }> {
  let mod: { default?: unknown };
  let accessed: Omit<Accessed<unknown>, 'value'> | undefined;
  try {
    const url = `${pathToFileURL(out).href}${fresh ? `?fresh=${++freshImports}` : ''}`;
    const load = async (): Promise<{ default?: unknown }> => await importEsm<{ default?: unknown }>(url);
    if (track) ({ value: mod, ...accessed } = await trackAccess(root, load));
    else mod = await load();
  } catch (e) {
    const where = await userFrames(e, root, file, out);
    const called = where.slice(1).map((w) => `\n  (called from ${w})`).join('');
    throw new BatchError(`${where[0] ?? path.relative(root, file)}: evaluating the Batchfile threw: ${(e as Error)?.message ?? String(e)}${called}`, 2);
  }
  if (mod.default === undefined) {
    throw new BatchError(`${path.relative(root, file)}: has no default export; write \`export default defineBatch({ steps: { ... } })\``, 2);
  }
  return { mod, ...(accessed ? { accessed } : {}) };
}

/** Where in the user's sources an error thrown while the Batchfile was evaluated arose,
 * innermost first ("Batchfile.ts:12:7"): its stack frames in the compiled file, mapped back.
 * The compiled Batchfile has no source map (it is imported at every run); on this rare path
 * it is compiled again with one, which gives the same code lines. */
async function userFrames(e: unknown, root: string, file: string, out: string): Promise<string[]> {
  const stack = (e as Error)?.stack;
  if (typeof stack !== 'string' || !stack.includes(path.basename(out))) return [];
  let map: ReturnType<typeof inlineSourceMap>;
  try {
    map = inlineSourceMap((await compileModule(root, file, path.relative(root, file) || file, { outdir: path.dirname(out) })).code);
  } catch {
    return [];
  }
  const mapped = mapStack(stack, root, (abs) => (abs === out ? map : undefined));
  const where: string[] = [];
  for (const line of mapped.split('\n')) {
    // A mapped frame names a project-relative file; engine, Node and package frames do not.
    const m = /^\s+at (?:.*\()?([^\s()/:][^\s():]*:\d+:\d+)\)?$/.exec(line);
    if (m && !m[1]!.startsWith('node:')) where.push(m[1]!);
  }
  return where;
}

/** A process that loads the same compiled Batchfile again (the daemon, watch mode) gets the
 * same module back from Node's module cache — the compiled file is named by its content —
 * so its validated config is reused: validation is a pure function of the exported value.
 * Reusing the same config object also keeps the per-config memos (graph, definition hashes). */
const validatedMemo = new WeakMap<object, { file: string; root: string; config: PipelineConfig }>();

function validated(exported: unknown, file: string, root: string, kinds: readonly KindRules[]): PipelineConfig {
  if (typeof exported !== 'object' || exported === null) return validateBatch(exported, file, root, kinds);
  const hit = validatedMemo.get(exported);
  if (hit && hit.file === file && hit.root === root) return hit.config;
  const config = validateBatch(exported, file, root, kinds);
  validatedMemo.set(exported, { file, root, config });
  return config;
}
