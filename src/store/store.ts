import fs from 'node:fs';
import path from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { lmdb } from '../util/lmdb.js';
import { BatchError } from '../util/errors.js';
import { shownPath, shownPathsIn } from '../util/paths.js';
import { lmdbHeaderProblem } from './lmdb-header.js';
import type { RunRecord, StepResult, StepState } from './types.js';
import { WriteBatch } from './write-batch.js';

/** Bump when the meaning of stored records changes; older stores are then refused with advice. */
export const STORE_VERSION = 2;

export interface StatEntry {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  hash: string;
  /** Wall clock when the hash was taken: guards against edits within one timestamp tick. */
  hashedAt: number;
}

export interface CodeEntry {
  /** Hashes of the module's local sources and of the package.json of each package it imports. */
  sources: Record<string, string>;
  /** Project-relative path of the compiled module. */
  compiled: string;
}

/** A step's stat snapshot: proof, checkable with stat() alone, that the step was up to date
 * when its files had these stats (see src/plan/snapshot.ts). Read-only: the daemon hands the
 * same frozen entry to every run (memoSnapshots). */
export interface SnapshotEntry {
  /** Wall clock when it was taken; files modified within the racy window before it do not count. */
  readonly at: number;
  /** Hash of the step's definition, env values and key schema. */
  readonly def: string;
  /** Hash of the path and stat of every input, code file and output. */
  readonly sig: string;
  /** Code files (and, for command steps, every word of the command that could name one). */
  readonly code: readonly string[];
}

export interface SnapshotTable {
  /** The step's snapshot, decoded. With `memoSnapshots` (openStore), the same frozen entry as
   * the last read while the stored bytes are the same: do not change what it returns. */
  get(step: string): SnapshotEntry | undefined;
  /** The step's snapshot as stored, undecoded: a view valid only until the store's next read,
   * whose `length` is the value's (its underlying buffer may be longer: copy it by `length`).
   * The no-op record hashes 1,000 of them without decoding one. */
  raw(step: string): Buffer | undefined;
  put(step: string, entry: SnapshotEntry): Promise<boolean>;
  remove(step: string): Promise<boolean>;
}

/** Up-to-date results, stored compactly: a run where 10,000 steps are up to date writes a
 * few lists of names, not 10,000 records (which were most of a no-op's recording time and
 * ~1 MB of store per run). Each such result is exactly `upToDateResult(name)`. Read them
 * through src/history/query.ts, which merges them with the `results` table; stores written
 * before this table existed simply have none. */
export interface UpToDateTable {
  /** Records a chunk of step names that were up to date in a run. */
  put(runId: string, chunk: number, names: readonly string[]): Promise<boolean>;
  /** The names recorded for a run, in recording order (empty when none). */
  names(runId: string): string[];
  /** Whether `step` is among a run's up-to-date names. */
  has(runId: string, step: string): boolean;
  /** Removes a run's lists (in the caller's transaction); returns how many names they held. */
  remove(runId: string): number;
}

/** One handle on the run store: its tables (one per kind of record, each typed) and the write
 * batch they share; 12 members because each table is its own LMDB database. */
export interface Store {
  readonly root: RootDatabase;
  readonly stat: StatTable;
  readonly snap: SnapshotTable;
  readonly state: Database<StepState, string>;
  readonly runs: Database<RunRecord, string>;
  readonly results: Database<StepResult, [string, string]>;
  readonly upToDate: UpToDateTable;
  readonly code: Database<CodeEntry, string>;
  readonly meta: Database<unknown, string>;
  /** The run's batched writes (write-batch.ts): finished steps' records, snapshots, output
   * cache and stat entries, committed together instead of one commit per step. */
  readonly writes: WriteBatch;
  /** Another LMDB environment at `dir`, opened once and closed with the store; its writes go
   * through `writes` with `{ env }`. For data that must not share the store's file, so that
   * the records every run reads stay dense in a small one: the output cache's small blobs
   * (cache/local/inline-blobs.ts). A read-only store gives undefined when it does not exist.
   * Throws a BatchError (exit 3) when its header is damaged. */
  side(dir: string): RootDatabase | undefined;
  /** Commits the batched writes, then closes (the side environments too). */
  close(): Promise<void>;
}

