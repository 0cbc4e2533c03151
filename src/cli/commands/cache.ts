import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_CACHE_BYTES } from '../../batchfile/validate.js';
import type { CacheReport } from '../../cache/backend.js';
import { chooseCache, type CachePlace } from '../../cache/choose.js';
import { LIMIT_META_KEY } from '../../cache/local/entries.js';
import { outputsDir } from '../../cache/local/output-cache.js';
import { resultsOf } from '../../history/query.js';
import { acquireLock } from '../../store/lock.js';
import { openStore, storePath, type Store } from '../../store/store.js';
import { formatBytes, parseSize } from '../../util/duration.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { loadProject, projectPaths, resolveProject } from '../../app/project.js';
import { lastRemoteRun, sayRemote, type RemoteStatus } from './cache-remote.js';

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

/** What the project's store says the last runs used: the limit, and the remote (status does
 * not load the Batchfile, and runs beside a build). */
interface Recorded {
  runs: RecentRun[];
  limit: number;
  lastRemote: RemoteStatus['lastRun'];
}

/** The cache the last run used, as recorded (with --remote-cache … and BATCH_REMOTE_CACHE_*
 * overriding its remote), reported through the backend chosen as for a run. */
async function report(args: Args, root: string, cacheDir: string): Promise<{ rec: Recorded; st: CacheReport }> {
  const store = fs.existsSync(storePath(cacheDir)) ? openStore(cacheDir, { readOnly: true, root }) : undefined;
  try {
    const rec: Recorded = { runs: [], limit: DEFAULT_CACHE_BYTES, lastRemote: undefined };
    if (store) {
      rec.runs = recentRuns(store, args.limit ?? 10);
      rec.lastRemote = lastRemoteRun(store);
      const l = store.meta.get(LIMIT_META_KEY);
      if (typeof l === 'number') rec.limit = l;
    }
    const last = rec.lastRemote;
    const remote = last ? { url: last.url, team: last.team, readOnly: last.readOnly } : undefined;
    const flags = { enabled: true, remote: { readOnly: args.remoteCacheReadOnly, ...(args.remoteCache !== undefined ? { url: args.remoteCache } : {}), ...(args.remoteCacheTeam !== undefined ? { team: args.remoteCacheTeam } : {}) } };
    const place: CachePlace = { root, cacheDir, store, env: process.env, batchfileName: 'the last run' };
    const backend = await chooseCache({ enabled: true, maxBytes: rec.limit, ...(remote ? { remote } : {}) }, flags, place, 'status');
    return { rec, st: (await backend?.status()) ?? { entries: 0, bytes: 0, blobs: 0, orphans: { files: 0, bytes: 0 }, steps: [] } };
  } finally {
    await store?.close();
  }
}

async function status(args: Args, io: Io, root: string, cacheDir: string): Promise<number> {
  const { rec, st: full } = await report(args, root, cacheDir);
  const { remote: reach, ...st } = full;
  const { runs, limit, lastRemote } = rec;
  const hits = runs.reduce((n, r) => n + r.restored, 0);
  const ran = runs.reduce((n, r) => n + r.ran, 0);
  const dir = path.relative(root, outputsDir(cacheDir)) || '.';
  const remote: RemoteStatus | undefined = reach ? { ...reach, ...(lastRemote ? { lastRun: lastRemote } : {}) } : undefined;
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
  const lock = await acquireLock(cacheDir, { wait: args.wait, signal, root });
  try {
    const store = openStore(cacheDir, { root });
    try {
      const limit = await pruneLimit(args, store);
      // The local cache only: a remote server's storage is the server's to manage.
      const place: CachePlace = { root, cacheDir, store, env: process.env, batchfileName: 'the Batchfile' };
      const cache = (await chooseCache({ enabled: true, maxBytes: limit.bytes }, { enabled: true }, place, 'maintain'))!;
      const r = await cache.prune(limit.bytes);
      const after = await cache.status();
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
