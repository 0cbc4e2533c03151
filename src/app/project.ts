import path from 'node:path';
import { KINDS } from '../kinds/registry.js';
import { LOGS_DIR, STATE_DIR } from '../util/project-layout.js';
import { findBatchfile, loadBatchfile, type CompiledBatchfile, type Loaded, type LoadOptions } from '../batchfile/load.js';

/** A project folder and its run-time folders: the one place their paths are built. */
export interface ProjectPaths {
  root: string;
  /** Engine state (`.cache/`). */
  cacheDir: string;
  /** Run logs and reports (`logs/`). */
  logsDir: string;
}

export function projectPaths(root: string): ProjectPaths {
  return { root, cacheDir: path.join(root, STATE_DIR), logsDir: path.join(root, LOGS_DIR) };
}

/** Where a command works: the project's folders and its Batchfile. */
export interface Project extends ProjectPaths {
  file: string;
}

/** Where a front end was asked to work: a project folder (default: the current one) and a
 * Batchfile in it (default: its Batchfile.ts). */
export interface ProjectPlace {
  cwd?: string;
  file?: string;
}

export function resolveProject(place: ProjectPlace): Project {
  const root = path.resolve(place.cwd ?? process.cwd());
  // No -C: cli/main.ts searched this folder and every one above it (util/project-root.ts).
  const file = findBatchfile(root, place.file, place.cwd === undefined);
  return { ...projectPaths(root), file };
}

export function loadProject(p: Project, compiled?: CompiledBatchfile, opts?: LoadOptions): Promise<Loaded> {
  return loadBatchfile(p.root, p.file, p.cacheDir, KINDS, compiled, opts);
}
