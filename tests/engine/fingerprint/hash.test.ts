// Content hashes (src/fingerprint/hash.ts): XXH64 from our own WebAssembly module must give the
// same values as `xxhsum -H64` and xxhash-wasm (so stored stat entries, step keys and cache
// blob names made before stay valid), whatever path the bytes take: a string, a buffer, a
// file read in one piece or streamed in chunks, with or without a (right or stale) size hint.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import xxhash from 'xxhash-wasm';
import { HASH_CHUNK, hashBytes, hashFileAndStatSync, hashFileSync, hashString, initHash } from '../../../src/fingerprint/hash.js';

/** Deterministic pseudo-random bytes (xorshift32), the content behind the vectors below. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 255;
  }
  return b;
}

const C = 1024 * 1024;
/** `xxhsum -H64` (xxHash 0.8.1) of pattern(n), computed outside this code. */
const VECTORS: [number, string][] = [
  [0, 'ef46db3751d8e999'],
  [1, '0c15fd28bfce2c7a'],
  [3, '267a2b0d5d610b12'],
  [4, '59ac592b470b94b5'],
  [8, '700e97b48c10bdfc'],
  [31, '1f51f5799fa0395e'],
  [32, 'c569bbfa5bb5e615'],
  [33, '833e6357ab0dfed7'],
  [63, '77690d55aecc10a3'],
  [64, '90c49715cbde2dec'],
  [100, '0e5e4ce6cfb9e551'],
  [4096, 'c05c45e1fc149eb3'],
  [C - 1, 'b01a60a8639b9e15'],
  [C, '4ac89fdfae842375'],
  [C + 1, '75815650b41692ae'],
  [3 * C + 17, 'dda2ec70536049d6'],
];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-hash-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

describe('hash', () => {
  it('works before initHash() and without it (the module loads on first use)', async () => {
    vi.resetModules();
    const fresh = await import('../../../src/fingerprint/hash.js');
    expect(fresh.hashString('abc')).toBe('44bc2cf5ad770999');
    await initHash();
  });

  it('matches known XXH64 vectors for strings', () => {
    expect(hashString('')).toBe('ef46db3751d8e999');
    expect(hashString('abc')).toBe('44bc2cf5ad770999');
    expect(hashString('The quick brown fox jumps over the lazy dog')).toBe('0b242d361fda71bc');
    expect(hashString('héllo wörld ✓ 𝄞')).toBe('b21827158c9eced1');
  });

  it('chunks are stripe-aligned, as the streaming code assumes', () => {
    expect(HASH_CHUNK % 32).toBe(0);
    expect(HASH_CHUNK).toBe(C);
  });

  it.each(VECTORS)('pattern(%i) has the xxhsum value as bytes, as a file, and streamed', (n, want) => {
    const bytes = pattern(n);
    expect(hashBytes(bytes)).toBe(want);
    const p = file(`v${n}`, bytes);
    expect(hashFileSync(p, n)).toBe(want);
    expect(hashFileSync(p)).toBe(want);
  });

  it('equals xxhash-wasm for every length around the small-input and stripe boundaries', async () => {
    const ref = await xxhash();
    const data = pattern(700);
    for (let n = 0; n <= 700; n++) {
      const slice = data.subarray(0, n);
      const want = ref.h64Raw(slice).toString(16).padStart(16, '0');
      expect(hashBytes(slice)).toBe(want);
    }
    for (const s of ['', 'a', 'x'.repeat(31), 'y'.repeat(32), 'ünïcödé '.repeat(40), '\u{1F600}'.repeat(9)]) {
      expect(hashString(s)).toBe(ref.h64ToString(s));
    }
  });

  it('gives a file the same hash whatever the size hint says (files that changed after their stat)', () => {
    for (const n of [0, 1, 33, C - 1, C, C + 1, 2 * C + 31, 5 * C + 7]) {
      const bytes = pattern(n);
      const want = hashBytes(bytes);
      const p = file(`s${n}`, bytes);
      for (const hint of [undefined, n, 0, Math.max(0, n - 1), n + 1, n + C, 10 * C]) {
        expect(hashFileSync(p, hint), `size ${n}, hint ${hint}`).toBe(want);
      }
    }
  });

  it('hashes big buffers and long strings in chunks with the same result as one piece', async () => {
    const ref = await xxhash();
    const big = pattern(2 * C + 5);
    expect(hashBytes(big)).toBe(ref.h64Raw(big).toString(16).padStart(16, '0'));
    // Longer than HASH_CHUNK / 3 UTF-16 units: encoded outside the module's buffer first.
    const long = 'ab\u00e9\u2713'.repeat(C / 8) + '\ud800'; // a lone surrogate encodes as U+FFFD
    expect(hashString(long)).toBe(hashBytes(Buffer.from(long, 'utf8')));
    expect(hashString(long)).toBe(ref.h64Raw(Buffer.from(long, 'utf8')).toString(16).padStart(16, '0'));
    const short = 'x\ud800y';
    expect(hashString(short)).toBe(hashBytes(Buffer.from(short, 'utf8')));
  });

  it('is stable across calls mixing files, buffers and strings (no state leaks between hashes)', () => {
    const p = file('mix', pattern(C + 100));
    const a = hashFileSync(p);
    const s = hashString('abc');
    const b = hashBytes(pattern(40));
    expect(hashFileSync(p, C + 100)).toBe(a);
    expect(hashString('abc')).toBe(s);
    expect(hashBytes(pattern(40))).toBe(b);
  });

  it('hashFileAndStatSync gives the same hash and the stat of the file it read', () => {
    for (const n of [0, 5, C + 3]) {
      const p = file(`st${n}`, pattern(n));
      const { hash, after } = hashFileAndStatSync(p, n);
      expect(hash).toBe(hashBytes(pattern(n)));
      const st = fs.statSync(p);
      expect([after.size, after.mtimeMs, after.ctimeMs, after.ino]).toEqual([st.size, st.mtimeMs, st.ctimeMs, st.ino]);
    }
  });

  it('throws for a missing file', () => {
    expect(() => hashFileSync(path.join(dir, 'nope'))).toThrow(/ENOENT/);
    expect(() => hashFileAndStatSync(path.join(dir, 'nope'))).toThrow(/ENOENT/);
  });
});
