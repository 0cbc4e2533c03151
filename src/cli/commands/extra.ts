import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../io.js';

/** Subcommands that are reserved but not built yet say so plainly. */
export async function extraCommand(args: Args, _io: Io, _signal: AbortSignal): Promise<number> {
  throw new BatchError(`\`batch ${args.command}\` is not available in this version yet`, 2);
}