export function storePath(cacheDir: string): string {
  return path.join(cacheDir, 'store');
}

const RECOVER = 'Remove it with `batch clean --store` (run history and fingerprints are lost; outputs stay) and run again.';

/** The stat cache is the hottest table (one read per file per run): entries are packed as
 * one short string, which decodes several times faster than a msgpack or JSON object. */
export interface StatTable {
  get(rel: string): StatEntry | undefined;
  put(rel: string, entry: StatEntry): Promise<boolean>;
  /** Many entries in the store's write batch (one wake-up of lmdb's writer, not one per file). */
  putMany(entries: readonly (readonly [string, StatEntry])[]): Promise<unknown>;
  /** Resolves when every put so far is committed (the write batch is flushed for it). */
  readonly flushed: Promise<unknown>;
}

const pack = (e: StatEntry): string => `${e.size}|${e.mtimeMs}|${e.ctimeMs}|${e.ino}|${e.hash}|${e.hashedAt}`;

function statTable(root: RootDatabase, writes: WriteBatch): StatTable {
  const db = root.openDB<string, string>({ name: 'stat', encoding: 'string' });
  return {
    get(rel) {
      const v = db.get(rel);
      if (v === undefined) return undefined;
      const [size, mtimeMs, ctimeMs, ino, hash, hashedAt] = v.split('|');
      return { size: Number(size), mtimeMs: Number(mtimeMs), ctimeMs: Number(ctimeMs), ino: Number(ino), hash: hash ?? '', hashedAt: Number(hashedAt) };
    },
    put(rel, e) {
      return db.put(rel, pack(e));
    },
    putMany(entries) {
      return writes.add(() => {
        for (const [rel, e] of entries) void db.put(rel, pack(e));
      });
    },
    get flushed() {
      return writes.flush().then(() => db.flushed);
    },
  };
}

/** Read once per step on every run: packed as one NUL-separated string (paths never hold NUL).
 * `memo`: a long-lived process (the daemon) reads the same 1,000s of snapshots run after run;
 * it keeps each one decoded with its stored bytes, and gives the kept entry back while LMDB
 * holds those same bytes (compared on every read, so nothing read is ever older than the
 * store): no string decoded and split per step per run. */
function snapshotTable(root: RootDatabase, memo: boolean): SnapshotTable {
  const db = root.openDB<string, string>({ name: 'snap', encoding: 'string' });
  const decode = (step: string): SnapshotEntry | undefined => {
    const v = db.get(step);
    if (v === undefined) return undefined;
    const [at, def, sig, ...code] = v.split('\0');
    if (def === undefined || sig === undefined) return undefined;
    return { at: Number(at), def, sig, code };
  };
  const kept = new Map<string, { bytes: Buffer; entry: SnapshotEntry | undefined }>();
  return {
    get(step) {
      if (!memo) return decode(step);
      const raw = db.getBinaryFast(step);
      if (raw === undefined) {
        kept.delete(step);
        return undefined;
      }
      // Taken by its `length`: lmdb-js hands out a view of a larger buffer with `length` set.
      const n = raw.length;
      const hit = kept.get(step);
      if (hit && hit.bytes.length === n && hit.bytes.compare(raw, 0, n) === 0) return hit.entry;
      const bytes = Buffer.allocUnsafe(n);
      bytes.set(new Uint8Array(raw.buffer, raw.byteOffset, n));
      // Decoded as a read without the memo decodes it; in the same synchronous stretch as the
      // read above, so from the same read transaction: the same value.
      const entry = decode(step);
      if (entry) Object.freeze(Object.freeze(entry).code);
      kept.set(step, { bytes, entry });
      return entry;
    },
    raw(step) {
      return db.getBinaryFast(step);
    },
    put(step, e) {
      return db.put(step, [String(e.at), e.def, e.sig, ...e.code].join('\0'));
    },
    remove(step) {
      return db.remove(step);
    },
  };
}

