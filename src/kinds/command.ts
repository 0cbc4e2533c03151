import path from 'node:path';
import type { StepConfig } from '../batchfile/config.js';
import { isGlob, specMatcher } from '../fingerprint/files.js';
import { shellWords } from '../fingerprint/shell-words.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { StepCode } from '../plan/step-code.js';
import type { FileHashes } from '../store/types.js';
import { isInside, normaliseSpec } from '../util/paths.js';
import type { StepKind } from './kind.js';

/** `command: 'python3 steps/02.py in out'` or an argv array: a process in the project root.
 * Its code: the scripts its command names (by ending, or executable), present or not. */
export const commandKind: StepKind = {
  field: 'command',
  fields: ['command'],
  describe: '`command` (a shell string or argv array)',
  validate(raw, where, c) {
    if (typeof raw.command === 'string') {
      if (raw.command.trim() === '') c.fail(`${where}.command`, 'is empty');
      return { command: raw.command };
    }
    if (Array.isArray(raw.command) && raw.command.length > 0 && raw.command.every((x) => typeof x === 'string')) return { command: raw.command as string[] };
    return c.fail(`${where}.command`, 'must be a non-empty string or a non-empty array of strings');
  },
  executor: 'process',
  code: (step, ctx) => commandStepCode(step, ctx.stats),
  // Every word that could name a script, present or not: one that appears changes the signature.
  snapshotCode: (step) => commandCandidates(step),
  codeFromSnapshot: (step, _files, stats) => commandScripts(step, stats),
  knownCode: (step, ctx) => commandScripts(step, ctx.stats),
  command(step) {
    const cmd = commandOf(step);
    return typeof cmd === 'string' ? { file: '/bin/sh', args: ['-c', cmd] } : { file: cmd[0]!, args: cmd.slice(1) };
  },
};

function commandOf(step: StepConfig): string | string[] {
  return step.spec.command as string | string[];
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
  const command = commandOf(step);
  const words = typeof command === 'string' ? shellWords(command) : command;
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

