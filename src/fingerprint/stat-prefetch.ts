// Starts the stat helper (stat-many.c, dist/stat-many) on the no-op record's paths as soon as
// the CLI knows the project and that the command is a plain run, so the stats are taken on
// the other core while the engine's modules load; the run takes the answer when it checks the
// record (plan/noop-record.ts), which uses it only if every stat equals the recorded one.
// Loaded by the CLI's entry before the engine: imports nothing of it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockGeneration } from '../util/lock-generation.js';

/** Beside the bundle's chunks and tsc's fingerprint/ alike: dist/stat-many. */
const HELPER = fileURLToPath(new URL('../stat-many', import.meta.url));

/** What keeps the event loop waiting for the helper: unref'd until the run asks for it. */
interface Refs {
  ref(): void;
  unref(): void;
}

/** The no-op record of the project whose state folder is `cacheDir` (plan/noop-record.ts). */
export function noopRecordPath(cacheDir: string): string {
  return path.join(cacheDir, 'batchfile', 'noop.bin');
}

/** The helper's answer, and the project lock's generation when it was started (its stats
 * were taken after that; util/lock-generation.ts). */
export interface Prefetch {
  answer: Promise<Buffer | undefined>;
  generation: string;
}

/** How long a run waits for the helper's answer once it asks (it takes ~20 ms for 12,000
 * paths): a helper stopped or stuck is left, and the run stats the files itself. */
const ANSWER_WAIT_MS = 2000;

let started: (Prefetch & { root: string; record: string; refs: Refs[]; kill: () => void }) | undefined;

/** The lock's generation, if no one holds the lock: read first, then the lock looked for. The
 * other order let a holder take the lock and write its generation between the two reads, and
 * the run then trusted stats taken while that holder (`batch clean`) changed files. In this
 * order a holder that came before the read is seen holding, or was gone before the stats;
 * one that comes after it moves the generation. '' proves nothing (util/lock-generation.ts). */
export function generationIfUnlocked(readGeneration: () => string, locked: () => boolean): string | undefined {
  const generation = readGeneration();
  if (generation === '' || locked()) return undefined;
  return generation;
}

/** Starts the helper for `record` (an absolute path) in `root`, when both exist and no run
 * holds the project's lock (`cacheDir/lock`, store/lock.ts): this run would wait for it, and
 * stats taken before that run's changes would prove nothing about the files after them. */
export function startStatPrefetch(root: string, cacheDir: string): void {
  if (started || process.platform !== 'linux' || process.env.BATCH_STAT_HELPER === '0') return;
  const record = noopRecordPath(cacheDir);
  if (!fs.existsSync(record) || !fs.existsSync(HELPER)) return;
  const generation = generationIfUnlocked(
    () => lockGeneration(cacheDir),
    () => fs.existsSync(path.join(cacheDir, 'lock')),
  );
  if (generation === undefined) return;
  let kill = (): void => {};
  const refs: Refs[] = [];
  const answer = new Promise<Buffer | undefined>((resolve) => {
    try {
      const { spawn } = process.getBuiltinModule('node:child_process');
      const child = spawn(HELPER, [root, record], { stdio: ['ignore', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.on('error', () => resolve(undefined));
      child.on('close', (code) => resolve(code === 0 ? Buffer.concat(chunks) : undefined));
      kill = () => {
        child.kill('SIGKILL');
        resolve(undefined);
      };
      // A run that never asks (it failed first, or finds no record to check) does not wait;
      // one that asks refs them again (takeStatPrefetch), or it could exit while it waits.
      refs.push(child, child.stdout as unknown as Refs);
      for (const r of refs) r.unref();
    } catch {
      resolve(undefined);
    }
  });
  started = { root: path.resolve(root), record: path.resolve(record), answer, generation, refs, kill: () => kill() };
}

/** The helper's answer for the record of `cacheDir` in `root`, once (undefined: none was
 * started for it). */
export function takeStatPrefetch(root: string, cacheDir: string): Prefetch | undefined {
  if (!started || started.root !== path.resolve(root) || started.record !== path.resolve(noopRecordPath(cacheDir))) return undefined;
  const { answer, generation, refs, kill } = started;
  started = undefined;
  for (const r of refs) r.ref();
  const timer = setTimeout(kill, ANSWER_WAIT_MS);
  void answer.then(() => clearTimeout(timer));
  return { answer, generation };
}
