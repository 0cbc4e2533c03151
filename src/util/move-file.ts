import fs from 'node:fs';

/** Moves a file: rename, or copy then remove when the two places are on different file
 * systems (EXDEV: a temp folder or `.cache/` mounted apart). */
export function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    fs.copyFileSync(from, to);
    fs.rmSync(from, { force: true });
  }
}
