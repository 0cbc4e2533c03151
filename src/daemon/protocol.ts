// The daemon's wire format: one JSON object per line over a Unix socket in the project's
// .cache/. Kept free of engine imports: the client loads this on every `batch` start.
import path from 'node:path';

/** Client → daemon. */
export type Request =
  | {
      t: 'run';
      argv: string[];
      cwd: string;
      env: Record<string, string>;
      engine: string;
      /** The client's terminal: progress and colours follow it, not the daemon's log file. */
      tty: { out: boolean; err: boolean; columns?: number };
    }
  | { t: 'interrupt' }
  | { t: 'ping' }
  | { t: 'stop' };

/** Daemon → client. */
export type Reply =
  /** The daemon serves this run: from here on the client must not run it itself. */
  | { t: 'accept' }
  | { t: 'out'; d: string }
  | { t: 'err'; d: string }
  | { t: 'exit'; code: number }
  /** Not served here: the client runs the command itself (and prints `note`, if any). */
  | { t: 'decline'; why: string; note?: string }
  | { t: 'pong'; pid: number; root: string; engine: string; startedAt: number; served: number };

export function socketPath(root: string): string {
  return path.join(root, '.cache', 'daemon.sock');
}

export function infoPath(root: string): string {
  return path.join(root, '.cache', 'daemon.json');
}

export function logPath(root: string): string {
  return path.join(root, '.cache', 'daemon.log');
}

/** Unix socket paths are limited to 107 bytes: connect and listen by a path relative to the
 * current folder when the absolute one is too long. */
export function shortSocketPath(abs: string): string {
  if (Buffer.byteLength(abs) < 100) return abs;
  const rel = path.relative(process.cwd(), abs);
  return Buffer.byteLength(rel) < Buffer.byteLength(abs) ? rel : abs;
}

/** Variables set per invocation that say nothing about what a step would see: a shell's own,
 * and hyperfine's padding of the environment (a random-length value on every run). */
const PER_SHELL = new Set(['_', 'OLDPWD', 'PWD', 'SHLVL', 'HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET']);

/** The first variable whose value differs between two environments (ignoring PER_SHELL), or
 * undefined when they agree. Steps run with the daemon's environment, so it serves only
 * clients whose environment is the same. */
export function envDifference(a: NodeJS.ProcessEnv, b: NodeJS.ProcessEnv): string | undefined {
  for (const k of Object.keys(a)) if (!PER_SHELL.has(k) && a[k] !== b[k]) return k;
  for (const k of Object.keys(b)) if (!PER_SHELL.has(k) && !(k in a)) return k;
  return undefined;
}

/** Splits a byte stream into lines of JSON. */
export class LineReader<T> {
  private buf = '';
  constructor(private readonly onMessage: (m: T) => void) {}
  push(chunk: string): void {
    this.buf += chunk;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line !== '') this.onMessage(JSON.parse(line) as T);
      nl = this.buf.indexOf('\n');
    }
  }
}

export function encode(m: Request | Reply): string {
  return `${JSON.stringify(m)}\n`;
}
