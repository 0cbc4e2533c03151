// Starts a daemon process for a project: by `batch daemon start` (which waits until it listens)
// and by a client that found none (which does not wait: it runs the command itself meanwhile).
// Imports nothing of the engine: the client loads it.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { daemonDir, logPath, makePrivateDir } from './protocol.js';
import { DAEMON_NODE_FLAGS, daemonEnv } from './tuning.js';

/** `node DAEMON_NODE_FLAGS BIN daemon serve` in `root`, detached (its own session: a Ctrl-C in
 * this terminal does not reach it), output appended to `.cache/daemon/daemon.log`, with the
 * memory settings of tuning.ts. With `ipc`, it says 'ready' over the channel once it listens. */
export function launchDaemon(root: string, bin: string, opts: { ipc: boolean; env?: NodeJS.ProcessEnv }): ChildProcess {
  makePrivateDir(daemonDir(root));
  const log = fs.openSync(logPath(root), 'a', 0o600);
  try {
    // Loaded here, not at the top: the client bundles this file, and a served run or a CI run
    // never launches a daemon (node:child_process is ~3 ms of every start otherwise).
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, bin, 'daemon', 'serve'], {
      cwd: root,
      detached: true,
      env: daemonEnv(opts.env ?? process.env),
      stdio: opts.ipc ? ['ignore', log, log, 'ipc'] : ['ignore', log, log],
    });
    if (!opts.ipc) child.unref();
    return child;
  } finally {
    fs.closeSync(log);
  }
}
