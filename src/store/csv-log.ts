import fs from 'node:fs';
import path from 'node:path';
import { isPlainUpToDate, type RunRecord, type StepResult } from './types.js';

export const CSV_HEADER = 'run_id,timestamp,kind,name,status,action,reason,duration_ms';

export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Appends one row per step, per test and one for the run to logs/execution_logs.csv.
 * Append-only: nothing already there is rewritten. */
export function appendCsv(logsDir: string, record: RunRecord, steps: StepResult[]): void {
  fs.mkdirSync(logsDir, { recursive: true });
  const file = path.join(logsDir, 'execution_logs.csv');
  const ts = new Date(record.startedAt).toISOString();
  const head = `${csvField(record.id)},${csvField(ts)},`;
  const row = (kind: string, name: string, status: string, action: string, reason: string, ms: number): string =>
    head + [kind, name, status, action, reason, Math.round(ms)].map(csvField).join(',');
  const lines: string[] = [];
  // A no-op of 10,000 steps writes 10,000 rows that differ only in the step's name.
  const upToDate = `${head}step,`;
  const upToDateTail = `,${['PASS', 'up-to-date', 'up to date', 0].map(csvField).join(',')}`;
  for (const s of steps) {
    lines.push(isPlainUpToDate(s) ? upToDate + csvField(s.name) + upToDateTail : row('step', s.name, s.status, s.action, s.reason, s.durationMs));
  }
  if (record.tests) {
    const t = record.tests;
    for (const c of t.cases) lines.push(row('test', `${c.file} > ${c.name}`, c.status, t.action, c.message ?? '', c.durationMs));
    lines.push(row('tests', 'integrity tests', t.status, t.action, `${t.passed} passed, ${t.failed} failed; ${t.reason}`, t.durationMs));
  }
  lines.push(row('run', 'pipeline', record.status, record.flags.join(' '), `${record.counts.ran} ran, ${record.counts.upToDate} up-to-date, ${record.counts.failed} failed`, record.durationMs));
  const needsHeader = !fs.existsSync(file) || fs.statSync(file).size === 0;
  fs.appendFileSync(file, `${needsHeader ? `${CSV_HEADER}\n` : ''}${lines.join('\n')}\n`);
}
