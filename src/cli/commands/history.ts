// `batch history` (the last runs), `batch history STEP` (one step's executions, with a
// sparkline) and `batch history --prune --keep N`.
import fs from 'node:fs';
import path from 'node:path';
import { commitCell, csv, iso, ms, ratio, table, when } from '../format.js';
import { batchRunning, outputMode, queryPaths, withReadStore } from '../read-store.js';
import { pruneRuns, type PruneResult } from '../../history/prune.js';
import { forgetReport } from '../../report/unchanged-report.js';
import { groupHistory, instancesOf } from './history-group.js';
import { countRuns, isTiming, listRuns, resultsOf, stepSeries, type Sample } from '../../history/query.js';
import { judge, median, mad, RULE, RULE_TEXT, sparkline } from '../../history/stats.js';
import type { RunRecord } from '../../store/types.js';
import { acquireLock } from '../../store/lock.js';
import { shownPath } from '../../util/paths.js';
import { openStore } from '../../store/store.js';
import { BatchError } from '../../util/errors.js';
import { formatBytes } from '../../util/duration.js';
import { didYouMean } from '../../util/suggest.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

export default async function historyCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const mode = outputMode(args);
  if (args.prune) return prune(args, io, mode, signal);
  if (args.keep !== undefined) throw new BatchError('--keep goes with --prune: `batch history --prune --keep N`', 2);
  if (args.positionals.length > 1) throw new BatchError('`batch history` takes at most one step name', 2);
  if (args.limit !== undefined && args.limit < 1) throw new BatchError('--limit needs at least 1', 2);
  const step = args.positionals[0];
  return step === undefined ? runs(args, io, mode) : stepHistory(args, io, mode, step);
}

function runJson(r: RunRecord, running: boolean): object {
  return {
    id: r.id,
    startedAt: iso(r.startedAt),
    endedAt: running ? null : iso(r.endedAt),
    durationMs: r.durationMs,
    status: running ? 'RUNNING' : r.status,
    ...(r.git ? { git: r.git } : {}),
    host: r.host,
    cpus: r.cpus,
    node: r.node,
    flags: r.flags,
    targets: r.targets,
    counts: r.counts,
    ...(r.tests ? { tests: { status: r.tests.status, action: r.tests.action, passed: r.tests.passed, failed: r.tests.failed, skipped: r.tests.skipped } } : {}),
  };
}

async function runs(args: Args, io: Io, mode: string): Promise<number> {
  const limit = args.limit ?? 20;
  return withReadStore(args, (store, paths) => {
    const list = listRuns(store, { limit });
    const total = countRuns(store);
    // The newest record of a run still going says INTERRUPTED until the run ends.
    const live = list[0] && list[0].status === 'INTERRUPTED' && list[0].durationMs === 0 && batchRunning(paths.cacheDir) ? list[0].id : undefined;
    const status = (r: RunRecord): string => (r.id === live ? 'RUNNING' : r.status);
    if (mode === 'json') {
      io.out.write(`${JSON.stringify({ total, shown: list.length, runs: list.map((r) => runJson(r, r.id === live)) }, null, 2)}\n`);
      return 0;
    }
    if (mode === 'csv') {
      const header = ['run_id', 'started_at', 'commit', 'dirty', 'status', 'duration_ms', 'ran', 'up_to_date', 'restored', 'failed', 'blocked', 'not_run', 'tests_status', 'tests_passed', 'tests_failed', 'flags', 'targets', 'host'];
      io.out.write(csv(header, list.map((r) => [
        r.id, iso(r.startedAt), r.git?.commit, r.git?.dirty, status(r), r.durationMs, r.counts.ran, r.counts.upToDate, r.counts.restored, r.counts.failed, r.counts.blocked, r.counts.notRun,
        r.tests?.status, r.tests?.passed, r.tests?.failed, r.flags.join(' '), r.targets.join(' '), r.host,
      ])));
      return 0;
    }
    if (list.length === 0) {
      io.say('No runs recorded yet.');
      return 0;
    }
    const s = io.style;
    const paintStatus = (c: string): string => (c.startsWith('PASS') ? s.green(c) : c.startsWith('FAIL') || c.startsWith('INTERRUPTED') ? s.red(c) : s.yellow(c));
    io.say(table(
      [{ head: 'WHEN' }, { head: 'RUN' }, { head: 'COMMIT' }, { head: 'STATUS', paint: paintStatus }, { head: 'TIME', right: true }, { head: 'RAN', right: true }, { head: 'SKIPPED', right: true }, { head: 'FAILED', right: true }, { head: 'TESTS' }, { head: 'FLAGS' }],
      list.map((r) => [
        when(r.startedAt), r.id, commitCell(r.git), status(r), r.id === live ? '…' : ms(r.durationMs), String(r.counts.ran), String(r.counts.upToDate + r.counts.restored),
        String(r.counts.failed + r.counts.blocked), r.tests ? (r.tests.action === 'not-run' ? '-' : `${r.tests.passed}/${r.tests.passed + r.tests.failed}`) : '-',
        [...r.flags, ...r.targets].join(' '),
      ]),
      s,
    ));
    io.say(s.dim(`${list.length} of ${total} run${total === 1 ? '' : 's'}, newest first${list.length < total ? ' (--limit N for more)' : ''}. SKIPPED = up to date or restored from cache; * = uncommitted changes.`));
    return 0;
  });
}

