import fs from 'node:fs';
import path from 'node:path';
import type { StepConfig } from '../batchfile/config.js';
import { globBase, isGlob, resolveSpecs } from '../fingerprint/files.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import { isInside, toRel } from '../util/paths.js';

/** The project root's real path, once per root: it cannot change under a running batch
 * (every step's cwd), and resolving it twice per step showed in first-build profiles. */
const realRoots = new Map<string, string>();
export function realRootOf(root: string): string {
  let r = realRoots.get(root);
  if (r === undefined) {
    r = realPathOf(root);
    realRoots.set(root, r);
  }
  return r;
}

/** The real path of `abs` (following symlinks) even when it does not exist yet: the nearest
 * existing ancestor resolved, the rest appended. Each path is stat'ed before it is resolved:
 * before a first run every output is missing, and the error realpath throws for a missing
 * path cost ~5x what the stat does (per output, per step). */
function realPathOf(abs: string): string {
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    if (exists(cur)) {
      try {
        return path.join(fs.realpathSync(cur), ...rest.reverse());
      } catch {
        // removed meanwhile, or a symlink loop: resolve the parent as for a missing path
      }
    }
    const parent = path.dirname(cur);
    if (parent === cur) return abs;
    rest.push(path.basename(cur));
    cur = parent;
  }
}

/** Whether `abs` names something (links followed), without building an error when not. */
function exists(abs: string): boolean {
  try {
    return fs.statSync(abs, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** Why a declared output reaches outside the project through a symlink (a linked folder on
 * its path, or a link itself), checked before the step's outputs are removed or restored:
 * removing them would otherwise delete files outside the project. */
export function outputOutside(root: string, stats: StatCache, step: StepConfig): string | undefined {
  const realRoot = realRootOf(root);
  const specs = step.outputs.map((s) => (isGlob(s) ? globBase(s) : s));
  for (const rel of [...specs, ...resolveSpecs(root, step.outputs, stats).files]) {
    const real = realPathOf(path.resolve(root, rel));
    if (!isInside(toRel(realRoot, real))) return `output ${rel} resolves outside the project (${real}); refused`;
  }
  return undefined;
}
