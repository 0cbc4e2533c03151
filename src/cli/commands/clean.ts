import { socketPath } from '../../daemon/protocol.js';
import fs from 'node:fs';
import path from 'node:path';
import { chooseCache } from '../../cache/choose.js';
import { isGlob, resolveSpecs } from '../../fingerprint/files.js';
import { StatCache } from '../../fingerprint/stat-cache.js';
import { loadProject, resolveProject } from '../../app/project.js';
import { acquireLock } from '../../store/lock.js';
import { openStore, storePath } from '../../store/store.js';
import { formatBytes } from '../../util/duration.js';
import { BatchError } from '../../util/errors.js';
import { didYouMean } from '../../util/suggest.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

/** Files listed one per line before the rest is counted. */
const LISTED = 20;

/**
 * `batch clean [STEP...]`: removes the declared outputs of the named steps (all steps without
 * names), as `make clean` does, and lists what it removed; the next run rebuilds them (or
 * restores them from the output cache).
 * `batch clean --cache`: drops the output cache and the stat cache (file knowledge); outputs,
 * fingerprints and run history stay, so nothing reruns that was up to date.
 * `batch clean --store`: only for a store that does not open (damaged, another format), or
 * with --force; run history is otherwise removed only by `batch history --prune`.
 */
export async function cleanCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const project = resolveProject(args);
  const cacheDir = project.cacheDir;
  if (args.store) return removeDamagedStore(args, io, signal, project.root, cacheDir);
  if (args.caches) {
    if (args.positionals.length > 0) throw new BatchError('`batch clean --cache` takes no step names: the caches are shared by every step', 2);
    return dropCaches(args, io, signal, project.root, cacheDir);
  }
  const loaded = await loadProject(project);
  const steps = loaded.config.steps;
  for (const n of args.positionals) {
    if (!steps.has(n)) throw new BatchError(`Unknown step "${n}"${didYouMean(n, steps.keys())}. Steps: ${[...steps.keys()].join(', ')}`, 2);
  }
  const names = args.positionals.length > 0 ? args.positionals : [...steps.keys()];
  // Under the project lock: no run is writing these outputs meanwhile.
  const lock = await acquireLock(cacheDir, { wait: args.wait, signal, root: project.root });
  const store = openStore(cacheDir, { root: project.root });
  try {
    const stats = new StatCache(project.root, store);
    const removed: string[] = [];
    let bytes = 0;
    for (const name of names) {
      const step = steps.get(name)!;
      const { files } = resolveSpecs(project.root, step.outputs, stats);
      for (const f of files) {
        const abs = path.resolve(project.root, f);
        bytes += fs.statSync(abs, { throwIfNoEntry: false })?.size ?? 0;
        fs.rmSync(abs, { force: true });
        removed.push(f);
      }
      // A declared folder goes as a whole (what the step wrote into it, empty folders too).
      for (const spec of step.outputs) if (!isGlob(spec)) fs.rmSync(path.resolve(project.root, spec), { recursive: true, force: true });
    }
    const which = args.positionals.length > 0 ? `of ${names.join(', ')}` : `of all ${names.length} steps`;
    if (args.json) {
      io.out.write(`${JSON.stringify({ steps: names, removed, bytes }, null, 2)}\n`);
      return 0;
    }
    if (removed.length === 0) {
      io.say(`Nothing to remove: no declared output ${which} is on disk.`);
      return 0;
    }
    io.say(`Removed ${removed.length} output file${removed.length === 1 ? '' : 's'} (${formatBytes(bytes)}) ${which}:`);
    for (const f of removed.slice(0, LISTED)) io.say(`  ${f}`);
    if (removed.length > LISTED) io.say(`  … and ${removed.length - LISTED} more`);
    return 0;
  } finally {
    await store.close();
    lock.release();
  }
}

/** The output cache (entries, blobs) and the stat cache with the stat snapshots built on it.
 * The daemon keeps file knowledge in memory: its socket is removed so that it stops. */
async function dropCaches(args: Args, io: Io, signal: AbortSignal, root: string, cacheDir: string): Promise<number> {
  if (!fs.existsSync(storePath(cacheDir))) {
    io.say('Nothing to drop: no .cache/ store.');
    return 0;
  }
  const lock = await acquireLock(cacheDir, { wait: args.wait, signal, root });
  try {
    fs.rmSync(socketPath(root), { force: true });
    // Failed steps' outputs kept for inspection go too.
    fs.rmSync(path.join(cacheDir, 'failed'), { recursive: true, force: true });
    const store = openStore(cacheDir, { root });
    try {
      // The local caches only: a remote server's storage is the server's to manage.
      const cache = (await chooseCache({ enabled: true, maxBytes: 0 }, { enabled: true }, { root, cacheDir, store, env: process.env, batchfileName: 'the Batchfile' }, 'maintain'))!;
      const pruned = await cache.prune(0);
      const stat = store.root.openDB<string, string>({ name: 'stat', encoding: 'string' });
      const files = stat.getKeysCount();
      await stat.clearAsync();
      await store.root.openDB<string, string>({ name: 'snap', encoding: 'string' }).clearAsync();
      io.say(`Dropped the output cache (${pruned.evicted.entries} entries, ${formatBytes(pruned.evicted.bytes + pruned.orphans.bytes)}) and the stat cache (${files} files).`);
      io.say('Outputs, fingerprints and run history were kept: the next run hashes the files again.');
      return 0;
    } finally {
      await store.close();
    }
  } finally {
    lock.release();
  }
}

async function removeDamagedStore(args: Args, io: Io, signal: AbortSignal, root: string, cacheDir: string): Promise<number> {
  if (!fs.existsSync(storePath(cacheDir))) {
    io.say('Nothing to remove: no run store.');
    return 0;
  }
  const lock = await acquireLock(cacheDir, { wait: args.wait, signal, root });
  try {
    let opens = false;
    try {
      const store = openStore(cacheDir, { readOnly: true, root });
      await store.close();
      opens = true;
    } catch {
      // damaged or of another format: removing it is the way out
    }
    // Deep damage (a bad page far into the file) may still open: --force removes it anyway.
    if (opens && !args.force) {
      throw new BatchError(
        'The run store opens fine: `batch clean --store` only removes a damaged one (add --force if it fails deep inside). Remove old runs with `batch history --prune`, caches with `batch clean --cache`.',
        2,
      );
    }
    fs.rmSync(storePath(cacheDir), { recursive: true, force: true });
    io.say(`Removed the damaged run store ${path.relative(root, storePath(cacheDir))}/ (run history and fingerprints).`);
    return 0;
  } finally {
    lock.release();
  }
}
