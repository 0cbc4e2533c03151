// A run that changed nothing leaves the run report as it is. logs/report.html and report.md
// describe the newest run; when a no-op follows a no-op of the same config with the same
// results, the new report would differ only in the run's id and times, and rendering it
// (loading the report code, reading earlier runs, writing ~1 MB at 1,000 steps) was ~25 ms of
// a 1,000-step no-op. So the report written by a no-op is remembered (`.cache/report/noop.json`:
// what it shows, and the size and mtime of each file written), and the next no-op that would
// show the same keeps it; the terminal says which run it shows. Anything else rewrites it: a
// step that ran, was restored or failed, tests that ran, removed orphans, another config
// (config-cache.ts's id; a config with no id, one not cached, always rewrites), other flags
// or targets, a report file changed or deleted since, or runs pruned from the history since
// (the kept report would name runs and link step logs that are gone: history --prune forgets it).
import fs from 'node:fs';
import path from 'node:path';
import type { RunOutput } from '../app/pipeline.js';
import { hashString } from '../fingerprint/hash.js';
import { isPlainUpToDate } from '../store/types.js';

interface Remembered {
  key: string;
  runId: string;
  files: { path: string; size: number; mtimeMs: number }[];
}

function memoPath(cacheDir: string): string {
  return path.join(cacheDir, 'report', 'noop.json');
}

/** What a no-op's report shows besides its run's id and times, or undefined when the run did
 * something (or its config has no id): then the report is written. */
export function noopReportKey(out: RunOutput, configId: string | undefined): string | undefined {
  const { record, results } = out;
  if (configId === undefined || record.status !== 'PASS' || record.orphans !== undefined) return undefined;
  if (record.tests !== undefined && record.tests.action !== 'up-to-date') return undefined;
  let names = '';
  for (const r of results) {
    if (!isPlainUpToDate(r)) return undefined;
    names += `${r.name}\n`;
  }
  const tests = record.tests ? { ...record.tests, durationMs: 0 } : null;
  return hashString(JSON.stringify([configId, record.flags, record.targets, tests, record.remoteCache ?? null, names]));
}

/** The run whose report, still in place and unchanged, shows what `key` says; undefined when
 * the report must be written. */
export function unchangedReport(cacheDir: string, key: string): string | undefined {
  let m: Remembered;
  try {
    m = JSON.parse(fs.readFileSync(memoPath(cacheDir), 'utf8')) as Remembered;
  } catch {
    return undefined;
  }
  if (m.key !== key || !Array.isArray(m.files) || m.files.length === 0) return undefined;
  for (const f of m.files) {
    const st = fs.statSync(f.path, { throwIfNoEntry: false });
    if (!st || st.size !== f.size || st.mtimeMs !== f.mtimeMs) return undefined;
  }
  return typeof m.runId === 'string' ? m.runId : undefined;
}

/** Remembers the report just written (`key` from a no-op), or forgets any remembered one
 * (`key` undefined: a run that did something wrote it). Best effort: without the memo the next
 * no-op writes the report again. */
export function rememberReport(cacheDir: string, key: string | undefined, runId: string, files: string[]): void {
  const file = memoPath(cacheDir);
  try {
    if (key === undefined) {
      fs.rmSync(file, { force: true });
      return;
    }
    const m: Remembered = {
      key,
      runId,
      files: files.map((p) => {
        const st = fs.statSync(p);
        return { path: p, size: st.size, mtimeMs: st.mtimeMs };
      }),
    };
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(m));
  } catch {
    // see above
  }
}

/** Forgets the remembered no-op report, so the next run writes its own: for `batch history
 * --prune`, after which the kept report could show removed runs and link their deleted logs. */
export function forgetReport(cacheDir: string): void {
  fs.rmSync(memoPath(cacheDir), { force: true });
}
