import type { Database } from 'lmdb';
import type { Store } from '../../store/store.js';

/** One output file of a cache entry. */
export interface CachedFile {
  hash: string;
  size: number;
  /** Permission bits (so a restored script stays executable). */
  mode: number;
}

/** What the cache keeps for one step fingerprint: the files its step wrote, by content. */
export interface CacheEntry {
  step: string;
  /** Project-relative path → file. */
  files: Record<string, CachedFile>;
  /** Declared output folders that existed (possibly empty) when stored: recreated on restore. */
  dirs: string[];
  /** Sum of the file sizes (files with the same content count each time). */
  bytes: number;
  /** Run that produced the outputs. */
  runId: string;
  storedAt: number;
  /** Stored or restored last (the least recently used entry is evicted first). */
  lastUsed: number;
  hits: number;
}

/** LMDB database of the entry index, keyed by step fingerprint. Lives in the run store so
 * an entry and the state recorded from it share one file and one lock. */
export const ENTRY_DB = 'output-cache';
/** Key in the store's `meta` db: the size limit the last run used (read by `batch cache status`). */
export const LIMIT_META_KEY = 'outputCache.maxBytes';
/** Key in the store's `meta` db: the index's entry count and the sum of its entries' sizes
 * (a CacheBound), so that a run storing outputs need not read every entry to know that the
 * cache stays under its limit. */
export const BOUND_META_KEY = 'outputCache.bound';

/** How many entries the index holds and the sum of their `bytes`. Files shared by entries
 * count once per entry, so `bytes` is never less than what the blobs take: while it is under
 * the limit, the cache is. */
export interface CacheBound {
  entries: number;
  bytes: number;
}

export function isCacheBound(v: unknown): v is CacheBound {
  const b = v as CacheBound | null | undefined;
  return typeof b === 'object' && b !== null && Number.isSafeInteger(b.entries) && b.entries >= 0 && Number.isSafeInteger(b.bytes) && b.bytes >= 0;
}

export function openEntries(store: Store): Database<CacheEntry, string> {
  return store.root.openDB<CacheEntry, string>({ name: ENTRY_DB });
}

/** The index in memory: entries' use times and the blobs they share, for size and eviction. */
export class Tally {
  readonly entries = new Map<string, { lastUsed: number; hashes: string[]; bytes: number }>();
  /** Referenced blobs: size and how many entries refer to them. */
  readonly blobs = new Map<string, { size: number; refs: number }>();
  /** Bytes of the distinct blobs that entries refer to. */
  bytes = 0;
  /** Sum of the entries' own `bytes` (see CacheBound). */
  entryBytes = 0;

  static load(db: Database<CacheEntry, string>): Tally {
    const t = new Tally();
    for (const { key, value } of db.getRange()) t.add(key, value);
    return t;
  }

  add(key: string, e: CacheEntry): void {
    this.remove(key);
    const hashes = [...new Set(Object.values(e.files).map((f) => f.hash))];
    for (const f of Object.values(e.files)) {
      const b = this.blobs.get(f.hash);
      if (!b) {
        this.blobs.set(f.hash, { size: f.size, refs: 0 });
        this.bytes += f.size;
      }
    }
    for (const h of hashes) this.blobs.get(h)!.refs++;
    this.entries.set(key, { lastUsed: e.lastUsed, hashes, bytes: e.bytes });
    this.entryBytes += e.bytes;
  }

  /** Forgets an entry; returns the blobs no entry refers to any more. */
  remove(key: string): string[] {
    const e = this.entries.get(key);
    if (!e) return [];
    this.entries.delete(key);
    this.entryBytes -= e.bytes;
    const freed: string[] = [];
    for (const h of e.hashes) {
      const b = this.blobs.get(h)!;
      if (--b.refs === 0) {
        this.blobs.delete(h);
        this.bytes -= b.size;
        freed.push(h);
      }
    }
    return freed;
  }

  touch(key: string, at: number): void {
    const e = this.entries.get(key);
    if (e) e.lastUsed = at;
  }

  /** Bytes that storing these files would add (distinct contents not stored yet). */
  newBytes(files: Iterable<CachedFile>): number {
    const seen = new Set<string>();
    let n = 0;
    for (const f of files) {
      if (this.blobs.has(f.hash) || seen.has(f.hash)) continue;
      seen.add(f.hash);
      n += f.size;
    }
    return n;
  }

  /** Entries to drop, least recently used first, until the distinct bytes fit `maxBytes`.
   * `keep` is never chosen (the entry just stored). */
  victims(maxBytes: number, keep?: string): string[] {
    if (this.bytes <= maxBytes) return [];
    const order = [...this.entries.entries()]
      .filter(([k]) => k !== keep)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed || (a[0] < b[0] ? -1 : 1));
    // Simulate on counts only: an entry frees the blobs whose last reference it holds.
    const refs = new Map<string, number>();
    for (const [h, b] of this.blobs) refs.set(h, b.refs);
    let bytes = this.bytes;
    const out: string[] = [];
    for (const [key, e] of order) {
      if (bytes <= maxBytes) break;
      out.push(key);
      for (const h of e.hashes) {
        const r = refs.get(h)! - 1;
        refs.set(h, r);
        if (r === 0) bytes -= this.blobs.get(h)!.size;
      }
    }
    return out;
  }
}
