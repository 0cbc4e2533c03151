import fs from 'node:fs';
import path from 'node:path';
import type { StepConfig } from '../batchfile/config.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { FileHashes } from '../store/types.js';
import { BatchError } from '../util/errors.js';
import { isInside } from '../util/paths.js';
import type { StepKind } from './kind.js';

/** `python: 'src/train.py', args: ['--epochs', '3']`: a Python script run as `python3 SCRIPT
 * ARGS...` in the project root (`BATCH_PYTHON` names another interpreter). Its code: the
 * script and every project module it imports, followed through their own imports, resolved
 * as Python resolves them when it runs a script (`import x` and `from x import y` from the
 * script's folder, `from .y import z` from the importing module's package). Each module that
 * was looked for in the project and not found is held by the stat snapshot too, so one that
 * appears there (and would now be imported instead of an installed one) is noticed. */
export const pythonKind: StepKind = {
  field: 'python',
  fields: ['python', 'args'],
  describe: '`python` (a script path)',
  validate(raw, where, c) {
    if (typeof raw.python !== 'string' || raw.python.trim() === '') c.fail(`${where}.python`, 'must be the path of a Python script');
    const [script] = c.pathList([raw.python], where, '.python');
    const args = c.stringList(raw.args, where, '.args');
    return { python: script!, args };
  },
  executor: 'process',
  code(step, ctx) {
    const { found } = pythonImports(step, ctx.stats);
    const files: FileHashes = {};
    for (const f of found) {
      const h = ctx.stats.get(f)?.hash;
      if (h) files[f] = h;
    }
    return { files };
  },
  snapshotCode: (step, code) => [...Object.keys(code.files), ...(missedMemo.get(step) ?? [])],
  codeFromSnapshot: (_step, files, stats) => files.filter((f) => stats.stat(f)?.isFile() === true),
  knownCode: (step, ctx) => pythonImports(step, ctx.stats).found,
  command(step) {
    return { file: process.env.BATCH_PYTHON || 'python3', args: [scriptOf(step), ...argsOf(step)] };
  },
};

function scriptOf(step: StepConfig): string {
  return step.spec.python as string;
}

function argsOf(step: StepConfig): string[] {
  return step.spec.args as string[];
}

/** What the last look-up for a step searched and did not find (held by its snapshot). */
const missedMemo = new WeakMap<StepConfig, string[]>();

/** One import statement: `level` leading dots (0: absolute), the dotted module, and the
 * names imported from it (`from m import a, b`; empty for `import m`). */
interface ImportRef {
  level: number;
  module: string;
  names: string[];
}

/** Parsed imports by the content hash of the file: a file is parsed again only when it changed. */
const parsed = new Map<string, ImportRef[]>();

/** The project files a step's script imports (the script first), and the project paths
 * where a module was looked for and not found. Fails (exit 2) when the script is missing. */
export function pythonImports(step: StepConfig, stats: StatCache): { found: string[]; missed: string[] } {
  const script = scriptOf(step);
  if (!stats.get(script)) throw new BatchError(`step "${step.name}".python: script "${script}" does not exist`, 2);
  // sys.path[0] is the script's folder: absolute imports resolve there, from every module.
  const top = path.posix.dirname(script);
  const found = new Set<string>([script]);
  const missed = new Set<string>();
  const queue = [script];
  const resolver = new Resolver(stats, top, missed);
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const ref of importsOf(file, stats)) {
      for (const dep of resolver.resolve(file, ref)) {
        if (found.has(dep)) continue;
        found.add(dep);
        queue.push(dep);
      }
    }
  }
  const out = { found: [...found], missed: [...missed].filter((m) => !found.has(m)) };
  missedMemo.set(step, out.missed);
  return out;
}

function importsOf(file: string, stats: StatCache): ImportRef[] {
  const hash = stats.get(file)?.hash;
  if (!hash) return [];
  let refs = parsed.get(hash);
  if (!refs) {
    refs = parseImports(fs.readFileSync(path.resolve(stats.root, file), 'utf8'));
    parsed.set(hash, refs);
  }
  return refs;
}

/** The import statements of Python source. Statements are found line by line after comments
 * are dropped and continued lines (a trailing `\`, an open parenthesis) are joined; one in a
 * string literal counts too, which only adds a file to watch. */
