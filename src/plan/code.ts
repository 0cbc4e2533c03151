import fs from 'node:fs';
import path from 'node:path';
import type { StepConfig } from '../batchfile/config.js';
import { compileModules, findPackageJson, writeFileAtomic, type Compiled } from '../batchfile/compile.js';
import type { Store } from '../store/store.js';
import type { FileHashes } from '../store/types.js';
import { BatchError } from '../util/errors.js';
import { mark } from '../util/timing.js';
import { isInside, normaliseSpec, toRel } from '../util/paths.js';
import { isGlob, specMatcher } from '../fingerprint/files.js';
import { hashString } from '../fingerprint/hash.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import { shellWords } from '../fingerprint/shell-words.js';

export interface StepCode {
  /** Hashes of every code file the step's result depends on. */
  files: FileHashes;
  /** Absolute path of the compiled module, for `run` steps. */
  compiled?: string;
}

interface Waiter {
  /** How this step names the module in an error. */
  what: string;
  resolve: (c: Compiled) => void;
  reject: (e: unknown) => void;
}

interface CompileBatch {
  root: string;
  outdir: string;
  /** Entry module → its description for errors and who waits for it (steps may share a module). */
  modules: Map<string, { what: string; waiters: Waiter[] }>;
  sent?: boolean;
}

let batch: CompileBatch | undefined;
/** BATCH_TIMING marks the first build only (watch mode builds again at every code edit). */
let marked = false;

/** Compiles a run module together with every other one asked for in the same turn of the
 * event loop: the pre-run check asks for all of them in one synchronous loop, so a first
 * build compiles its N modules in one esbuild build instead of N (compileModules). */
function compileSoon(root: string, outdir: string, entryAbs: string, what: string): Promise<Compiled> {
  return new Promise((resolve, reject) => {
    if (!batch || batch.root !== root || batch.outdir !== outdir) {
      const b: CompileBatch = { root, outdir, modules: new Map() };
      batch = b;
      setImmediate(() => {
        if (batch === b) batch = undefined;
        void flush(b);
      });
    }
    let m = batch.modules.get(entryAbs);
    if (!m) batch.modules.set(entryAbs, (m = { what, waiters: [] }));
    m.waiters.push({ what, resolve, reject });
  });
}

/** Sends the modules asked for so far to esbuild now rather than at the end of this turn, so
 * that what the caller does next (starting the worker pool) overlaps the compile. */
export function compileQueuedNow(): void {
  const b = batch;
  if (!b) return;
  batch = undefined;
  void flush(b);
}

async function flush(b: CompileBatch): Promise<void> {
  // Once: compileQueuedNow may have sent it before its turn ended.
  if (b.sent) return;
  b.sent = true;
  const list = [...b.modules.entries()];
  try {
    const results = await compileModules(
      b.root,
      list.map(([entryAbs, m]) => ({ entryAbs, what: m.what })),
      { outdir: b.outdir },
    );
    if (!marked) mark(`modules built (${list.length})`);
    marked = true;
    list.forEach(([, m], i) => {
      const r = results[i]!;
      for (const w of m.waiters) {
        if (!(r instanceof BatchError)) w.resolve(r);
        // Each step sharing a module that does not compile names itself in its error.
        else if (w.what === m.what || !r.message.startsWith(m.what)) w.reject(r);
        else w.reject(new BatchError(w.what + r.message.slice(m.what.length), r.exitCode));
      }
    });
  } catch (e) {
    for (const [, m] of list) for (const w of m.waiters) w.reject(e);
  }
}

/** Code of a `run` step: the module, every local module it imports, and the package.json of
 * each package it imports (so a package upgrade counts). Compiled once per source change. */
