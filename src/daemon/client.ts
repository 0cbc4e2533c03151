// The `batch` client side of the daemon: when the project has a daemon, hand it the command
// line and relay its output; otherwise (no socket, or the daemon declines) the caller runs
// the command itself. Loaded on every start, so it imports nothing of the engine.
import fs from 'node:fs';
import { daemonMode, isServedRun, startInBackground } from './auto-start.js';
import { projectFlags, projectRoot } from '../util/project-root.js';
import { daemonDir, encode, isPrivateDir, LineReader, shortSocketPath, socketPath, type Reply, type Request } from './protocol.js';

/** The daemon's socket when there is one this user may use: in a folder only this user can
 * enter (isPrivateDir; another user's daemon would be handed this environment), and a socket.
 * Anything else, including a path that cannot be looked at (`.cache` a file: ENOTDIR), means no
 * daemon; the CLI then reports any problem itself. */
function ownSocket(root: string): string | undefined {
  try {
    if (!isPrivateDir(fs.lstatSync(daemonDir(root), { throwIfNoEntry: false }))) return undefined;
    const sock = socketPath(root);
    return fs.statSync(sock, { throwIfNoEntry: false })?.isSocket() === true ? sock : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the command through the project's daemon. Resolves to its exit code, or undefined
 * when no daemon serves it (the caller then runs it in this process). Outside CI, when the
 * project has no daemon (or one that died), starts one in the background for the runs after
 * this one (auto-start.ts); this run goes direct meanwhile, so it is no slower. */
export async function viaDaemon(argv: readonly string[], engine: string, bin: string): Promise<number | undefined> {
  const mode = daemonMode(argv, process.env);
  if (mode === 'off') return undefined;
  // The project as the CLI finds it (cli/main.ts): -C, else the nearest folder with a Batchfile.
  const flags = projectFlags(argv);
  const here = process.cwd();
  const found = projectRoot(here, flags.cwd, flags.file);
  const root = found.root;
  const sock = ownSocket(root);
  // Found above the current folder: the daemon is asked to run in the project folder, as the
  // CLI enters it, and the client says which Batchfile, as the CLI does.
  const above = found.how === 'found' && root !== here ? found.file : undefined;
  const served = sock === undefined ? 'unreachable' : await relay(sock, argv, engine, above ? root : here, above);
  if (served === 'unreachable' && mode === 'auto' && isServedRun(argv)) await startInBackground(root, bin);
  return served === 'unreachable' || served === 'declined' ? undefined : served;
}

/** Hands the command line to the daemon at `sock` and relays its output: its exit code,
 * 'declined' (it does not serve this one), or 'unreachable' (nobody listens: a daemon that
 * died, or is stopping). */
function relay(sock: string, argv: readonly string[], engine: string, cwd: string, usingNote?: string): Promise<number | 'declined' | 'unreachable'> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const req: Request = {
    t: 'run',
    argv: [...argv],
    cwd,
    env,
    engine,
    tty: { out: process.stdout.isTTY === true, err: process.stderr.isTTY === true, ...(process.stdout.columns ? { columns: process.stdout.columns } : {}) },
  };
  return new Promise((resolve) => {
    let settled = false;
    let started = false;
    const done = (code: number | 'declined' | 'unreachable'): void => {
      if (settled) return;
      settled = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      socket.destroy();
      resolve(code);
    };
    // node:net only here: a run with no daemon to ask (CI, --no-daemon, no socket) never loads it.
    const socket = process.getBuiltinModule('node:net').connect(shortSocketPath(sock));
    // Ctrl-C reaches this process only (the daemon's steps are not in this terminal's process
    // group): pass it on; the daemon stops the run as batch itself would (a second one kills
    // the steps), and says when. A third leaves at once, should the daemon not answer.
    let signals = 0;
    const onSignal = (): void => {
      signals++;
      if (!started || signals >= 3) {
        if (started) process.stderr.write('batch: not waiting for the daemon any longer\n');
        done(130);
      } else socket.write(encode({ t: 'interrupt' }));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const reader = new LineReader<Reply>((m) => {
      if (m.t === 'accept') {
        started = true;
        if (usingNote) process.stderr.write(`batch: using ${usingNote}\n`);
      }
      else if (m.t === 'out') process.stdout.write(m.d);
      else if (m.t === 'err') process.stderr.write(m.d);
      else if (m.t === 'exit') done(m.code);
      else if (m.t === 'decline') {
        if (m.note) process.stderr.write(`${m.note}\n`);
        // A daemon stopping, or of another build (it stops now): as if there were none.
        done(m.why === 'stopping' || m.why === 'engine' ? 'unreachable' : 'declined');
      }
    });
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(encode(req)));
    socket.on('data', (d: string) => reader.push(d));
    socket.on('error', () => {
      // A socket left by a daemon that is gone (killed): run here. Once the daemon has begun
      // the run, running it again here could do the work twice; report the loss instead.
      if (!started) done('unreachable');
      else {
        process.stderr.write('error: lost the connection to the batch daemon during the run\n');
        done(3);
      }
    });
    socket.on('close', () => {
      if (settled) return;
      if (!started) done('declined');
      else {
        process.stderr.write('error: the batch daemon closed the connection before the run ended\n');
        done(3);
      }
    });
  });
}

// bin/batch.js has this module before the CLI: the daemon resets its V8 flags through it.
export { settleDaemonFlags } from './tuning.js';