async function stepHistory(args: Args, io: Io, mode: string, step: string): Promise<number> {
  const limit = args.limit ?? 20;
  return withReadStore(args, (store) => {
    // RULE.window more executions than shown, so the oldest shown is judged like the newest.
    const { samples: fetched, runsScanned, seen } = stepSeries(store, step, { limit: limit + RULE.window });
    const samples = fetched.slice(0, limit);
    if (!seen) {
      const instances = instancesOf(store, step);
      if (instances.length > 0) return groupHistory(store, io, mode, step, instances, limit);
      const latest = listRuns(store, { limit: 1 })[0];
      const names = latest ? resultsOf(store, latest.id).map((r) => r.name) : [];
      throw new BatchError(`No recorded run has a step named "${step}"${didYouMean(step, names)}`, 2);
    }
    // Each execution judged against the passed ones before it, as `batch trends` would have then.
    const flagged = samples.map((smp, i) => isTiming(smp) && judge(smp.durationMs, fetched.slice(i + 1).filter(isTiming).map((x) => x.durationMs)).slower);
    const passed = samples.filter(isTiming).map((x) => x.durationMs);
    const med = median(passed);
    const dev = mad(passed);
    if (mode === 'json') {
      io.out.write(`${JSON.stringify({
        step, medianMs: med ?? null, madMs: dev ?? null, rule: { ...RULE, text: RULE_TEXT },
        executions: samples.map((x, i) => ({ ...sampleJson(x), slower: flagged[i] })),
      }, null, 2)}\n`);
      return 0;
    }
    if (mode === 'csv') {
      io.out.write(csv(
        ['run_id', 'started_at', 'commit', 'dirty', 'status', 'duration_ms', 'cpu_ms', 'peak_rss_bytes', 'bytes_read', 'bytes_written', 'slower', 'reason', 'worker', 'queue_wait_ms'],
        samples.map((x, i) => [x.runId, iso(x.startedAt), x.commit, x.dirty, x.status, x.durationMs, x.cpuMs, x.peakRssBytes, x.bytesRead, x.bytesWritten, flagged[i], x.reason, x.worker, x.queueWaitMs]),
      ));
      return 0;
    }
    const s = io.style;
    if (samples.length === 0) {
      io.say(`${step}: did not run in the last ${runsScanned} recorded runs (always up to date, restored or not run).`);
      return 0;
    }
    io.say(`${s.bold(step)}: ${samples.length} execution${samples.length === 1 ? '' : 's'} since ${when(samples[samples.length - 1]!.startedAt)}; median ${ms(med)}, MAD ${ms(dev)} over ${passed.length} passed`);
    const oldestFirst = [...samples].reverse();
    io.say(`  ${sparkline(oldestFirst.map((x) => (isTiming(x) ? x.durationMs : undefined)))}  ${s.dim('oldest → newest; · = failed')}`);
    io.say('');
    // Where it ran and its queue wait, only when some execution ran on a worker.
    const remote = samples.some((x) => x.worker !== undefined);
    io.say(table(
      [{ head: 'WHEN' }, { head: 'RUN' }, { head: 'COMMIT' }, { head: 'STATUS' }, { head: 'TIME', right: true }, { head: 'VS MEDIAN', right: true }, { head: 'CPU', right: true }, { head: 'PEAK RSS', right: true }, { head: 'READ', right: true }, { head: 'WRITTEN', right: true },
        ...(remote ? [{ head: 'WORKER' }, { head: 'QUEUED', right: true }] : []), { head: 'FLAG', paint: (c: string) => (c.trim() ? s.red(c) : c) }, { head: 'REASON' }],
      samples.map((x, i) => [
        when(x.startedAt), x.runId, commitCell(x.commit !== undefined ? { commit: x.commit, dirty: x.dirty ?? false } : undefined), x.status, ms(x.durationMs),
        isTiming(x) && med ? ratio(x.durationMs / med) : '-', ms(x.cpuMs), bytes(x.peakRssBytes), bytes(x.bytesRead), bytes(x.bytesWritten),
        ...(remote ? [x.worker ?? 'local', ms(x.queueWaitMs)] : []), flagged[i] ? 'SLOWER' : '', x.reason,
      ]),
      s,
    ));
    const nFlag = flagged.filter(Boolean).length;
    io.say(s.dim(`newest first. SLOWER: ${RULE_TEXT}.`));
    if (nFlag > 0) io.say(s.red(`${nFlag} execution${nFlag === 1 ? ' was' : 's were'} slower than usual.`));
    return 0;
  });
}

