import fs from 'node:fs';
import path from 'node:path';
import type { PipelineConfig } from '../batchfile/config.js';
import { isGlob } from '../fingerprint/files.js';
import { hashBytes, hashString } from '../fingerprint/hash.js';
import { plainRel, type FileStat, type StatCache } from '../fingerprint/stat-cache.js';
import type { Store } from '../store/store.js';
import type { FastVerdict } from './fast-check.js';
import { noopRecordPath } from '../fingerprint/stat-prefetch.js';

/**
 * The no-op record (`.cache/batchfile/noop.bin`): one file that lets a direct run prove every
 * selected step up to date at once, instead of step by step (fast-check.ts). A 1,000-step
 * no-op spent ~30 ms of its main thread on the per-step work around the stats (definition
 * signatures, a signature built and hashed per step); with the record it compares each
 * path's stat with the one recorded, in one loop, and the stats themselves can be taken by a
 * helper process on the other core while batch loads (stat-many.c, stat-prefetch.ts).
 *
 * It is written after a run whose every selected step its stat snapshot proved up to date,
 * and holds: the config's id (the Batchfile, what it read, the engine build, the project),
 * the selected steps, the env values the steps read (hashed), a digest of the snapshots
 * that proved them (definition, signature, code files), and every path those signatures were
 * made of with its stat then. It proves the steps up to date again exactly when all of that
 * is unchanged: then each step's snapshot check would see the same definition, the same
 * snapshot and the same stats, and give the same answer. Anything else (another run changed
 * a snapshot, a file's stat differs in any field, a path appeared or went) is a miss, and the
 * steps are checked one by one as before. Only steps whose specs are plain files qualify: a
 * glob or a folder is listed, and a listing can change without any stat recorded here
 * changing.
 */

const MAGIC = 'BFNOOPR1';
/** 2: the snapshots' digest is of their stored bytes. */
const FORMAT = 2;
/** Bytes before the paths (stat-many.c reads this header too). */
const HEADER = 40;
/** Numbers per path: mode (0: nothing there), size, mtimeMs, ctimeMs, inode. */
const PER_PATH = 5;

interface Meta {
  format: number;
  /** recordKey: config, selection, env. */
  key: string;
  /** snapsDigest of the snapshots that proved the steps. */
  snaps: string;
}

export interface NoopRecord {
  /** The checksum in the header: the stat helper echoes it, naming the record it read. */
  sum: string;
  /** The paths, split out of the file only when they are needed (statsHold): with the
   * helper's stats, the numbers alone are compared. */
  paths: () => string[] | undefined;
  count: number;
  expected: Float64Array;
  meta: Meta;
}

/** What besides snapshots and stats decides the verdicts: the config (by its id), the
 * selected steps and the values of the env variables they read (hashed: a record on disk
 * must not hold secrets). */
export function recordKey(configId: string, config: PipelineConfig, selected: readonly string[], env: NodeJS.ProcessEnv): string {
  const names = new Set<string>();
  for (const n of selected) for (const e of config.steps.get(n)?.env ?? []) names.add(e);
  let envText = '';
  for (const name of [...names].sort()) {
    const v = env[name];
    envText += `\0${name}${v === undefined ? '\0' : `=${v}`}`;
  }
  return hashString(`${FORMAT}\0${configId}\0${selected.join('\n')}\0${envText}`);
}

/** A digest of the selected steps' snapshots as stored (each one's bytes after its length),
 * or undefined when one has none. Raw: decoding 1,000 snapshots only to hash them again
 * was most of the record's check. */
function snapsDigest(store: Store, selected: readonly string[]): string | undefined {
  let buf = Buffer.allocUnsafe(256 * 1024);
  let at = 0;
  for (const name of selected) {
    const b = store.snap.raw(name);
    if (!b) return undefined;
    if (at + 4 + b.length > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, at + 4 + b.length));
      buf.copy(bigger, 0, 0, at);
      buf = bigger;
    }
    // Taken by its `length`: lmdb-js hands out a view of a larger buffer with `length` set.
    const n = b.length;
    buf.writeUInt32LE(n, at);
    buf.set(new Uint8Array(b.buffer, b.byteOffset, n), at + 4);
    at += 4 + n;
  }
  return hashBytes(buf.subarray(0, at));
}

/** A step proven by the record: its code files (watch mode's concern, never a one-shot run's)
 * are read from its snapshot only if asked for. */
function recordedVerdict(store: Store, name: string, epoch: number): FastVerdict {
  let code: readonly string[] | undefined;
  return {
    epoch,
    get code() {
      return (code ??= store.snap.get(name)?.code ?? []);
    },
  };
}

export function encodeRecord(paths: readonly string[], expected: Float64Array, meta: Meta): Buffer {
  const pathBytes = Buffer.from(paths.map((p) => `${p}\0`).join(''), 'utf8');
  const pad = (8 - ((HEADER + pathBytes.length) % 8)) % 8;
  const metaBytes = Buffer.from(JSON.stringify(meta), 'utf8');
  const body = Buffer.concat([pathBytes, Buffer.alloc(pad), Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength), metaBytes]);
  const head = Buffer.alloc(HEADER);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(paths.length, 8);
  head.writeUInt32LE(pathBytes.length, 12);
  head.writeUInt32LE(metaBytes.length, 16);
  head.write(hashBytes(body), 24, 'latin1');
  return Buffer.concat([head, body]);
}

