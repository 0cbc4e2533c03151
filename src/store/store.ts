import fs from 'node:fs';
import path from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { lmdb } from '../util/lmdb.js';
import { BatchError } from '../util/errors.js';
import { lmdbHeaderProblem } from './lmdb-header.js';
import type { RunRecord, StepResult, StepState } from './types.js';

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
 * when its files had these stats (see src/plan/snapshot.ts). */
export interface SnapshotEntry {
  /** Wall clock when it was taken; files modified within the racy window before it do not count. */
  at: number;
  /** Hash of the step's definition, env values and key schema. */
  def: string;
  /** Hash of the path and stat of every input, code file and output. */
  sig: string;
  /** Code files (and, for command steps, every word of the command that could name one). */
  code: string[];
}

export interface SnapshotTable {
  get(step: string): SnapshotEntry | undefined;
  put(step: string, entry: SnapshotEntry): Promise<boolean>;
  remove(step: string): Promise<boolean>;
}

export interface Store {
  readonly root: RootDatabase;
  readonly stat: StatTable;
  readonly snap: SnapshotTable;
  readonly state: Database<StepState, string>;
  readonly runs: Database<RunRecord, string>;
  readonly results: Database<StepResult, [string, string]>;
  readonly code: Database<CodeEntry, string>;
  readonly meta: Database<unknown, string>;
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
  /** Many entries in one write transaction (one wake-up of lmdb's writer, not one per file). */
  putMany(entries: readonly (readonly [string, StatEntry])[]): Promise<unknown>;
  /** Resolves when every put so far is committed. */
  readonly flushed: Promise<boolean>;
}

const pack = (e: StatEntry): string => `${e.size}|${e.mtimeMs}|${e.ctimeMs}|${e.ino}|${e.hash}|${e.hashedAt}`;

function statTable(root: RootDatabase): StatTable {
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
      return root.transaction(() => {
        for (const [rel, e] of entries) void db.put(rel, pack(e));
      });
    },
    get flushed() {
      return db.flushed;
    },
  };
}

/** Read once per step on every run: packed as one NUL-separated string (paths never hold NUL). */
function snapshotTable(root: RootDatabase): SnapshotTable {
  const db = root.openDB<string, string>({ name: 'snap', encoding: 'string' });
  return {
    get(step) {
      const v = db.get(step);
      if (v === undefined) return undefined;
      const [at, def, sig, ...code] = v.split('\0');
      if (def === undefined || sig === undefined) return undefined;
      return { at: Number(at), def, sig, code };
    },
    put(step, e) {
      return db.put(step, [String(e.at), e.def, e.sig, ...e.code].join('\0'));
    },
    remove(step) {
      return db.remove(step);
    },
  };
}

/** Opens (or creates) the LMDB store, checking its format version. */
export function openStore(cacheDir: string, opts: { readOnly?: boolean } = {}): Store {
  const dir = storePath(cacheDir);
  if (opts.readOnly && !fs.existsSync(dir)) {
    throw new BatchError(`No run records yet: ${dir} does not exist. Run \`batch\` first.`, 2);
  }
  const damaged = lmdbHeaderProblem(path.join(dir, 'data.mdb'));
  if (damaged) throw new BatchError(`The store at ${dir} is damaged (${damaged}). ${RECOVER}`, 3);
  let root: RootDatabase;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    root = lmdb.open({ path: dir, maxDbs: 16, compression: false, readOnly: opts.readOnly ?? false, mapSize: 2 ** 34 });
  } catch (e) {
    throw new BatchError(`Cannot open the store at ${dir}: ${(e as Error).message}. ${RECOVER}`, 3);
  }
  try {
    const meta = root.openDB<unknown, string>({ name: 'meta' });
    const version = meta.get('version');
    if (version === undefined) {
      if (!opts.readOnly) meta.putSync('version', STORE_VERSION);
    } else if (version !== STORE_VERSION) {
      throw new BatchError(
        `The store at ${dir} has format version ${JSON.stringify(version)}; this batchfile reads version ${STORE_VERSION}. ${RECOVER}`,
        3,
      );
    }
    const store: Store = {
      root,
      meta,
      stat: statTable(root),
      snap: snapshotTable(root),
      // JSON, not msgpack: records vary in shape (maps keyed by file path), where msgpackr's
      // record structures cost more to define than JSON costs to parse.
      state: root.openDB<StepState, string>({ name: 'state', encoding: 'json' }),
      runs: root.openDB<RunRecord, string>({ name: 'runs', encoding: 'json' }),
      results: root.openDB<StepResult, [string, string]>({ name: 'results', encoding: 'json' }),
      code: root.openDB<CodeEntry, string>({ name: 'code', encoding: 'json' }),
      close: () => root.close(),
    };
    return store;
  } catch (e) {
    void root.close();
    if (e instanceof BatchError) throw e;
    throw new BatchError(`The store at ${dir} is unreadable (${(e as Error).message}). ${RECOVER}`, 3);
  }
}