/** Step names are `[A-Za-z0-9_][A-Za-z0-9_.:@+-]*` (validate.ts): a newline never occurs. */
const SEP = '\n';

/** A name occurs in a SEP-joined list, found without splitting it (a list holds thousands). */
function listHas(list: string, name: string): boolean {
  for (let at = list.indexOf(name); at >= 0; at = list.indexOf(name, at + 1)) {
    const end = at + name.length;
    if ((at === 0 || list[at - 1] === SEP) && (end === list.length || list[end] === SEP)) return true;
  }
  return false;
}

function upToDateTable(root: RootDatabase, readOnly: boolean): UpToDateTable {
  // Opened here, never lazily: opening a database while a read cursor is live (a query
  // iterating runs) invalidated that cursor's transaction (MDB_BAD_TXN, or a crash). A
  // read-only store written before this table existed does not have it; it then holds no
  // lists (every result is in `results`).
  let db: Database<string, [string, number]> | null;
  try {
    db = root.openDB<string, [string, number]>({ name: 'uptodate', encoding: 'string' });
    if (readOnly) db.getKeysCount({ limit: 1 }); // throws when the table does not exist
  } catch {
    db = null;
  }
  const open = (): Database<string, [string, number]> | null => db;
  const lists = (runId: string): string[] => {
    const d = open();
    if (!d) return [];
    const out: string[] = [];
    for (const { value } of d.getRange({ start: [runId], end: [runId, Number.MAX_SAFE_INTEGER] })) out.push(value);
    return out;
  };
  return {
    put(runId, chunk, names) {
      return open()!.put([runId, chunk], names.join(SEP));
    },
    names(runId) {
      const out: string[] = [];
      for (const list of lists(runId)) if (list !== '') out.push(...list.split(SEP));
      return out;
    },
    has(runId, step) {
      return lists(runId).some((list) => listHas(list, step));
    },
    remove(runId) {
      const d = open();
      if (!d) return 0;
      let n = 0;
      for (const { key, value } of d.getRange({ start: [runId], end: [runId, Number.MAX_SAFE_INTEGER] })) {
        if (value !== '') n += value.split(SEP).length;
        void d.remove(key);
      }
      return n;
    },
  };
}

/** Device and inode of a file, or 'none'. */
function fileId(file: string): string {
  try {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    // With its birth time: an inode number is reused at once after a removal.
    return st ? `${st.dev}:${st.ino}:${st.birthtimeMs}` : 'none';
  } catch {
    return 'none'; // a file where a folder should be: opening it says why
  }
}

/** An environment of one unnamed database (see Store.side). */
function openSide(dir: string, readOnly: boolean, root: string | undefined): RootDatabase | undefined {
  const data = path.join(dir, 'data.mdb');
  if (readOnly && !fs.existsSync(data)) return undefined;
  const shown = shownPath(root, dir);
  const damaged = lmdbHeaderProblem(data);
  if (damaged) throw new BatchError(`The LMDB environment at ${shown} is damaged (${damaged}).`, 3);
  try {
    fs.mkdirSync(dir, { recursive: true });
    return lmdb.open({ path: dir, compression: false, readOnly, mapSize: 2 ** 34, encoding: 'binary' });
  } catch (e) {
    throw new BatchError(`Cannot open the LMDB environment at ${shown}: ${shownPathsIn(root, (e as Error).message)}.`, 3);
  }
}

/** Opens (or creates) the LMDB store, checking its format version. `root`: the project
 * folder, so that messages name the store relative to it. `memoSnapshots`: keep decoded
 * snapshots for the next read of the same bytes (a process that runs many times over one
 * store: the daemon; see snapshotTable). */
