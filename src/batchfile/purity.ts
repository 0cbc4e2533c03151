// What a compiled Batchfile's evaluation can depend on besides its own source: the daemon keeps
// only a pure one loaded (impurity), and the validated-config cache (config-cache.ts) keeps
// one whose other inputs it can record and check (cacheBlocker).
import { pathToFileURL } from 'node:url';
import { ENGINE_ENTRY } from '../util/engine.js';

/** What in a compiled Batchfile can make its evaluation depend on more than its own source and
 * the environment: an import of anything but the engine (node:fs, a package), a dynamic import
 * or require, and globals that read the clock, randomness, the network or process arguments. */
const PROCESS_REASON = "process (process.env differs between the daemon's clients)";
const IMPURE: [RegExp, string][] = [
  [/\bimport\s*\(/, 'a dynamic import()'],
  [/\brequire\s*\(/, 'require()'],
  [/\bgetBuiltinModule\b/, 'process.getBuiltinModule'],
  [/\bfetch\s*\(/, 'fetch()'],
  [/\bDate\b/, 'Date'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bperformance\b/, 'performance'],
  [/\bcrypto\b/, 'crypto'],
  [/\bprocess\.(argv|hrtime|binding|pid|ppid)\b/, 'process.argv/hrtime/pid'],
  // The daemon serves clients whose environments differ: a Batchfile that reads process.env
  // (or anything else of the process) could define other steps for each of them.
  [/\bprocess\b/, PROCESS_REASON],
];

/** Built-in modules that only compute (path joins against the project folder, the same in
 * every run). */
const PURE_BUILTINS = new Set(['node:path', 'path', 'node:path/posix', 'path/posix']);

/** The specifiers of the static imports in compiled code. */
function importsOf(compiledCode: string): string[] {
  const out: string[] = [];
  for (const m of compiledCode.matchAll(/(?:^|[;\n])\s*(?:import|export)\b[^;'"]*?\bfrom\s*(["'])([^"']+)\1|(?:^|[;\n])\s*import\s*(["'])([^"']+)\3/g)) {
    out.push(m[2] ?? m[4] ?? '');
  }
  return out;
}

function isEngine(spec: string): boolean {
  return spec === ENGINE_ENTRY || spec === pathToFileURL(ENGINE_ENTRY).href;
}

/** The code with plain string literals emptied: words inside them are data (a command
 * "date > out"), not code. */
function codeOnly(compiledCode: string): string {
  return compiledCode.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
}

/** Why evaluating this compiled Batchfile again could give another config (undefined: it
 * cannot; it is a function of its source alone). A process that keeps a loaded
 * Batchfile (the daemon) must load an impure one afresh for every run, as a direct run does. */
export function impurity(compiledCode: string): string | undefined {
  for (const spec of importsOf(compiledCode)) if (!isEngine(spec) && !PURE_BUILTINS.has(spec)) return `it imports ${spec}`;
  const code = codeOnly(compiledCode);
  for (const [re, what] of IMPURE) if (re.test(code)) return `it uses ${what}`;
  return undefined;
}

/** Built-in modules whose use config-cache.ts records (trackAccess wraps their functions). */
const RECORDED_BUILTINS = new Set(['node:fs', 'fs', 'node:fs/promises', 'fs/promises']);

/** Why the validated config of this compiled Batchfile cannot be cached, even with its reads
 * recorded (undefined: it can). Allowed beyond a pure Batchfile: `fs` (its reads are recorded
 * and checked), `process.env` and `process.cwd()` (the variables read are recorded; the cwd is
 * the project, part of the key). Anything else that impurity() names is not, nor `console`
 * (what it prints would be skipped). */
export function cacheBlocker(compiledCode: string): string | undefined {
  for (const spec of importsOf(compiledCode)) if (!isEngine(spec) && !PURE_BUILTINS.has(spec) && !RECORDED_BUILTINS.has(spec)) return `it imports ${spec}`;
  const code = codeOnly(compiledCode);
  for (const [re, what] of IMPURE) {
    if (what === PROCESS_REASON) continue;
    if (re.test(code)) return `it uses ${what}`;
  }
  // Every use of `process` must be process.env or process.cwd().
  if (/\bprocess\b(?!\s*\.\s*(env|cwd)\b)/.test(code)) return 'it uses process beyond process.env and process.cwd()';
  if (/\bconsole\b/.test(code)) return 'it prints (console)';
  // Ways round the names above (a global reached by another name, code made from text).
  if (/\b(globalThis|global|eval)\b|\bFunction\s*\(/.test(code)) return 'it uses globalThis, eval or Function()';
  return undefined;
}
