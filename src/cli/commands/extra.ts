import fs from 'node:fs';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../io.js';

type Command = (args: Args, io: Io, signal: AbortSignal) => Promise<number>;

/** Query and maintenance subcommands (history, trends, compare, cache) live in their own
 * modules, named after the subcommand and loaded only when asked for: the run path never
 * pays for them. Each module's default export is the command. */
export async function extraCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const url = new URL(`./${args.command}.js`, import.meta.url);
  if (!fs.existsSync(url)) throw new BatchError(`\`batch ${args.command}\` is not available in this version`, 2);
  const mod = (await import(url.href)) as { default: Command };
  return mod.default(args, io, signal);
}
