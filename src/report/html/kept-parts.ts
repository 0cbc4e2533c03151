// Runs of a report's step rows kept as bytes from one report to the next (the daemon's): a
// report of 1,000 steps re-encoded ~100 KB of unchanged rows each time. Each renderer (the
// HTML report, report.md) keeps its own.
import type { ReportStep } from './report-step.js';

/** Rows per run of rows whose bytes are kept. */
const ROWS_PER_PART = 64;

export class KeptParts {
  /** The newest runs of frozen rows rendered, by place: their rows and their bytes. */
  private readonly kept: { rows: ReportStep[]; bytes: Buffer }[] = [];

  /** `steps` as parts of ROWS_PER_PART rows, each the text `render(rows, at)` gives (`at`:
   * the index of its first row). A part whose rows are all frozen (report-memo.ts: they
   * cannot change) keeps its bytes, reused while it holds the same row objects at the same
   * places. */
  parts(steps: readonly ReportStep[], render: (rows: ReportStep[], at: number) => string): (string | Buffer)[] {
    const parts: (string | Buffer)[] = [];
    for (let at = 0, k = 0; at < steps.length; at += ROWS_PER_PART, k++) {
      const rows = steps.slice(at, at + ROWS_PER_PART);
      const old = this.kept[k];
      if (old && old.rows.length === rows.length && old.rows.every((r, i) => r === rows[i])) {
        parts.push(old.bytes);
        continue;
      }
      const text = render(rows, at);
      if (rows.every((r) => Object.isFrozen(r))) {
        const bytes = Buffer.from(text, 'utf8');
        this.kept[k] = { rows, bytes };
        parts.push(bytes);
      } else parts.push(text);
    }
    return parts;
  }
}
