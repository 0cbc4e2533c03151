import fs from 'node:fs';
import type { FolderWatches } from './folder-watches.js';

/** Watch mode's folders, watched whole: every entry's events are told, and a sub-folder that
 * appears is entered when `enter` says so. */
export interface WatchTree {
  /** Project-relative folders to watch whole; a missing one is entered when it appears (its
   * nearest existing ancestor is watched, and `enter` says yes to the folders on the way). */
  roots: readonly string[];
  /** Whether a folder is watched whole: its files told, its sub-folders tried. */
  enter: (relDir: string) => boolean;
  /** Files counted in the "watching …" line (default: every file in a folder watched whole). */
  wants?: (rel: string) => boolean;
}

/** Watches `tree`'s folders (each with its ancestors, stamped `run`) and lists them: a folder
 * found is entered when the tree says so; each file is counted and handed to `found` (a folder
 * that appeared: its files were written before its watch was set). A folder reached twice (a
 * symbolic link back up) is entered once. */
export function scanTree(tree: WatchTree, watches: FolderWatches, run: number, prefix: string, found: ((rel: string) => void) | undefined): { folders: number; files: number } {
  let folders = 0;
  let files = 0;
  const failed = new Set<string>();
  const seen = new Set<string>();
  const walk = (dir: string): void => {
    // Not there (yet): the watched parent's event enters it when it appears.
    if (!watches.has(dir) && !watches.watchWithAncestors(dir, run, failed)) return;
    const id = watches.folderId(dir);
    if (id === undefined || seen.has(id)) return;
    seen.add(id);
    folders++;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(watches.abs(dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = dir === '.' ? e.name : `${dir}/${e.name}`;
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        try {
          isDir = fs.statSync(prefix + rel).isDirectory();
        } catch {
          isDir = false;
        }
      }
      if (isDir) {
        if (tree.enter(rel)) walk(rel);
        continue;
      }
      if (!tree.wants || tree.wants(rel)) files++;
      found?.(rel);
    }
  };
  for (const r of tree.roots) walk(r);
  return { folders, files };
}
