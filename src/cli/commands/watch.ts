import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../io.js';

export async function watchCommand(_args: Args, _io: Io, _signal: AbortSignal): Promise<number> {
  throw new BatchError('`batch --watch` is not available in this version yet', 2);
}
