import { Progress } from '../../report/progress.js';
import { afterRun } from '../../report/after-run.js';
import { Session } from '../../run/session.js';
import type { StatCache } from '../../fingerprint/stat-cache.js';
import type { CompiledBatchfile } from '../../batchfile/load.js';
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
    return await runInSession(session, args, io, signal);
  } finally {
    await session.close();
    mark('closed');
  }
}

/** One run in an open session: the CLI's own, or one the daemon serves (with the flags that
 * record that, and the file knowledge it keeps between runs). */
export async function runInSession(session: Session, args: Args, io: Io, signal: AbortSignal, extra: { flags?: string[]; stats?: StatCache; compiled?: CompiledBatchfile; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const { compiled, ...request } = extra;
  const loaded = await session.load(compiled);
  mark('batchfile loaded');
  const progress = new Progress(io.human, io.style, io.human.isTTY === true && !(extra.env ?? process.env).CI);
  const out = await session.runOnce(loaded, { targets: args.positionals, force: args.force, ...request }, (ev) => progress.on(ev), signal);
  mark('pipeline');
  await afterRun(out, { project: session.project, store: session.store, io, json: args.json });
  mark('summary + report');
  return exitCodeOf(out.record.status);
}