async function runStepCode(step: StepConfig, root: string, cacheDir: string, store: Store | undefined, stats: StatCache): Promise<StepCode> {
  const run = step.run!;
  const entry = store?.code.get(run);
  if (entry) {
    const compiledAbs = path.resolve(root, entry.compiled);
    const same = Object.entries(entry.sources).every(([rel, h]) => stats.get(rel)?.hash === h);
    if (same && fs.existsSync(compiledAbs)) return { files: entry.sources, compiled: compiledAbs };
  }
  const abs = path.resolve(root, run);
  if (stats.get(run) === null) {
    throw new BatchError(`step "${step.name}".run: module "${run}" does not exist`, 2);
  }
  const modulesDir = path.resolve(root, cacheDir, 'modules');
  const compiled = await compileSoon(root, modulesDir, abs, `step "${step.name}".run module ${run}`);
  if (!compiled.exports.includes('default')) {
    throw new BatchError(`step "${step.name}".run: module "${run}" has no default export; export \`default async (ctx) => { ... }\``, 2);
  }
  const files: FileHashes = {};
  for (const rel of compiled.sources) {
    const h = stats.get(rel)?.hash;
    if (h) files[rel] = h;
  }
  for (const pkg of compiled.packages) {
    const pj = findPackageJson(root, pkg);
    if (!pj) continue;
    const rel = toRel(root, pj);
    const h = stats.get(rel)?.hash;
    if (h) files[rel] = h;
  }
  const base = path.basename(run).replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9_-]/g, '_');
  const compiledAbs = path.join(modulesDir, `${base}-${hashString(compiled.code)}.mjs`);
  const compiledRel = toRel(root, compiledAbs);
  try {
    if (!fs.existsSync(compiledAbs)) writeFileAtomic(compiledAbs, compiled.code);
  } catch (e) {
    throw new BatchError(`Cannot write the compiled module of step "${step.name}" to ${compiledAbs}: ${(e as Error).message}`, 3);
  }
  // Not awaited; a lost entry (a failed commit on a full disk) only costs a recompile.
  store?.code.put(run, { sources: files, compiled: compiledRel }).catch(() => {});
  return { files, compiled: compiledAbs };
}

/** File endings that mark a word of a command as a script (code), not data. */
const SCRIPT_EXTS = new Set([
  '.py', '.sh', '.bash', '.zsh', '.r', '.rmd', '.jl', '.js', '.mjs', '.cjs', '.ts', '.mts', '.pl', '.rb', '.php',
  '.lua', '.awk', '.sed', '.sql', '.tcl', '.ps1', '.bat', '.cmd', '.java', '.scala', '.kts', '.groovy', '.jq', '.ipynb',
]);

function isScript(mode: number, rel: string): boolean {
  return SCRIPT_EXTS.has(path.extname(rel).toLowerCase()) || (mode & 0o111) !== 0;
}

const candidateMemo = new WeakMap<StepConfig, string[]>();

/** Words of a `command` step's command that could name a project file which is code: every
 * relative path other than its declared inputs and outputs. Which of them exist and are
 * scripts is a question for the file system (`commandStepCode`); this list depends only on
 * the definition, so it is worked out once per loaded Batchfile. */
export function commandCandidates(step: StepConfig): string[] {
  let found = candidateMemo.get(step);
  if (found) return found;
  const words = typeof step.command === 'string' ? shellWords(step.command) : (step.command ?? []);
  const specs = [...step.inputs, ...step.outputs];
  const declaredLiteral = new Set(specs.filter((x) => !isGlob(x)));
  const declared = specs.filter(isGlob).map(specMatcher);
  const folders = specs.filter((x) => !isGlob(x)).map((x) => `${x}/`);
  const out = new Set<string>();
  for (const w of words) {
    if (w === '' || w.startsWith('-') || w.includes('$') || w.includes('*')) continue;
    const eq = w.indexOf('=');
    const candidate = normaliseSpec(eq > 0 && !w.includes('/', 0) ? w.slice(eq + 1) : w);
    if (candidate === '' || candidate === '.' || path.isAbsolute(candidate) || !isInside(candidate)) continue;
    if (declaredLiteral.has(candidate) || declared.some((m) => m(candidate))) continue;
    if (folders.some((f) => f === './' || candidate.startsWith(f))) continue;
    out.add(candidate);
  }
  found = [...out];
  candidateMemo.set(step, found);
  return found;
}

/** Code of a `command` step: the project files its command names that are scripts (by
 * ending, or executable), other than its declared inputs and outputs, so editing
 * `steps/02 tidy.py` reruns the step. Data files a command happens to name are not code. */
function commandStepCode(step: StepConfig, stats: StatCache): StepCode {
  const files: FileHashes = {};
  for (const f of commandScripts(step, stats)) {
    const h = stats.get(f)?.hash;
    if (h) files[f] = h;
  }
  return { files };
}

/** The scripts a `command` step's command names, as the files are now (stat only). */
export function commandScripts(step: StepConfig, stats: StatCache): string[] {
  return commandCandidates(step).filter((f) => {
    const st = stats.stat(f);
    return st?.isFile() === true && isScript(st.mode, f);
  });
}

export async function stepCode(step: StepConfig, root: string, cacheDir: string, store: Store | undefined, stats: StatCache): Promise<StepCode> {
  return step.kind === 'run' ? runStepCode(step, root, cacheDir, store, stats) : commandStepCode(step, stats);
}
