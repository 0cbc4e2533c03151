// logs/metrics.csv, beside execution_logs.csv: one row per metric a run recorded. Append-only.
import fs from 'node:fs';
import path from 'node:path';
import { csvField } from '../store/csv-log.js';
import type { RunRecord, StepResult } from '../store/types.js';

export const METRICS_CSV_HEADER = 'run_id,timestamp,step,metric,value';

export function appendMetricsCsv(logsDir: string, record: RunRecord, results: readonly StepResult[]): void {
  const lines: string[] = [];
  const ts = new Date(record.startedAt).toISOString();
  for (const r of results) {
    for (const [name, v] of Object.entries(r.metrics ?? {})) lines.push([record.id, ts, r.name, name, v].map(csvField).join(','));
  }
  if (lines.length === 0) return;
  const file = path.join(logsDir, 'metrics.csv');
  const needsHeader = !fs.existsSync(file) || fs.statSync(file).size === 0;
  fs.appendFileSync(file, `${needsHeader ? `${METRICS_CSV_HEADER}\n` : ''}${lines.join('\n')}\n`);
}
