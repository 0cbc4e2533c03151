import path from 'node:path';
import { findBatchfile, loadBatchfile, type CompiledBatchfile, type Loaded } from '../batchfile/load.js';
import type { Args } from './args.js';

/** Where a command works: the project root and its run-time folders. */
export interface Project {
  root: string;
  file: string;
  cacheDir: string;
  logsDir: string;
}

export function resolveProject(args: Args): Project {
  const root = path.resolve(args.cwd ?? process.cwd());
  // No -C: main.ts searched this folder and every one above it (util/project-root.ts).
  const file = findBatchfile(root, args.file, args.cwd === undefined);
  return { root, file, cacheDir: path.join(root, '.cache'), logsDir: path.join(root, 'logs') };
}

export function loadProject(p: Project, compiled?: CompiledBatchfile): Promise<Loaded> {
  return loadBatchfile(p.root, p.file, p.cacheDir, compiled);
}
