/** Bits a tracker keeps per path. */
export const SEEN = 1;
export const GONE = 2;
export const VETTED = 4;

/**
 * Marks on project-relative paths, one small integer per path in one Map (its value a bit set:
 * SEEN, GONE, VETTED). Three Sets of the same paths cost three hash-table entries per path; a
 * Map whose values are small integers (never boxed) costs one. A path whose bits all clear is
 * dropped, so the map holds only paths something is known of. Iteration follows first marking
 * (the order runs first asked for the paths), as a Set's did.
 */
export class PathMarks {
  private readonly bits = new Map<string, number>();
  /** How many paths have each bit (index: the bit's position), so counts need no walk. */
  private readonly counts = [0, 0, 0];

  has(rel: string, bit: number): boolean {
    return ((this.bits.get(rel) ?? 0) & bit) !== 0;
  }

  /** Sets one bit. */
  set(rel: string, bit: number): void {
    const old = this.bits.get(rel) ?? 0;
    if (old & bit) return;
    this.counts[Math.log2(bit)]!++;
    this.bits.set(rel, old | bit);
  }

  /** Clears one bit. */
  clear(rel: string, bit: number): void {
    const old = this.bits.get(rel);
    if (old === undefined || (old & bit) === 0) return;
    this.counts[Math.log2(bit)]!--;
    const now = old & ~bit;
    if (now === 0) this.bits.delete(rel);
    else this.bits.set(rel, now);
  }

  /** Clears `bit` on every path (dropping those left with none). */
  clearAll(bit: number): void {
    this.counts[Math.log2(bit)] = 0;
    for (const [rel, b] of this.bits) {
      if ((b & bit) === 0) continue;
      const now = b & ~bit;
      if (now === 0) this.bits.delete(rel);
      else this.bits.set(rel, now);
    }
  }

  /** Clears `bit` on every path `where` says yes to. */
  clearWhere(bit: number, where: (rel: string) => boolean): void {
    for (const [rel, b] of this.bits) if (b & bit && where(rel)) this.clear(rel, bit);
  }

  /** Paths in first-marked order, with their bits (deleting the current one while walking is safe). */
  entries(): IterableIterator<[string, number]> {
    return this.bits.entries();
  }

  /** How many paths have `bit` (one bit). */
  count(bit: number): number {
    return this.counts[Math.log2(bit)]!;
  }

  get size(): number {
    return this.bits.size;
  }

  reset(): void {
    this.bits.clear();
    this.counts.fill(0);
  }
}
