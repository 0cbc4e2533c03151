import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compiledBatchfile, impurity } from '../../batchfile/load.js';
import { askToStop, pingDaemon, serveDaemon } from '../../daemon/server.js';
import { waitForStartUnderWay } from '../../daemon/auto-start.js';
import { lockHolderAlive } from '../../store/lock.js';
import { launchDaemon } from '../../daemon/launch.js';
import { logPath } from '../../daemon/protocol.js';
import { ENGINE_BIN, engineStamp } from '../../util/engine.js';
import { BatchError } from '../../util/errors.js';
import { formatMs } from '../../util/duration.js';
import type { Args } from '../args.js';
import { readServedRun } from '../run-settings.js';
import type { Io } from '../../report/io.js';
import { resolveProject, type Project } from '../../app/project.js';

/** A daemon stops itself after this long without a run (BATCH_DAEMON_IDLE_MINUTES). */
const DEFAULT_IDLE_MINUTES = 180;

function idleMs(): number {
  const v = process.env.BATCH_DAEMON_IDLE_MINUTES;
  if (v === undefined || v === '') return DEFAULT_IDLE_MINUTES * 60_000;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new BatchError(`BATCH_DAEMON_IDLE_MINUTES must be a positive number of minutes, got ${JSON.stringify(v)}`, 2);
  return n * 60_000;
}

/** `batch daemon start|stop|restart|status|serve`: the project's resident process
 * (docs/daemon.md). */
export async function daemonCommand(args: Args, io: Io): Promise<number> {
  const action = args.positionals[0] ?? 'status';
  if (args.positionals.length > 1) throw new BatchError(`\`batch daemon\` takes one action (start, stop, restart, status, serve), got ${args.positionals.join(' ')}`, 2);
  // Checks that this is a project (has a Batchfile) before starting anything for it.
  const project = resolveProject(args);
  const root = project.root;
  // A daemon a run is starting right now is waited for: it is the one these act on. Not by
  // `serve`, which is that daemon.
  if (action !== 'serve') await waitForStartUnderWay(root);
  switch (action) {
    case 'status': {
      const p = await pingDaemon(root);
      if (!p) {
        io.say('no batch daemon for this project');
        return 1;
      }
      io.say(`batch daemon running: pid ${p.pid}, up ${formatMs(Date.now() - p.startedAt)}, ${p.served} run${p.served === 1 ? '' : 's'} served${p.engine === engineStamp() ? '' : ' (an older build: `batch daemon restart`)'}`);
      return 0;
    }
    case 'start':
      idleMs(); // a bad value fails here, not in the detached process
      return start(project, io);
    case 'stop':
      return stop(root, io);
    case 'restart':
      idleMs();
      await stop(root, io);
      return start(project, io);
    case 'serve': {
      // The foreground form (`start` runs this detached, with its output in .cache/daemon.log).
      await serveDaemon({
        root,
        idleMs: idleMs(),
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
        readRun: readServedRun,
        onReady: () => {
          if (process.send) {
            process.send('ready');
            process.disconnect();
          }
        },
      });
      return 0;
    }
    default:
      throw new BatchError(`Unknown daemon action "${action}"; use start, stop, restart, status or serve`, 2);
  }
}

async function start(project: Project, io: Io): Promise<number> {
  const root = project.root;
  const running = await pingDaemon(root);
  if (running && running.engine === engineStamp()) {
    io.say(`batch daemon already running (pid ${running.pid})`);
    return 0;
  }
  if (running) await askToStop(root);
  let child: ChildProcess;
  try {
    child = launchDaemon(root, ENGINE_BIN, { ipc: true });
  } catch (e) {
    throw new BatchError(`Cannot start the batch daemon: ${(e as Error).message}`, 3);
  }
  // Ready when it says so over IPC; if it exits first, its log says why.
  const ready = await new Promise<boolean>((resolve) => {
    child.once('message', () => resolve(true));
    child.once('exit', () => resolve(false));
    child.once('error', () => resolve(false));
  });
  if (!ready) {
    const tail = fs.readFileSync(logPath(root), 'utf8').trim().split('\n').slice(-5).join('\n');
    throw new BatchError(`The batch daemon did not start:\n${tail}`, 3);
  }
  child.disconnect?.();
  child.unref();
  io.say(`batch daemon started (pid ${child.pid}); \`batch\` in this project now runs through it. Stop it with \`batch daemon stop\`.`);
  await warnIfImpure(project, io);
  return 0;
}

/** Said at start rather than found out run by run: a Batchfile the daemon will not keep. */
async function warnIfImpure(project: Project, io: Io): Promise<void> {
  try {
    const { out } = await compiledBatchfile(project.root, project.file, project.cacheDir);
    const why = impurity(fs.readFileSync(out, 'utf8'));
    if (why) io.say(io.style.yellow(`warning: ${path.relative(project.root, project.file)} may define other steps each time it is loaded (${why}): runs will load it afresh without the daemon (docs/daemon.md).`));
  } catch {
    // A Batchfile that does not compile is reported by the runs themselves.
  }
}

async function stop(root: string, io: Io): Promise<number> {
  const running = await pingDaemon(root);
  if (!running) {
    io.say('no batch daemon for this project');
    return 0;
  }
  await askToStop(root);
  // Stopped means gone: the daemon's last work (its store closed, its code caches written)
  // would otherwise run beside whatever the caller does next, as the next build.
  await waitGone(running.pid, 10_000);
  io.say(`batch daemon stopped (pid ${running.pid})`);
  return 0;
}

/** Waits (at most `timeoutMs`) until process `pid` has exited (a zombie counts as exited). */
async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (lockHolderAlive(pid, Date.now()) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}