function bytes(n: number | undefined): string {
  return n === undefined ? '-' : formatBytes(n);
}

function sampleJson(x: Sample): object {
  return {
    runId: x.runId, startedAt: iso(x.startedAt), ...(x.commit !== undefined ? { git: { commit: x.commit, dirty: x.dirty ?? false } } : {}),
    status: x.status, durationMs: x.durationMs, cpuMs: x.cpuMs ?? null, peakRssBytes: x.peakRssBytes ?? null, bytesRead: x.bytesRead ?? null, bytesWritten: x.bytesWritten ?? null,
    reason: x.reason, ...(x.logFile !== undefined ? { logFile: x.logFile } : {}),
    ...(x.worker !== undefined ? { worker: x.worker, queueWaitMs: x.queueWaitMs ?? 0 } : {}),
  };
}

async function prune(args: Args, io: Io, mode: string, signal: AbortSignal): Promise<number> {
  if (args.keep === undefined) throw new BatchError('`batch history --prune` needs --keep N (the number of newest runs to keep)', 2);
  if (args.keep < 1) throw new BatchError('--keep needs at least 1 (to remove everything: `batch clean --store`)', 2);
  if (args.positionals.length > 0) throw new BatchError('`batch history --prune` takes no step name', 2);
  const paths = queryPaths(args);
  if (!fs.existsSync(path.join(paths.cacheDir, 'store'))) throw new BatchError(`No run records yet: ${shownPath(paths.root, path.join(paths.cacheDir, 'store'))} does not exist.`, 2);
  // Writes the store: wait for (or refuse during) a running batch, like any writer.
  const lock = await acquireLock(paths.cacheDir, { wait: args.wait, signal, root: paths.root });
  try {
    const store = openStore(paths.cacheDir, { root: paths.root });
    let res: PruneResult;
    try {
      res = await pruneRuns(store, args.keep);
    } finally {
      await store.close();
    }
    if (res.removed.length > 0) forgetReport(paths.cacheDir);
    // The pruned runs' step logs go too: logs/runs/<run-id>/.
    let logDirs = 0;
    for (const id of res.removed) {
      const dir = path.join(paths.logsDir, 'runs', id);
      if (fs.existsSync(dir)) {
        fs.rmSync(dir, { recursive: true, force: true });
        logDirs++;
      }
    }
    if (mode === 'json') {
      io.out.write(`${JSON.stringify({ kept: res.kept, removed: res.removed, removedResults: res.results, removedLogDirs: logDirs }, null, 2)}\n`);
    } else if (mode === 'csv') {
      io.out.write(csv(['removed_run_id'], res.removed.map((id) => [id])));
    }
    // Human lines go to stderr when stdout carries --json or --csv (see Io).
    const say = (line: string): void => io.say(line);
    if (res.removed.length === 0) {
      say(`Nothing to prune: ${res.kept} run${res.kept === 1 ? '' : 's'} recorded, keeping up to ${args.keep}.`);
    } else {
      const span = res.removed.length === 1 ? res.removed[0]! : `${res.removed[0]} … ${res.removed[res.removed.length - 1]}`;
      say(`Removed ${res.removed.length} run${res.removed.length === 1 ? '' : 's'} (${span}) and their ${res.results} step results from ${path.relative(paths.root, path.join(paths.cacheDir, 'store')) || '.'}, and ${logDirs} log folder${logDirs === 1 ? '' : 's'} under ${path.relative(paths.root, path.join(paths.logsDir, 'runs'))}/.`);
      say(`Kept the newest ${res.kept}.`);
    }
    return 0;
  } finally {
    lock.release();
  }
}
