// Writes logs/report.html and logs/report.md for a finished run. Loaded with a dynamic
// import by after-run, so commands that write no report never load it.
import fs from 'node:fs';
import path from 'node:path';
import { collectReportData, type ReportData, type ReportInput } from './data.js';
import { renderHtml } from './render-html.js';
import { renderMarkdown } from './render-md.js';

export type { ReportData, ReportInput };
export { collectReportData, renderHtml, renderMarkdown };

/** Replaces a file by a rename, so a browser reloading it never sees half a report. The old
 * file is removed first: on ext4 a rename over an existing file makes the kernel write the
 * new one out at once (its replace-by-rename safeguard), which cost 10–80 ms per report on a
 * busy disk; a reader now sees the old report, briefly none, or the new one. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.rmSync(file, { force: true });
  fs.renameSync(tmp, file);
}

export function writeReports(input: ReportInput): { html: string; md: string; data: ReportData } {
  const data = collectReportData(input);
  fs.mkdirSync(input.logsDir, { recursive: true });
  const html = path.join(input.logsDir, 'report.html');
  const md = path.join(input.logsDir, 'report.md');
  writeAtomic(html, renderHtml(data));
  writeAtomic(md, renderMarkdown(data));
  return { html, md, data };
}
