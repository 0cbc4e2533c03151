// Seeded PRNG for the bootstrap: the same seed gives the same resamples on every
// machine and in every worker, so outputs are byte-identical run to run.

/** 32-bit FNV-1a of a string: turns (seed, airport) into a per-airport seed. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 step, used only to expand one 32-bit seed into xoshiro's 128-bit state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Initial state of xoshiro128** (Blackman & Vigna) for a 32-bit seed. The
 * generator itself is inlined in the bootstrap's inner loop: with the state in
 * local variables it runs about 3× faster than as a method on an object.
 */
export function xoshiro128Seed(seed: number): [number, number, number, number] {
  const st = { s: seed | 0 };
  const s: [number, number, number, number] = [splitmix32(st) | 0, splitmix32(st) | 0, splitmix32(st) | 0, splitmix32(st) | 0];
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[3] = 1; // the all-zero state is a fixed point
  return s;
}
