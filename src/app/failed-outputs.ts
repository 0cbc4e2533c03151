import fs from 'node:fs';
import path from 'node:path';
import type { StepConfig } from '../batchfile/config.js';
import { isGlob, resolveSpecs } from '../fingerprint/files.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import { toRel } from '../util/paths.js';
import { moveFile } from '../util/move-file.js';

/** Where a failed step's outputs are kept for inspection (replaced by its next failure). */
export function failedDir(cacheDir: string, step: string): string {
  return path.join(cacheDir, 'failed', step);
}

function moveInto(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  moveFile(from, to);
}

/**
 * A failed step's declared outputs hold a partial result, which a later step (a --keep-going
 * run) or a person could take for a real one: each file is moved under
 * `.cache/failed/<step>/` at its project path, and a declared output folder goes with it.
 * Returns that folder (project-relative) when something was moved. Never throws: a file
 * that cannot be moved is removed; the failure itself is what the run reports.
 */
export function moveFailedOutputs(root: string, cacheDir: string, step: StepConfig, stats: StatCache): string | undefined {
  try {
    for (const spec of step.outputs) stats.forget(spec);
    const { files } = resolveSpecs(root, step.outputs, stats);
    const dir = failedDir(cacheDir, step.name);
    fs.rmSync(dir, { recursive: true, force: true });
    for (const f of files) {
      const abs = path.resolve(root, f);
      try {
        moveInto(abs, path.join(dir, f));
      } catch {
        fs.rmSync(abs, { force: true });
      }
      stats.forget(f);
    }
    for (const spec of step.outputs) {
      if (!isGlob(spec)) fs.rmSync(path.resolve(root, spec), { recursive: true, force: true });
    }
    return files.length > 0 ? `${toRel(root, dir)}/` : undefined;
  } catch {
    return undefined;
  }
}
