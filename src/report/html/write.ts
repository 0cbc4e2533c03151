// Writes logs/report.html and logs/report.md for a finished run. Loaded with a dynamic
// import by after-run, so commands that write no report never load it.
import fs from 'node:fs';
import path from 'node:path';
import { collectReportData, type ReportData, type ReportInput } from './data.js';
import { htmlParts, renderHtml } from './render-html.js';
import { markdownParts, renderMarkdown } from './render-md.js';

export type { ReportData, ReportInput };
export { collectReportData, htmlParts, markdownParts, renderHtml, renderMarkdown };

/** Replaces a file by a rename, so a browser reloading it never sees half a report. The old
 * file is removed first: on ext4 a rename over an existing file makes the kernel write the
 * new one out at once (its replace-by-rename safeguard), which cost 10–80 ms per report on a
 * busy disk; a reader now sees the old report, briefly none, or the new one. */
function writeAtomic(file: string, parts: string | readonly (string | Buffer)[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  if (typeof parts === 'string') fs.writeFileSync(tmp, parts);
  else writeParts(tmp, parts);
  removeIfThere(file);
  fs.renameSync(tmp, file);
}

/** unlink, a missing file being fine (fs.rmSync's force: an lstat and more besides). */
function removeIfThere(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Writes the parts one after the other, each in full. */
function writeParts(file: string, parts: readonly (string | Buffer)[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const part of parts) {
      const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
      for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
    }
  } finally {
    fs.closeSync(fd);
  }
}

export function writeReports(input: ReportInput): { html: string; md: string; data: ReportData } {
  const data = collectReportData(input);
  fs.mkdirSync(input.logsDir, { recursive: true });
  const html = path.join(input.logsDir, 'report.html');
  const md = path.join(input.logsDir, 'report.md');
  writeAtomic(html, htmlParts(data));
  writeAtomic(md, markdownParts(data));
  return { html, md, data };
}
