import fs from 'node:fs';
import path from 'node:path';
import type { Database } from 'lmdb';
import { DEFAULT_CACHE_BYTES } from '../../batchfile/validate.js';
import { BlobStore } from '../../cache/local/blob-store.js';
import { LIMIT_META_KEY, openEntries, type CacheEntry } from '../../cache/local/entries.js';
import { InlineBlobs } from '../../cache/local/inline-blobs.js';
import { cacheStatus, LocalOutputCache, outputsDir, type CacheStatus, type PruneResult } from '../../cache/local/output-cache.js';
import { resultsOf } from '../../history/query.js';
import { acquireLock } from '../../store/lock.js';
import { openStore, storePath, type Store } from '../../store/store.js';
import { formatBytes, parseSize } from '../../util/duration.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { loadProject, projectPaths, resolveProject } from '../../app/project.js';
import { lastRemoteRun, remoteStatus, sayRemote, type RemoteStatus } from './cache-remote.js';

const USAGE = 'use `batch cache status` or `batch cache prune [--max-size SIZE]` (each with --json)';

interface RecentRun {
  runId: string;
  startedAt: number;
  status: string;
  restored: number;
  ran: number;
  upToDate: number;
  restoredSteps: string[];
}

/** `batch cache [status]` and `batch cache prune [--max-size SIZE]`: what the output cache
 * holds and how often recent runs used it; shrink it by hand. */
export default async function cacheCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const [sub = 'status', ...rest] = args.positionals;
  if (rest.length > 0) throw new BatchError(`\`batch cache ${sub}\` takes no further words (got ${rest.join(' ')}); ${USAGE}`, 2);
  const { root, cacheDir } = projectPaths(path.resolve(args.cwd ?? process.cwd()));
  if (sub === 'status') return status(args, io, root, cacheDir);
  if (sub === 'prune') return prune(args, io, signal, root, cacheDir);
  throw new BatchError(`Unknown \`batch cache ${sub}\`; ${USAGE}`, 2);
}

function entriesOrUndefined(store: Store): Database<CacheEntry, string> | undefined {
  try {
    // In a read-only store the index db is absent until a run created it.
    const db = openEntries(store);
    db.getKeysCount();
    return db;
  } catch {
    return undefined;
  }
}

function recentRuns(store: Store, limit: number): RecentRun[] {
  const out: RecentRun[] = [];
  for (const { key, value } of store.runs.getRange({ reverse: true, limit })) {
    const r: RecentRun = { runId: key, startedAt: value.startedAt, status: value.status, restored: 0, ran: 0, upToDate: 0, restoredSteps: [] };
    for (const res of resultsOf(store, key)) {
      if (res.action === 'restored') {
        r.restored++;
        r.restoredSteps.push(res.name);
      } else if (res.action === 'ran') r.ran++;
      else if (res.action === 'up-to-date') r.upToDate++;
    }
    out.push(r);
  }
  return out;
}

async function status(args: Args, io: Io, root: string, cacheDir: string): Promise<number> {
  let blobs = new BlobStore(outputsDir(cacheDir));
  const empty: CacheStatus = { entries: 0, bytes: 0, blobs: 0, orphans: { files: 0, bytes: 0 }, steps: [] };
  let st = empty;
  let runs: RecentRun[] = [];
  let limit = DEFAULT_CACHE_BYTES;
  let lastRemote: RemoteStatus['lastRun'];
  if (fs.existsSync(storePath(cacheDir))) {
    const store = openStore(cacheDir, { readOnly: true });
    try {
      const db = entriesOrUndefined(store);
      // Small blobs are in the store; a store written before that has only blob files.
      blobs = new BlobStore(outputsDir(cacheDir), InlineBlobs.openReadOnly(store));
      if (db) st = cacheStatus(db, blobs);
      runs = recentRuns(store, args.limit ?? 10);
      lastRemote = lastRemoteRun(store);
      const l = store.meta.get(LIMIT_META_KEY);
      if (typeof l === 'number') limit = l;
    } finally {
      await store.close();
    }
  }
  const hits = runs.reduce((n, r) => n + r.restored, 0);
  const ran = runs.reduce((n, r) => n + r.ran, 0);
  const dir = path.relative(root, blobs.dir) || '.';
  const remote = await remoteStatus(args, lastRemote);
  if (args.json) {
    io.out.write(`${JSON.stringify({ dir, limitBytes: limit, ...st, hits, recentRuns: runs, ...(remote ? { remote } : {}) }, null, 2)}\n`);
    return 0;
  }
  const s = io.style;
  io.say(`${s.bold('Output cache')} ${dir}/: ${st.entries} entries, ${formatBytes(st.bytes)} of ${formatBytes(limit)} (${st.blobs} distinct files)`);
  if (st.orphans.files > 0) io.say(s.dim(`  ${st.orphans.files} unreferenced files (${formatBytes(st.orphans.bytes)}): \`batch cache prune\` removes them`));
  const work = hits + ran;
  io.say(`Hits in the last ${runs.length} runs: ${hits} steps restored, ${ran} ran${work > 0 ? ` (${Math.round((100 * hits) / work)}% of the steps that needed work)` : ''}`);
  for (const r of runs) {
    if (r.restored > 0) io.say(s.dim(`  run ${r.runId}: restored ${r.restoredSteps.join(', ')}`));
  }
  if (st.steps.length > 0) {
    const w = Math.min(40, Math.max(4, ...st.steps.map((x) => x.step.length)));
    io.say('');
    io.say(s.bold(`${'STEP'.padEnd(w)}  ${'ENTRIES'.padStart(7)}  ${'SIZE'.padStart(10)}  ${'HITS'.padStart(5)}  LAST USED`));
    for (const x of st.steps) {
      io.say(`${x.step.padEnd(w)}  ${String(x.entries).padStart(7)}  ${formatBytes(x.bytes).padStart(10)}  ${String(x.hits).padStart(5)}  ${new Date(x.lastUsed).toISOString()}`);
    }
  }
  sayRemote(io, remote);
  return 0;
}

