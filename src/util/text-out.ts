/** Where text output goes: a terminal or pipe (process.stdout) or, for a run the daemon serves,
 * the client's socket. `isTTY` and `columns` describe the client's real terminal. */
export interface TextOut {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}