export function openStore(cacheDir: string, opts: { readOnly?: boolean; root?: string; memoSnapshots?: boolean } = {}): Store {
  const dir = storePath(cacheDir);
  const shown = shownPath(opts.root, dir);
  if (opts.readOnly && !fs.existsSync(dir)) {
    throw new BatchError(`No run records yet: ${shown} does not exist. Run \`batch\` first.`, 2);
  }
  const damaged = lmdbHeaderProblem(path.join(dir, 'data.mdb'));
  if (damaged) throw new BatchError(`The store at ${shown} is damaged (${damaged}). ${RECOVER}`, 3);
  let root: RootDatabase;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    root = lmdb.open({ path: dir, maxDbs: 16, compression: false, readOnly: opts.readOnly ?? false, mapSize: 2 ** 34, ...(process.env.BATCH_EXP_DELAY ? { eventTurnBatching: false, commitDelay: Number(process.env.BATCH_EXP_DELAY) } : {}) });
  } catch (e) {
    throw new BatchError(`Cannot open the store at ${shown}: ${shownPathsIn(opts.root, (e as Error).message)}. ${RECOVER}`, 3);
  }
  try {
    const meta = root.openDB<unknown, string>({ name: 'meta' });
    const version = meta.get('version');
    if (version === undefined) {
      if (!opts.readOnly) meta.putSync('version', STORE_VERSION);
    } else if (version !== STORE_VERSION) {
      throw new BatchError(
        `The store at ${shown} has format version ${JSON.stringify(version)}; this batchfile reads version ${STORE_VERSION}. ${RECOVER}`,
        3,
      );
    }
    const writes = new WriteBatch(root);
    const sides = new Map<string, { env: RootDatabase; id: string }>();
    const opened: RootDatabase[] = [];
    const store: Store = {
      root,
      meta,
      writes,
      stat: statTable(root, writes),
      snap: snapshotTable(root, opts.memoSnapshots ?? false),
      // JSON, not msgpack: records vary in shape (maps keyed by file path), where msgpackr's
      // record structures cost more to define than JSON costs to parse.
      state: root.openDB<StepState, string>({ name: 'state', encoding: 'json' }),
      runs: root.openDB<RunRecord, string>({ name: 'runs', encoding: 'json' }),
      results: root.openDB<StepResult, [string, string]>({ name: 'results', encoding: 'json' }),
      upToDate: upToDateTable(root, opts.readOnly ?? false),
      code: root.openDB<CodeEntry, string>({ name: 'code', encoding: 'json' }),
      side: (sideDir) => {
        const id = fileId(path.join(sideDir, 'data.mdb'));
        const known = sides.get(sideDir);
        // The same file as when opened; one removed or made anew meanwhile (a daemon's store
        // outlives `rm -rf .cache/outputs`) is opened again, and the old one closed once the
        // writes queued for it have committed (the run that used it has ended: runs are one
        // at a time), so that its removed file's space and mapping are given back.
        if (known && known.id === id) return known.env;
        const env = openSide(sideDir, opts.readOnly ?? false, opts.root);
        if (known) {
          sides.delete(sideDir);
          opened.splice(opened.indexOf(known.env), 1);
          void writes.flush().then(() => known.env.close()).catch(() => undefined);
        }
        if (env) {
          sides.set(sideDir, { env, id: fileId(path.join(sideDir, 'data.mdb')) });
          opened.push(env);
        }
        return env;
      },
      close: async () => {
        await writes.flush().catch(() => undefined);
        // Not awaited: their writes were just flushed, and lmdb-js (3.5.6) never settles the
        // close of an environment whose last commit failed (a full disk), which left the run
        // waiting on nothing, so that Node exited with 0 before reporting the failure.
        for (const env of opened) void env.close().catch(() => undefined);
        await root.close();
      },
    };
    return store;
  } catch (e) {
    void root.close();
    if (e instanceof BatchError) throw e;
    throw new BatchError(`The store at ${shown} is unreadable (${shownPathsIn(opts.root, (e as Error).message)}). ${RECOVER}`, 3);
  }
}
