import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { picomatch } from '../util/picomatch.js';
import type { StatCache } from './stat-cache.js';
import { STATE_DIR } from '../util/project-layout.js';

/** Folders that globs never descend into: the engine's own state and VCS metadata. */
export const GLOB_IGNORE = ['.git/**', `${STATE_DIR}/**`, '**/node_modules/.cache/**'];

type FastGlob = typeof import('fast-glob');
let fastGlob: FastGlob | undefined;
/** fast-glob is loaded on the first glob: a pipeline of literal paths never pays for it. */
function fg(): FastGlob {
  fastGlob ??= createRequire(import.meta.url)('fast-glob') as FastGlob;
  return fastGlob;
}

/** Characters without which a spec cannot be a glob: most specs skip picomatch.scan. */
const GLOB_CHARS = /[*?[\]{}()!+@]/;

/** Parentheses are glob syntax only in an extglob (`@(a|b)`, `!(x)`, `*(x)`, …) or an
 * alternation `(a|b)`; otherwise they are part of a name: "report (1).csv" is a common file
 * name, and read as a glob it would not even match itself. */
const EXTGLOB = /[@!+*?]\(|\([^)]*\|/;
function literalParens(spec: string): boolean {
  return !EXTGLOB.test(spec) && !picomatch().scan(spec.replace(/[()]/g, '')).isGlob;
}

const scanMemo = new Map<string, { isGlob: boolean; base: string }>();
function scan(spec: string): { isGlob: boolean; base: string } {
  if (!GLOB_CHARS.test(spec) || literalParens(spec)) return { isGlob: false, base: spec };
  let r = scanMemo.get(spec);
  if (!r) {
    const s = picomatch().scan(spec);
    r = { isGlob: s.isGlob, base: s.base === '' ? '.' : s.base };
    scanMemo.set(spec, r);
  }
  return r;
}

export function isGlob(spec: string): boolean {
  return scan(spec).isGlob;
}

/** The static folder part of a glob ("data/raw" for "data/raw/*.csv"). */
export function globBase(spec: string): string {
  return scan(spec).base;
}

export interface Resolved {
  /** Project-relative files, sorted, without duplicates. */
  files: string[];
  /** Literal specs that name nothing on disk. */
  missing: string[];
  /** Glob specs that matched no file. */
  empty: string[];
}

function walk(root: string, relDir: string, out: string[]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.resolve(root, relDir), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const rel = relDir === '.' ? e.name : `${relDir}/${e.name}`;
    if (e.isDirectory()) walk(root, rel, out);
    else if (e.isFile()) out.push(rel);
    else if (e.isSymbolicLink()) {
      try {
        const st = fs.statSync(path.resolve(root, rel));
        if (st.isFile()) out.push(rel);
        else if (st.isDirectory()) walk(root, rel, out);
      } catch {
        // dangling link: nothing to read
      }
    }
  }
}

/** Whether a folder is one GLOB_IGNORE leaves out (or lies in one): the same rule, without
 * compiling its patterns at every start (picomatch's parser is costly on a cold process). */
function ignoredFolder(rel: string): boolean {
  const under = (dir: string): boolean => rel === dir || rel.startsWith(`${dir}/`);
  return under('.git') || under(STATE_DIR) || `/${rel}/`.includes('/node_modules/.cache/');
}
const nameMatchers = new Map<string, (name: string) => boolean>();

/** The files a glob whose magic is all in its last segment (`data/raw/*.csv`, the shape of
 * almost every input glob and every `forEach`) names now, from one readdir of its folder;
 * undefined for any other glob, which fast-glob expands. Same answer as fast-glob with the
 * options below (tests/engine/fingerprint/glob-listing.test.ts compares them), without
 * loading it or walking its machinery: a no-op over 1,000 partitions pays ~20 ms less. */
export function listOneFolder(root: string, spec: string): string[] | undefined {
  if (spec.startsWith('./') || spec.startsWith('/') || spec.includes('\\') || spec.includes('..')) return undefined;
  const { base, glob, isGlobstar } = picomatch().scan(spec);
  if (isGlobstar || glob === '' || glob.includes('/') || glob.startsWith('!') && !glob.startsWith('!(')) return undefined;
  if (base !== '' && ignoredFolder(base)) return undefined;
  let match = nameMatchers.get(glob);
  if (!match) nameMatchers.set(glob, (match = picomatch()(glob, { dot: true })));
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.resolve(root, base || '.'), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (!match(e.name)) continue;
    const rel = base === '' ? e.name : `${base}/${e.name}`;
    if (e.isFile()) out.push(rel);
    else if (e.isSymbolicLink() && fs.statSync(path.resolve(root, rel), { throwIfNoEntry: false })?.isFile()) out.push(rel);
  }
  return out;
}

/** Expands input or output specs (files, folders, globs) into the files they name now.
 * The one place globs are expanded, so what is hashed, watched and cached agree. */
export function resolveSpecs(root: string, specs: readonly string[], stats: StatCache): Resolved {
  const files = new Set<string>();
  const missing: string[] = [];
  const empty: string[] = [];
  for (const spec of specs) {
    if (isGlob(spec)) {
      const found = listOneFolder(root, spec) ?? fg().sync(spec, { cwd: root, dot: true, onlyFiles: true, ignore: GLOB_IGNORE, followSymbolicLinks: true });
      if (found.length === 0) empty.push(spec);
      for (const f of found) files.add(f);
      continue;
    }
    // stat only: callers hash what they need, and the no-op check needs no hash at all.
    const st = stats.stat(spec);
    if (st?.isFile()) {
      files.add(spec);
      continue;
    }
    if (st?.isDirectory()) {
      const inDir: string[] = [];
      walk(root, spec, inDir);
      for (const f of inDir) files.add(f);
    } else {
      missing.push(spec);
    }
  }
  return { files: [...files].sort(), missing, empty };
}

/** A predicate that says whether a project-relative file falls under a spec
 * (equal to it, inside it as a folder, or matched by it as a glob). */
export function specMatcher(spec: string): (rel: string) => boolean {
  if (isGlob(spec)) {
    const m = picomatch()(spec, { dot: true });
    return (rel) => m(rel);
  }
  if (spec === '.') return () => true;
  const prefix = `${spec}/`;
  return (rel) => rel === spec || rel.startsWith(prefix);
}
