// logs/execution_logs.csv: a row per step per run, up-to-date steps included (they take a
// shorter path to their row, which must read exactly like any other).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appendCsv } from '../../../src/store/csv-log.js';
import type { RunRecord, StepResult } from '../../../src/store/types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('appendCsv', () => {
  it('one row per step, quoted where needed; up-to-date rows as any other', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-csv-'));
    dirs.push(dir);
    const steps: StepResult[] = [
      { name: 'a', status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 },
      { name: 'b', status: 'FAIL', action: 'ran', reason: 'exit "1", then\nmore', durationMs: 12.6, logFile: 'logs/runs/x/b.log' },
      { name: 'c', status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0, startedAt: 5 },
      { name: 'd', status: 'PASS', action: 'restored', reason: 'restored from cache', durationMs: 3 },
    ];
    const record = {
      id: 'r,1', startedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 6), flags: ['-k'], status: 'FAIL', durationMs: 40,
      counts: { ran: 1, upToDate: 2, restored: 1, failed: 1, blocked: 0, notRun: 0 },
    } as RunRecord;
    appendCsv(dir, record, steps);
    appendCsv(dir, record, steps.slice(0, 1));
    const ts = '2026-01-02T03:04:05.006Z';
    expect(fs.readFileSync(path.join(dir, 'execution_logs.csv'), 'utf8')).toBe(
      [
        'run_id,timestamp,kind,name,status,action,reason,duration_ms',
        `"r,1",${ts},step,a,PASS,up-to-date,up to date,0`,
        `"r,1",${ts},step,b,FAIL,ran,"exit ""1"", then\nmore",13`,
        `"r,1",${ts},step,c,PASS,up-to-date,up to date,0`,
        `"r,1",${ts},step,d,PASS,restored,restored from cache,3`,
        `"r,1",${ts},run,pipeline,FAIL,-k,"1 ran, 2 up-to-date, 1 failed",40`,
        `"r,1",${ts},step,a,PASS,up-to-date,up to date,0`,
        `"r,1",${ts},run,pipeline,FAIL,-k,"1 ran, 2 up-to-date, 1 failed",40`,
        '',
      ].join('\n'),
    );
  });
});
