import fs from 'node:fs';

/** LMDB's meta-page layout (liblmdb mdb.c as vendored by lmdb-js): a 24-byte page header
 * whose flags (u16 at 18) carry P_META, then MDB_meta: magic (u32), version (u32), address,
 * map size, two MDB_db records of 48 bytes (free pages at meta+24, whose first u32 holds the
 * page size; the main database at meta+72; each one's root page is its last u64, at +40),
 * the last used page (u64 at meta+120), the txn id (u64 at meta+128). */
const PAGE_HEADER = 24;
const P_META = 0x08;
const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;

interface Meta {
  psize: number;
  txnid: bigint;
  /** Root pages of the free-page and main databases (P_INVALID when empty). */
  roots: { free: bigint; main: bigint };
}

/** LMDB's "no page" (an empty database's root). */
const P_INVALID = 0xffffffffffffffffn;

function readMeta(buf: Buffer, at: number): Meta | string {
  if (buf.length < at + PAGE_HEADER + 136) return 'too short';
  if ((buf.readUInt16LE(at + 18) & P_META) === 0) return 'no meta page';
  const m = at + PAGE_HEADER;
  if (buf.readUInt32LE(m) !== MAGIC) return 'bad magic';
  if ((buf.readUInt32LE(m + 4) & 0xffff) !== DATA_VERSION) return `data version ${buf.readUInt32LE(m + 4) & 0xffff}`;
  const psize = buf.readUInt32LE(m + 24);
  if (psize < 512 || psize > 65536 || (psize & (psize - 1)) !== 0) return `page size ${psize}`;
  return { psize, txnid: buf.readBigUInt64LE(m + 128), roots: { free: buf.readBigUInt64LE(m + 64), main: buf.readBigUInt64LE(m + 112) } };
}

/** Why an LMDB data file cannot be opened safely, or undefined when its header looks sound.
 * lmdb-js crashes the process (SIGSEGV in its error path, SIGBUS on a short file) instead of
 * throwing when the meta pages are damaged, so they are checked before `open`. A missing or
 * empty file is fine: LMDB creates a new store. Damage deeper in the file surfaces as an
 * MDB_* error when read. */
export function lmdbHeaderProblem(dataFile: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(dataFile, 'r');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : (e as Error).message;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return undefined;
    const head = Buffer.alloc(Math.min(size, 2 * 65536));
    fs.readSync(fd, head, 0, head.length, 0);
    const m0 = readMeta(head, 0);
    if (typeof m0 === 'string') return `first meta page: ${m0}`;
    const m1 = readMeta(head, m0.psize);
    if (typeof m1 === 'string') return `second meta page: ${m1}`;
    const newest = m1.txnid > m0.txnid ? m1 : m0;
    // Every read starts at the roots: a file cut short before them is refused. Not its "last
    // used page": LMDB does not write pages a transaction used and freed again (loose pages),
    // so a sound file can end before it (seen after `history --prune`).
    for (const [name, root] of Object.entries(newest.roots)) {
      if (root === P_INVALID) continue;
      const needed = (root + 1n) * BigInt(newest.psize);
      if (BigInt(size) < needed) return `the file is ${size} bytes, and the root of its ${name} database is at byte ${needed - BigInt(newest.psize)}`;
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
