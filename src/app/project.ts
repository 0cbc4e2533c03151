import path from 'node:path';
import { findBatchfile, loadBatchfile, type CompiledBatchfile, type Loaded, type LoadOptions } from '../batchfile/load.js';

/** Where a command works: the project root and its run-time folders. */
export interface Project {
  root: string;
  file: string;
  cacheDir: string;
  logsDir: string;
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
  return { root, file, cacheDir: path.join(root, '.cache'), logsDir: path.join(root, 'logs') };
}

export function loadProject(p: Project, compiled?: CompiledBatchfile, opts?: LoadOptions): Promise<Loaded> {
  return loadBatchfile(p.root, p.file, p.cacheDir, compiled, opts);
}
