/** Keeps a step's full check (hashing its inputs for its key) close to the moment it can
 * execute. Every step found ready is checked in turn; without a bound, a first build of 1,000
 * independent steps hashed all 10,000 inputs on the main thread in one stretch while only the
 * first `-j` steps ran, so one core sat idle for that stretch. Here at most `limit` steps may
 * be checked and waiting for a slot at once: a step enters before its check and leaves when it
 * holds its slot or needs none (up to date, restored, blocked, failed), and the next step in
 * line is checked then, while the others execute. */
export class CheckGate {
  private inside = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Resolves when the caller may check; gives the one `leave` of that entry (calling it
   * again does nothing, so every path can call it). */
  async enter(): Promise<() => void> {
    if (this.inside < this.limit) this.inside++;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.handOn();
    };
  }

  /** The place a leaving step held goes to the first waiter (who then counts as inside). */
  private handOn(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.inside--;
  }
}
