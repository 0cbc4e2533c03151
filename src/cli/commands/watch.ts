import { resolveProject } from '../../app/project.js';
import { Session } from '../../app/session.js';
import { WatchLoop } from '../../watch/watch-loop.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { runSettings } from '../run-settings.js';

/** Quiet time after the last change before a rerun: long enough to gather one save (editors
 * write several events per save) or a `git checkout`, short enough to feel immediate. */
export const DEFAULT_DEBOUNCE_MS = 20;

/** `batch --watch [STEP...]` (or `batch watch`): runs, then reruns what each change affects,
 * until Ctrl-C (exit 130). One Session for the whole time: the lock is held, the worker pool
 * stays warm. See docs/watch.md. */
export async function watchCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const session = await Session.open(resolveProject(args), runSettings(args), signal);
  try {
    const loop = new WatchLoop(
      session,
      io,
      {
        targets: args.positionals,
        force: args.force,
        debounceMs: args.debounceMs ?? DEFAULT_DEBOUNCE_MS,
        poll: args.poll,
        json: args.json,
        tests: args.tests,
      },
      signal,
    );
    return await loop.run();
  } finally {
    await session.close();
  }
}
