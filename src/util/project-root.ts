// Which folder is the project: like git, the nearest folder at or above the current one that
// has a Batchfile; `-C DIR` (and `--file PATH`) name it instead. Dependency-free (node:fs and
// node:path only) because two front ends call it: the CLI (cli/main.ts) and the tiny daemon
// client that bin/batch.js loads before anything else (daemon/client.ts), which must find the
// same project's socket.
import fs from 'node:fs';
import path from 'node:path';

export const BATCHFILE_NAMES: readonly string[] = ['Batchfile.ts', 'Batchfile.mts', 'Batchfile.js', 'Batchfile.mjs'];

/** The Batchfile in `dir`, by BATCHFILE_NAMES's order; undefined when there is none. */
export function batchfileIn(dir: string): string | undefined {
  for (const name of BATCHFILE_NAMES) {
    const abs = path.join(dir, name);
    // A folder of that name is not a Batchfile; anything unreadable counts as absent.
    try {
      if (fs.statSync(abs, { throwIfNoEntry: false })?.isFile()) return abs;
    } catch {
      // ENOTDIR, EACCES: not here
    }
  }
  return undefined;
}

export interface ProjectRoot {
  root: string;
  /** How it was chosen: named by -C or --file, or found at or above `from`; `none` when no
   * folder up to the file-system root has a Batchfile (root is then `from`). */
  how: 'named' | 'found' | 'none';
  /** The Batchfile found (how === 'found'). */
  file?: string;
}

/** The project folder for a command started in `from` with the given -C/--cwd and --file
 * values. -C wins; --file alone keeps `from` (the path is relative to it); otherwise the
 * nearest folder at or above `from` with a Batchfile. */
export function projectRoot(from: string, cwdFlag?: string, fileFlag?: string): ProjectRoot {
  if (cwdFlag !== undefined) return { root: path.resolve(from, cwdFlag), how: 'named' };
  const start = path.resolve(from);
  if (fileFlag !== undefined) return { root: start, how: 'named' };
  for (let dir = start; ; ) {
    const file = batchfileIn(dir);
    if (file) return { root: dir, how: 'found', file };
    const up = path.dirname(dir);
    if (up === dir) return { root: start, how: 'none' };
    dir = up;
  }
}

/** The -C/--cwd and --file values of a command line, read as the CLI's parser reads them (the
 * last one given wins; nothing after `--`). For the daemon client, which must not load the parser. */
export function projectFlags(argv: readonly string[]): { cwd?: string; file?: string } {
  const out: { cwd?: string; file?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '-C' || a === '--cwd') out.cwd = argv[++i];
    else if (a.startsWith('--cwd=')) out.cwd = a.slice(6);
    else if (a.startsWith('-C') && a.length > 2) out.cwd = a.slice(2);
    else if (a === '--file') out.file = argv[++i];
    else if (a.startsWith('--file=')) out.file = a.slice(7);
  }
  return out;
}
