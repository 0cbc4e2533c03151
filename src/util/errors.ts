/** An expected failure with a message for the user; the CLI turns it into an exit code. */
export class BatchError extends Error {
  constructor(
    message: string,
    /** 2: usage or Batchfile error; 1: a run failure; 3: store or environment problem. */
    readonly exitCode: number = 2,
  ) {
    super(message);
    this.name = 'BatchError';
  }
}

export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });
