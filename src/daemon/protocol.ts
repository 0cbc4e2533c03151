// The daemon's wire format: one JSON object per line over a Unix socket in the project's
// .cache/. Kept free of engine imports: the client loads this on every `batch` start.
import fs from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from '../util/project-layout.js';

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

/** The daemon's own folder, `.cache/daemon/`: mode 0700, so only its owner can reach the socket
 * in it (whatever the umask; server.ts makes it so before listening, docs/daemon.md). */
export function daemonDir(root: string): string {
  return path.join(root, STATE_DIR, 'daemon');
}

export function socketPath(root: string): string {
  return path.join(daemonDir(root), 'daemon.sock');
}

export function infoPath(root: string): string {
  return path.join(daemonDir(root), 'daemon.json');
}

export function logPath(root: string): string {
  return path.join(daemonDir(root), 'daemon.log');
}

/** Whether `st` (an lstat) is a folder only this process's user can enter: a folder (not a
 * link), owned by us, no access for group or others. The client connects only through such a
 * folder, so it never hands its environment to another user's daemon. */
export function isPrivateDir(st: { isDirectory(): boolean; uid: number; mode: number } | undefined): boolean {
  return st !== undefined && st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0;
}

/** Makes `dir` a folder only this user can enter (mode 0700, whatever the umask). A folder
 * there that is not ours (made by another user who could write to .cache) or a link is
 * refused: a socket inside it would be theirs to reach. */
export function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new Error(`${dir} is ${st.isDirectory() ? `a folder of another user (uid ${st.uid})` : 'not a folder'}: the daemon keeps its socket only in a folder of its own. Remove it and start again.`);
  }
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

/** Unix socket paths are limited to 107 bytes: connect and listen by a path relative to the
 * current folder when the absolute one is too long. */
export function shortSocketPath(abs: string): string {
  if (Buffer.byteLength(abs) < 100) return abs;
  const rel = path.relative(process.cwd(), abs);
  return Buffer.byteLength(rel) < Buffer.byteLength(abs) ? rel : abs;
}

/** Variables the engine itself reads in the daemon's process, or that act on the whole
 * process (Node's options, its time zone, its thread pool), where one client's value cannot be
 * given to its run alone: a client whose value differs runs the command itself. Every other
 * variable reaches only the client's own steps (command steps get the client's
 * environment, `run` steps' worker threads get it for their task). The daemon's own variables
 * (BATCH_DAEMON*) and those batch sets for steps (BATCH_RUN_ID, BATCH_ROOT, BATCH_STEP) are left
 * out. */
export function isProcessSetting(name: string): boolean {
  if (name.startsWith('BATCH_')) return !name.startsWith('BATCH_DAEMON') && name !== 'BATCH_RUN_ID' && name !== 'BATCH_ROOT' && name !== 'BATCH_STEP';
  return PROCESS_SETTINGS.has(name);
}
const PROCESS_SETTINGS = new Set(['NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'UV_THREADPOOL_SIZE', 'TZ']);

/** The first process setting (isProcessSetting) whose value differs between two
 * environments, or undefined when they agree on all of them. */
export function settingDifference(a: NodeJS.ProcessEnv, b: NodeJS.ProcessEnv): string | undefined {
  for (const k of Object.keys(a)) if (isProcessSetting(k) && a[k] !== b[k]) return k;
  for (const k of Object.keys(b)) if (isProcessSetting(k) && !(k in a)) return k;
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
