import fs from 'node:fs';
import path from 'node:path';
import type { StepConfig } from '../batchfile/config.js';
import { compileModules, findPackageJson, writeFileAtomic, type Compiled } from '../batchfile/compile.js';
import { hashString } from '../fingerprint/hash.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { StepCode } from '../plan/step-code.js';
import type { Store } from '../store/store.js';
import type { FileHashes } from '../store/types.js';
import { BatchError } from '../util/errors.js';
import { shownPath, shownPathsIn, toRel } from '../util/paths.js';
import { mark } from '../util/timing.js';
import type { CodeContext, StepKind } from './kind.js';

/** `run: 'steps/x.ts'`: a TypeScript or JavaScript module whose default export runs in the
 * worker pool. Its code: the module, every local module it imports (esbuild's metafile), and
 * the package.json of each package it imports. */
export const runKind: StepKind = {
  field: 'run',
  fields: ['run'],
  describe: '`run` (a module path)',
  validate(raw, where, c) {
    if (typeof raw.run !== 'string' || raw.run.trim() === '') c.fail(`${where}.run`, 'must be a module path');
    const [spec] = c.pathList([raw.run], where, '.run');
    return { run: spec! };
  },
  executor: 'pool',
  code: (step, ctx) => runStepCode(step, ctx),
  snapshotCode: (_step, code) => Object.keys(code.files),
  codeFromSnapshot: (_step, files) => [...files],
  knownCode(step, ctx) {
    // Before a run has compiled it: the module and what it was last compiled from.
    const run = modulePath(step);
    return [run, ...Object.keys(ctx.store?.code.get(run)?.sources ?? {})];
  },
};

/** The module a `run` step names. */
export function modulePath(step: StepConfig): string {
  return step.spec.run as string;
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
async function runStepCode(step: StepConfig, ctx: CodeContext): Promise<StepCode> {
  const { root, cacheDir, store, stats } = ctx;
  const run = modulePath(step);
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
    throw new BatchError(`Cannot write the compiled module of step "${step.name}" to ${shownPath(root, compiledAbs)}: ${shownPathsIn(root, (e as Error).message)}`, 3);
  }
  // Not awaited; a lost entry (a failed commit on a full disk) only costs a recompile.
  store?.code.put(run, { sources: files, compiled: compiledRel }).catch(() => {});
  return { files, compiled: compiledAbs };
}