export function parseImports(source: string): ImportRef[] {
  const refs: ImportRef[] = [];
  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = stripComment(lines[i]!);
    if (!/^\s*(import|from)\s/.test(line) && !/;\s*(import|from)\s/.test(line)) continue;
    while ((line.endsWith('\\') || open(line)) && i + 1 < lines.length) line = `${line.replace(/\\$/, '')} ${stripComment(lines[++i]!)}`;
    for (const stmt of line.split(';')) {
      const ref = parseStatement(stmt.trim());
      if (ref) refs.push(...ref);
    }
  }
  return refs;
}

function stripComment(line: string): string {
  const i = line.indexOf('#');
  return (i < 0 ? line : line.slice(0, i)).trimEnd();
}

function open(line: string): boolean {
  return (line.match(/\(/g)?.length ?? 0) > (line.match(/\)/g)?.length ?? 0);
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

function parseStatement(stmt: string): ImportRef[] | undefined {
  let m = /^import\s+(.+)$/.exec(stmt);
  if (m) {
    return m[1]!
      .split(',')
      .map((part) => part.trim().split(/\s+as\s+/)[0]!.trim())
      .filter((name) => NAME.test(name))
      .map((module) => ({ level: 0, module, names: [] }));
  }
  m = /^from\s+(\.*)\s*([A-Za-z_][\w.]*)?\s+import\s+(.+)$/.exec(stmt);
  if (!m) return undefined;
  const names = m[3]!
    .replace(/[()]/g, ' ')
    .split(',')
    .map((part) => part.trim().split(/\s+as\s+/)[0]!.trim())
    .filter((name) => name !== '*' && /^[A-Za-z_]\w*$/.test(name));
  return [{ level: m[1]!.length, module: m[2] ?? '', names }];
}

/** Resolves imports to project files as Python's path-based finder would. */
class Resolver {
  constructor(
    private readonly stats: StatCache,
    /** The script's folder (sys.path[0]), project-relative. */
    private readonly top: string,
    private readonly missed: Set<string>,
  ) {}

  /** The project files importing `ref` from `file` executes: every package `__init__.py` on
   * the way, the module, and the submodules a `from` import names. */
  resolve(file: string, ref: ImportRef): string[] {
    let base: string;
    if (ref.level === 0) base = this.top;
    else {
      // `from .x import y` in pkg/mod.py (or pkg/__init__.py): relative to pkg/.
      base = path.posix.dirname(file);
      for (let up = 1; up < ref.level; up++) base = path.posix.dirname(base);
    }
    const out: string[] = [];
    let dir = base;
    const parts = ref.module === '' ? [] : ref.module.split('.');
    for (const part of parts) {
      const hit = this.module(dir, part);
      if (!hit) return out; // not a project module (the standard library, an installed package)
      out.push(...hit.files);
      if (!hit.packageDir) return out; // a module: nothing below it is a file
      dir = hit.packageDir;
    }
    // `from pkg import name`: a name may be a submodule of the package.
    if (ref.names.length > 0 && (parts.length === 0 || this.isPackage(dir))) {
      for (const name of ref.names) {
        const hit = this.module(dir, name, false);
        if (hit) out.push(...hit.files);
      }
    }
    return out;
  }

  private isPackage(dir: string): boolean {
    return this.stats.stat(dir)?.isDirectory() === true;
  }

  /** `name` in `dir`: a package (a folder, with its `__init__.py` if any) or `name.py`.
   * Where none is found, both places are remembered as looked for (when `remember`). */
  private module(dir: string, name: string, remember = true): { files: string[]; packageDir?: string } | undefined {
    const pkg = dir === '.' || dir === '' ? name : `${dir}/${name}`;
    const init = `${pkg}/__init__.py`;
    const mod = `${pkg}.py`;
    if (!isInside(pkg)) return undefined;
    if (this.isPackage(pkg)) return { files: this.stats.stat(init)?.isFile() ? [init] : [], packageDir: pkg };
    if (this.stats.stat(mod)?.isFile()) return { files: [mod] };
    if (remember) {
      this.missed.add(mod);
      this.missed.add(init);
    }
    return undefined;
  }
}
