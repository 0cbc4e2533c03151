import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function git(root: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd: root, timeout: 5000, maxBuffer: 1 << 20 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/** The folder holding `.git` at or above `root`, if any: outside a work tree no git process
 * is started at all (each spawn forks the whole batch process). */
function workTreeOf(root: string): string | undefined {
  let dir = path.resolve(root);
  for (;;) {
    if (fs.existsSync(path.join(dir, '.git'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The commit checked out and whether the work tree differs from it; undefined outside git.
 * Started at the beginning of a run and awaited at its end, so it costs no wall time. */
export async function gitInfo(root: string): Promise<{ commit: string; dirty: boolean } | undefined> {
  if (workTreeOf(root) === undefined) return undefined;
  const [head, status] = await Promise.all([git(root, ['rev-parse', 'HEAD']), git(root, ['status', '--porcelain', '--untracked-files=no'])]);
  if (head === undefined) return undefined;
  return { commit: head.trim(), dirty: (status ?? '').trim().length > 0 };
}
