import fs from 'node:fs';
import xxhash from 'xxhash-wasm';

type Hasher = Awaited<ReturnType<typeof xxhash>>;
let hasher: Hasher | undefined;

/** Loads the xxhash WebAssembly module once; every other function here needs it first. */
export async function initHash(): Promise<void> {
  hasher ??= await xxhash();
}

function h(): Hasher {
  if (!hasher) throw new Error('initHash() was not awaited');
  return hasher;
}

const hex = (n: bigint): string => n.toString(16).padStart(16, '0');

export function hashString(text: string): string {
  return hex(h().h64Raw(Buffer.from(text, 'utf8')));
}

export function hashBytes(bytes: Uint8Array): string {
  return hex(h().h64Raw(bytes));
}

/** Files up to this size are read whole; bigger ones are streamed through a fixed buffer. */
const WHOLE_FILE_LIMIT = 8 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;
let chunkBuf: Buffer | undefined;

/** xxh64 of a file's content. Synchronous: the hot path hashes many small files, and
 * one read plus one hash beats the promise overhead of async reads. */
export function hashFileSync(absPath: string, size?: number): string {
  const known = size ?? fs.statSync(absPath).size;
  if (known <= WHOLE_FILE_LIMIT) return hashBytes(fs.readFileSync(absPath));
  const state = h().create64();
  chunkBuf ??= Buffer.allocUnsafe(CHUNK);
  const fd = fs.openSync(absPath, 'r');
  try {
    for (;;) {
      const n = fs.readSync(fd, chunkBuf, 0, CHUNK, null);
      if (n === 0) break;
      state.update(n === CHUNK ? chunkBuf : chunkBuf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hex(state.digest());
}