/** The limit prune works to: --max-size, else the Batchfile's cache.maxSize, else (when the
 * Batchfile cannot be loaded) the limit the last run used, else the default. */
async function pruneLimit(args: Args, store: Store): Promise<{ bytes: number; from: string }> {
  if (args.maxSize !== undefined) {
    const n = parseSize(args.maxSize);
    if (n === undefined) throw new BatchError(`--max-size: ${JSON.stringify(args.maxSize)} is not a size like "2GB" or a number of bytes`, 2);
    return { bytes: n, from: '--max-size' };
  }
  try {
    const loaded = await loadProject(resolveProject(args));
    return { bytes: loaded.config.cache.maxBytes, from: 'the Batchfile' };
  } catch {
    const l = store.meta.get(LIMIT_META_KEY);
    if (typeof l === 'number') return { bytes: l, from: 'the last run (the Batchfile did not load)' };
    return { bytes: DEFAULT_CACHE_BYTES, from: 'the default' };
  }
}

async function prune(args: Args, io: Io, signal: AbortSignal, root: string, cacheDir: string): Promise<number> {
  if (!fs.existsSync(cacheDir)) {
    if (args.json) io.out.write(`${JSON.stringify({ limitBytes: null, evicted: { entries: 0, files: 0, bytes: 0 }, broken: 0, orphans: { files: 0, bytes: 0 }, tmpFiles: 0, entries: 0, bytes: 0 })}\n`);
    else io.say('Nothing to prune: no .cache/ folder.');
    return 0;
  }
  // Under the project lock: a run saving meanwhile would otherwise lose blobs it just stored.
  const lock = await acquireLock(cacheDir, { wait: args.wait, signal });
  try {
    const store = openStore(cacheDir);
    try {
      const limit = await pruneLimit(args, store);
      const cache = new LocalOutputCache({ root, cacheDir, store, maxBytes: limit.bytes });
      const r: PruneResult = await cache.prune(limit.bytes);
      const after = cacheStatus(cache.db, cache.blobs);
      if (args.json) {
        io.out.write(`${JSON.stringify({ limitBytes: limit.bytes, limitFrom: limit.from, ...r, entries: after.entries, bytes: after.bytes }, null, 2)}\n`);
        return 0;
      }
      io.say(`Pruned the output cache to ${formatBytes(limit.bytes)} (limit from ${limit.from}):`);
      io.say(`  evicted ${r.evicted.entries} least recently used entries (${r.evicted.files} files, ${formatBytes(r.evicted.bytes)})`);
      if (r.broken > 0) io.say(`  dropped ${r.broken} entries whose cached files were missing or damaged`);
      if (r.orphans.files > 0) io.say(`  removed ${r.orphans.files} unreferenced files (${formatBytes(r.orphans.bytes)})`);
      if (r.tmpFiles > 0) io.say(`  removed ${r.tmpFiles} temporary files left by an interrupted run`);
      io.say(`Now: ${after.entries} entries, ${formatBytes(after.bytes)}.`);
      return 0;
    } finally {
      await store.close();
    }
  } finally {
    lock.release();
  }
}
