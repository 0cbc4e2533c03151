import { Progress } from '../../report/progress.js';
import { afterRun } from '../../report/after-run.js';
import { Session } from '../../run/session.js';
import type { Args } from '../args.js';
import type { Io } from '../io.js';
import { mark } from '../../util/timing.js';

export function exitCodeOf(status: string): number {
  return status === 'PASS' ? 0 : status === 'INTERRUPTED' ? 130 : 1;
}

/** `batch [STEP...]`: one incremental run. Returns the exit code. */
export async function runCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const session = await Session.open(args, signal);
  try {
    const loaded = await session.load();
    mark('batchfile loaded');
    const progress = new Progress(io.human, io.style, io.human.isTTY === true && !process.env.CI);
    const out = await session.runOnce(loaded, { targets: args.positionals, force: args.force }, (ev) => progress.on(ev), signal);
    mark('pipeline');
    await afterRun(out, { project: session.project, store: session.store, io, json: args.json });
    mark('summary + report');
    return exitCodeOf(out.record.status);
  } finally {
    await session.close();
    mark('closed');
  }
}
