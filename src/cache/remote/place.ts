/** Moves a verified payload from its temp folder into the project: all or nothing. */
import fs from 'node:fs';
import path from 'node:path';
import type { StepConfig } from '../../batchfile/config.js';
import type { StatCache } from '../../fingerprint/stat-cache.js';
import type { FileHashes } from '../../store/types.js';
import { isInside, toRel } from '../../util/paths.js';
import { removeOutputs } from '../local/output-cache.js';
import type { Manifest } from './payload.js';
import { moveFile } from '../../util/move-file.js';

/** Replaces the step's outputs with the files in `tmpDir` (named by manifest index, every
 * one already checked against its hash). The step's current outputs are removed first, as
 * before a run; a folder on the way that resolves outside the project is refused. Any
 * failure removes what was placed, so the step runs from a clean slate. */
export function placeOutputs(root: string, step: StepConfig, tmpDir: string, manifest: Manifest, stats: StatCache): FileHashes {
  const realRoot = fs.realpathSync(root);
  const checked = new Set<string>();
  try {
    removeOutputs(root, step, stats);
    for (const d of manifest.dirs) fs.mkdirSync(path.resolve(root, d), { recursive: true });
    const outputs: FileHashes = {};
    for (const [i, f] of manifest.files.entries()) {
      const dest = path.resolve(root, f.path);
      const parent = path.dirname(dest);
      if (!checked.has(parent)) {
        fs.mkdirSync(parent, { recursive: true });
        // An output under a glob may sit below a folder no removal touched: a symlink there
        // would carry the write out of the project.
        const real = fs.realpathSync(parent);
        if (!isInside(toRel(realRoot, real))) throw new Error(`${f.path}: folder resolves outside the project (${real})`);
        checked.add(parent);
      }
      stats.forget(f.path);
      moveFile(path.join(tmpDir, String(i)), dest);
      fs.chmodSync(dest, f.mode & 0o777);
      outputs[f.path] = f.hash;
    }
    return outputs;
  } catch (e) {
    try {
      removeOutputs(root, step, stats);
    } catch {
      // the step's own removal before it runs reports it
    }
    throw e;
  }
}


/** A new empty folder for one download, under `.cache/remote/tmp/` (same file system as the
 * project in the usual layout, so placing is a rename). */
export function newTmpDir(cacheDir: string): string {
  const base = path.join(cacheDir, 'remote', 'tmp');
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, 'get-'));
}
