import { resolveProject } from '../../app/project.js';
import { Session } from '../../app/session.js';
import type { Io } from '../../report/io.js';
import { showRun } from '../../report/show-run.js';
import { mark } from '../../util/timing.js';
import type { Args } from '../args.js';
import { runSettings } from '../run-settings.js';

/** `batch [STEP...]`: one incremental run. Returns the exit code. */
export async function runCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const settings = runSettings(args);
  const session = await Session.open(resolveProject(args), settings, signal);
  try {
    return await showRun(session, { targets: settings.targets, force: settings.force }, { io, json: args.json }, signal);
  } finally {
    await session.close();
    mark('closed');
  }
}
