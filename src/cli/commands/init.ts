import fs from 'node:fs';
import path from 'node:path';
import { batchfileIn } from '../../util/project-root.js';
import { ENGINE_ROOT, engineVersion, ownPackage } from '../../util/engine.js';
import { BatchError } from '../../util/errors.js';
import { peerRange } from '../../util/optional-peer.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { EXECUTABLE, LAYOUT, SEED } from './init-files.js';

type Json = Record<string, unknown>;

/** What init adds to package.json, each entry only where the key is missing. */
function packageAdditions(): { scripts: Record<string, string>; devDependencies: Record<string, string>; allowScripts: Record<string, boolean | string> } {
  const own = ownPackage();
  const dev = own.devDependencies ?? {};
  const caret = (name: string, fallback: string): string => `^${dev[name] ?? fallback}`;
  // The engine's own install: from a registry (under node_modules/, e.g. npx's cache) it is
  // named by version; a clone or a folder elsewhere by its path.
  const self = ENGINE_ROOT.split(path.sep).includes('node_modules') ? `^${engineVersion()}` : `file:${ENGINE_ROOT}`;
  return {
    scripts: { pipeline: 'batch', typecheck: 'tsc --noEmit' },
    devDependencies: {
      batchfile: self,
      // The seed declares integrity tests (Vitest, an optional peer of batchfile) and a tsconfig.
      vitest: peerRange('vitest'),
      typescript: caret('typescript', '5.9.3'),
      '@types/node': caret('@types/node', '20.19.0'),
    },
    // No dependency of batchfile needs its install script (prebuilt packages suffice).
    allowScripts: own.allowScripts ?? {},
  };
}

/** The project's package.json (undefined: none yet). Read before anything is written, so a
 * broken one stops init with nothing changed. */
function readPackageJson(root: string): Json | undefined {
  const file = path.join(root, 'package.json');
  // Named as the rest of the CLI names paths: relative to the project.
  const shown = 'package.json';
  if (!fs.existsSync(file)) return undefined;
  let pkg: unknown;
  try {
    pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BatchError(`${shown} is not valid JSON (${(e as Error).message}); fix it, then run \`batch init\` again (nothing was written)`, 2);
  }
  if (pkg === null || typeof pkg !== 'object' || Array.isArray(pkg)) throw new BatchError(`${shown} is not a JSON object (nothing was written)`, 2);
  return pkg as Json;
}

/** Adds the missing scripts, devDependencies and allowScripts entries to package.json (made
 * when absent); never changes a value that is there. Returns what it added. */
function mergePackageJson(root: string, found: Json | undefined): string[] {
  const pkg: Json = found ?? {
    name: path.basename(root).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '') || 'pipeline',
    version: '0.1.0',
    private: true,
    type: 'module',
  };
  const add = packageAdditions();
  const deps = { ...(pkg.dependencies as Json | undefined), ...(pkg.devDependencies as Json | undefined) };
  const added: string[] = [];
  const fill = (field: 'scripts' | 'devDependencies' | 'allowScripts', entries: Record<string, unknown>, skip: (k: string) => boolean): void => {
    const target = { ...((pkg[field] as Json | undefined) ?? {}) };
    const keys = Object.keys(entries).filter((k) => !(k in target) && !skip(k));
    if (keys.length === 0) return;
    for (const k of keys) target[k] = entries[k];
    pkg[field] = target;
    added.push(`${field} ${keys.join(', ')}`);
  };
  fill('scripts', add.scripts, () => false);
  fill('devDependencies', add.devDependencies, (k) => k in deps);
  fill('allowScripts', add.allowScripts, () => false);
  if (added.length === 0 && found) return [];
  fs.writeFileSync(path.join(root, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  return added;
}

/** Writes `rel` unless something is there; true when written. */
function writeNew(root: string, rel: string, content: string): boolean {
  const abs = path.join(root, rel);
  if (fs.existsSync(abs)) return false;
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content, { flag: 'wx', mode: EXECUTABLE.has(rel) ? 0o755 : 0o644 });
  return true;
}

/** `batch init`: sets up a project in the current folder (or -C DIR): the seed pipeline when
 * there is no Batchfile yet, the layout around it, package.json entries. Never overwrites a
 * file; lists what it left alone. */
export async function initCommand(args: Args, io: Io): Promise<number> {
  const root = path.resolve(args.cwd ?? process.cwd());
  const existing = batchfileIn(root);
  const pkgJson = readPackageJson(root);
  const wrote: string[] = [];
  const skipped: string[] = [];
  if (existing) skipped.push(`the starter pipeline (${Object.keys(SEED).join(', ')}: this folder has ${path.basename(existing)})`);
  else for (const [rel, content] of Object.entries(SEED)) (writeNew(root, rel, content) ? wrote : skipped).push(rel);
  for (const [rel, content] of Object.entries(LAYOUT)) (writeNew(root, rel, content) ? wrote : skipped).push(rel);
  const pkg = mergePackageJson(root, pkgJson);
  if (!pkgJson) wrote.push('package.json');
  io.say(wrote.length > 0 ? `batch init: wrote in ${root}: ${wrote.join(', ')}` : `batch init: every file was already there in ${root}`);
  if (skipped.length > 0) io.say(`  left alone (already there, not overwritten): ${skipped.join(', ')}`);
  if (pkg.length > 0 && pkgJson) io.say(`  package.json: added ${pkg.join('; ')}`);
  io.say('Next: ./run.sh   (installs what package.json lists, then runs the pipeline; run.bat on Windows)');
  return 0;
}
