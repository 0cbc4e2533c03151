// Starting the project's daemon without being asked (docs/daemon.md, "Started by itself"), the
// way Gradle's, Bazel's and Nx's daemons start: a run outside CI that finds no daemon starts one
// in the background and goes on directly; the runs after it are served. Loaded by the client on
// every `batch` start, so it imports nothing of the engine (child_process only when starting).
import fs from 'node:fs';
import path from 'node:path';
import { RESERVED_NAMES } from '../batchfile/names.js';
import { batchfileIn } from '../util/project-root.js';
import { daemonDir, makePrivateDir } from './protocol.js';

/** `off`: never use a daemon (`--no-daemon`, `BATCH_DAEMON=0`); `use`: use one that runs, never
 * start one (CI, `BATCH_DAEMON=manual`); `auto`: use one, and start one when there is none. */
export type DaemonMode = 'off' | 'use' | 'auto';

export function daemonMode(argv: readonly string[], env: NodeJS.ProcessEnv): DaemonMode {
  const v = env.BATCH_DAEMON;
  if (v === '0' || v === 'off' || argv.includes('--no-daemon')) return 'off';
  if (v === 'manual' || isCI(env)) return 'use';
  return 'auto';
}

/** CI services set CI (GitHub Actions, GitLab, CircleCI, Travis, Buildkite...: `true` or `1`). A
 * CI job is one run in a fresh machine: a daemon would only cost it a process. */
export function isCI(env: NodeJS.ProcessEnv): boolean {
  const v = env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** Options that take a value as the next word (cli/args.ts). */
const VALUE_OPTIONS = new Set(['-C', '--cwd', '--file', '-j', '--jobs', '--debounce', '--format', '--worker-memory', '--limit', '--keep', '--max-size', '--executor', '--queue', '--redis']);
/** Options the daemon never serves (cli/args.ts; resident.ts declines them). */
const NOT_SERVED = new Set(['-w', '--watch', '--poll', '-n', '--dry-run', '-h', '--help', '-V', '--version']);
const SUBCOMMANDS: ReadonlySet<string> = new Set(RESERVED_NAMES);

/** Whether a command line is a run the daemon would serve (`batch`, `batch STEP...`, `batch
 * run ...` with run options), read as cli/args.ts reads it: only those start a daemon, not
 * `batch history` or `batch clean`. */
export function isServedRun(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return true;
    if (NOT_SERVED.has(a)) return false;
    if (a.startsWith('-') && a !== '-') {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    return a === 'run' || !SUBCOMMANDS.has(a);
  }
  return true;
}

/** A start older than this that left its marker (it died before listening) is not waited for. */
const START_MARKER_STALE_MS = 30_000;

/** Starts the project's daemon in the background, unless `root` has no Batchfile (nothing is
 * written into a folder that is not a project) or another client is starting one now. Never
 * fails the run: a daemon that cannot start leaves its reason in its log, and runs go direct. */
export async function startInBackground(root: string, bin: string): Promise<void> {
  try {
    if (batchfileIn(root) === undefined) return;
    const { launchDaemon } = await import('./launch.js');
    makePrivateDir(daemonDir(root));
    // One start at a time: clients that start together (a script running batch in parallel)
    // would each start a daemon, and all but one would find the socket taken.
    if (!claim(startingMarker(root))) return;
    launchDaemon(root, bin, { ipc: false, env: { ...process.env, BATCH_DAEMON_AUTO: '1' } });
  } catch {
    // A read-only project, a full disk, no permission: the run goes direct, as without a daemon.
  }
}

/** The marker a client holds while the daemon it started comes up; the daemon removes it once
 * it listens (server.ts). */
export function startingMarker(root: string): string {
  return path.join(daemonDir(root), 'starting');
}

/** Waits (at most `timeoutMs`) while a start is under way (a marker not yet stale). The daemon
 * a short run started may still be coming up when the run ends: `batch daemon stop` (or status,
 * start) right after it must find that daemon, not miss it and leave it to come up a moment
 * later. */
export async function waitForStartUnderWay(root: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(startingMarker(root), { throwIfNoEntry: false });
    } catch {
      return; // not to be looked at (no permission): the command reports what it finds
    }
    if (!st || Date.now() - st.mtimeMs >= START_MARKER_STALE_MS || Date.now() >= until) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Creates `marker` if no start is under way (none, or one older than START_MARKER_STALE_MS).
 * The daemon removes it once it listens. */
function claim(marker: string): boolean {
  try {
    fs.writeFileSync(marker, String(process.pid), { flag: 'wx', mode: 0o600 });
    return true;
  } catch {
    const st = fs.statSync(marker, { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs < START_MARKER_STALE_MS) return false;
    fs.rmSync(marker, { force: true });
    try {
      fs.writeFileSync(marker, String(process.pid), { flag: 'wx', mode: 0o600 });
      return true;
    } catch {
      return false;
    }
  }
}