/** The record in `bytes`, or undefined when it is not one, or damaged. */
export function decodeRecord(bytes: Buffer): NoopRecord | undefined {
  if (bytes.length < HEADER || bytes.toString('latin1', 0, 8) !== MAGIC) return undefined;
  const count = bytes.readUInt32LE(8);
  const pathLen = bytes.readUInt32LE(12);
  const metaLen = bytes.readUInt32LE(16);
  const pad = (8 - ((HEADER + pathLen) % 8)) % 8;
  const numsAt = HEADER + pathLen + pad;
  if (numsAt + count * PER_PATH * 8 + metaLen !== bytes.length) return undefined;
  const sum = bytes.toString('latin1', 24, 40);
  if (hashBytes(bytes.subarray(HEADER)) !== sum) return undefined;
  const paths = (): string[] | undefined => {
    const list = bytes.toString('utf8', HEADER, HEADER + pathLen).split('\0');
    return list.pop() === '' && list.length === count ? list : undefined;
  };
  // Copied out: the file's buffer need not be 8-byte aligned.
  const expected = new Float64Array(count * PER_PATH);
  new Uint8Array(expected.buffer).set(bytes.subarray(numsAt, numsAt + expected.byteLength));
  try {
    const meta = JSON.parse(bytes.toString('utf8', numsAt + expected.byteLength)) as Meta;
    return meta.format === FORMAT ? { sum, paths, count, expected, meta } : undefined;
  } catch {
    return undefined;
  }
}

/** Does `st` have the numbers recorded at `at`? */
function sameAs(expected: Float64Array, at: number, st: FileStat | null): boolean {
  if (!st) return expected[at] === 0;
  return expected[at] === st.mode && expected[at + 1] === st.size && expected[at + 2] === st.mtimeMs && expected[at + 3] === st.ctimeMs && expected[at + 4] === st.ino;
}



/** Where the run can look for the record and what it checks it against. */
export interface RecordCheck {
  cacheDir: string;
  stats: StatCache;
  store: Store;
  key: string;
  selected: readonly string[];
  /** Stats of the record's paths taken by the helper process (stat-prefetch.ts), if any. */
  prefetched?: Promise<Buffer | undefined>;
}

/** Every selected step proven up to date by the record, and whose stats proved it (the
 * helper's or this process's own), or undefined (a miss: check them one by one). */
export async function provenByRecord(c: RecordCheck): Promise<{ verdicts: Map<string, FastVerdict>; by: 'helper' | 'stat' } | undefined> {
  let rec: NoopRecord | undefined;
  try {
    rec = decodeRecord(fs.readFileSync(noopRecordPath(c.cacheDir)));
  } catch {
    return undefined;
  }
  if (!rec || rec.meta.key !== c.key) return undefined;
  const snaps = snapsDigest(c.store, c.selected);
  if (snaps === undefined || snaps !== rec.meta.snaps) return undefined;
  const taken = await c.prefetched;
  const by = taken && prefetchedHold(rec, taken) ? 'helper' : 'stat';
  if (by === 'helper') c.stats.countStatted(rec.count);
  else if (!statsHold(rec, c.stats)) return undefined;
  const epoch = c.stats.epoch;
  const out = new Map<string, FastVerdict>();
  for (const n of c.selected) out.set(n, recordedVerdict(c.store, n, epoch));
  return { verdicts: out, by };
}

/** Stats each recorded path now (held by the StatCache for the rest of the run) and compares. */
function statsHold(rec: NoopRecord, stats: StatCache): boolean {
  const paths = rec.paths();
  if (!paths) return false;
  for (let i = 0; i < paths.length; i++) if (!sameAs(rec.expected, i * PER_PATH, stats.stat(paths[i]!))) return false;
  return true;
}

/** Did the helper find every recorded path's stat unchanged, for this very record? It
 * compares in C (stat-many.c) and answers the record's checksum and one byte: reading and
 * comparing all its numbers here (~480 KB for 1,000 steps) cost ~4 ms of this process's CPU.
 * Its stats are not handed to the StatCache: taken while batch loaded, before the lock, they
 * only prove that everything is as recorded; a run in which anything changed or runs stats
 * its files itself. */
function prefetchedHold(rec: NoopRecord, taken: Buffer): boolean {
  return taken.length === 17 && taken.toString('latin1', 0, 16) === rec.sum && taken[16] === 1;
}

/** The record for a run whose every selected step `fast` holds (its snapshot proved it up to
 * date), or undefined when one of them does not qualify: a spec that is a glob or not a plain
 * file, a path the StatCache holds no stat for or that is not a plain project path. */
export function makeRecord(config: PipelineConfig, selected: readonly string[], fast: ReadonlyMap<string, FastVerdict>, stats: StatCache, store: Store, key: string): Buffer | undefined {
  const paths = new Set<string>();
  for (const n of selected) {
    const step = config.steps.get(n);
    const v = fast.get(n);
    if (!step || !v) return undefined;
    for (const spec of [...step.inputs, ...step.outputs]) {
      if (isGlob(spec) || stats.peekStat(spec)?.isFile() !== true) return undefined;
      paths.add(spec);
    }
    for (const f of v.code) paths.add(f);
  }
  const snaps = snapsDigest(store, selected);
  if (snaps === undefined) return undefined;
  const list = [...paths];
  const expected = new Float64Array(list.length * PER_PATH);
  for (let i = 0; i < list.length; i++) {
    const rel = list[i]!;
    const st = stats.peekStat(rel);
    if (st === undefined || !plainRel(rel) || rel.includes('\0')) return undefined;
    if (st) expected.set([st.mode, st.size, st.mtimeMs, st.ctimeMs, st.ino], i * PER_PATH);
  }
  return encodeRecord(list, expected, { format: FORMAT, key, snaps });
}

/** Writes the record (whole or not at all); a failure only costs the next run its shortcut. */
export function writeRecord(cacheDir: string, bytes: Buffer): void {
  const file = noopRecordPath(cacheDir);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}
