import fs from 'node:fs';
import path from 'node:path';
import { BatchError } from '../util/errors.js';
import { projectRoot } from '../util/project-root.js';
import { engineVersion, setEngineStamp } from '../util/engine.js';
import { helpFor, parseArgs, type Args } from './args.js';
import { makeIo } from '../report/io.js';
import { reportFailure } from '../report/failure.js';
import { mark, timingReport } from '../util/timing.js';
import { STATE_DIR } from '../util/project-layout.js';
import { startStatPrefetch } from '../fingerprint/stat-prefetch.js';

/** Commands that need no project: they never search for one. */
const NO_PROJECT = new Set(['init', 'help', 'version']);

/** Finds the project and enters it. `-C DIR` works like make's and git's: batch runs in DIR,
 * so `run` steps (worker threads share the process's cwd) see the project root as their cwd,
 * as command steps do. Without -C (and --file), like git, the project is the nearest folder
 * at or above the current one with a Batchfile, said in one line when it is not this one. */
function enterProject(args: Args, note: (line: string) => void): Args {
  if (args.cwd === undefined && (args.help || args.version || NO_PROJECT.has(args.command))) return args;
  const here = process.cwd();
  const found = projectRoot(here, args.cwd, args.file);
  if (found.how === 'none') return args; // the command says there is no Batchfile here or above
  if (found.how === 'found' && found.root === here) return { ...args, cwd: here };
  if (found.how === 'found') note(`batch: using ${found.file}`);
  try {
    // `batch init -C new-folder` makes the folder.
    if (args.command === 'init') fs.mkdirSync(found.root, { recursive: true });
    process.chdir(found.root);
  } catch (e) {
    throw new BatchError(`Cannot use ${found.root} as the project folder: ${(e as Error).message}`, 2);
  }
  return { ...args, cwd: found.root };
}

/** lmdb-js keeps promises of its own with no handler attached (one per write batch, and the
 * `commitError` promise behind them, which carries a `reject` function); when a commit fails
 * (a full disk) they reject, and Node would crash with a stack trace. The same failure
 * reaches the writes batch awaits (the recorder turns it into exit 3), so these are
 * dropped; any other unhandled rejection still crashes as usual. */
function ignoreLmdbCommitRejections(reason: unknown, promise: Promise<unknown>): void {
  if (reason instanceof Error && 'commitError' in reason) return;
  if (typeof (promise as Promise<unknown> & { reject?: unknown }).reject === 'function') return;
  throw reason;
}

/** The CLI edge: parses, dispatches, and turns expected failures into exit codes. `codeCache`:
 * how bin/batch.js compiled the bundle (cli/cached-load.ts), shown with BATCH_TIMING. */
export async function main(argv: readonly string[], engine?: string, codeCache?: string): Promise<number> {
  mark(codeCache === undefined ? 'cli loaded' : `cli loaded (code cache ${codeCache})`);
  if (engine !== undefined) setEngineStamp(engine);
  // Set once the commands are loaded: before that no step can be running.
  let killSteps = (): void => {};
  if (!process.listeners('unhandledRejection').includes(ignoreLmdbCommitRejections)) process.on('unhandledRejection', ignoreLmdbCommitRejections);
  let io = makeIo(false);
  const ac = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts === 1) {
      io.human.write(`\n${sig === 'SIGINT' ? 'Interrupted' : `Got ${sig}`}: stopping running steps…\n`);
      ac.abort(new Error('interrupted'));
    } else {
      killSteps();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const args = enterProject(parseArgs(argv), (line) => process.stderr.write(`${line}\n`));
    io = makeIo(args.json || args.csv);
    if (args.help || args.command === 'help') {
      const topic = args.command === 'help' ? args.positionals[0] : args.command === 'run' ? undefined : args.command;
      io.say(helpFor(args.watch && args.command === 'run' ? 'watch' : topic));
      return 0;
    }
    if (args.version || args.command === 'version') {
      io.say(engineVersion());
      return 0;
    }
    // The commands load only now: --version, --help and usage errors never pay for them.
    if (args.watch && args.command === 'run' && !args.dryRun) {
      const [{ watchCommand }, { killAllCommandSteps }] = await Promise.all([import('./commands/watch.js'), import('../executors/process-executor.js')]);
      killSteps = killAllCommandSteps;
      mark('watch loaded');
      return await watchCommand(args, io, ac.signal);
    }
    // A plain run may be a no-op its record proves: the stats it needs are taken on the other
    // core while the commands load (plan/noop-record.ts).
    if (args.command === 'run' && !args.dryRun && !args.force && args.cwd !== undefined) startStatPrefetch(args.cwd, path.join(args.cwd, STATE_DIR));
    const { COMMANDS, killAllCommandSteps } = await import('./commands/index.js');
    killSteps = killAllCommandSteps;
    mark('commands loaded');
    if (args.dryRun && args.command === 'run') return await COMMANDS.explain!({ ...args, command: 'explain' }, io, ac.signal);
    const cmd = COMMANDS[args.command];
    if (!cmd) throw new BatchError(`\`batch ${args.command}\` is not available in this version`, 2);
    const code = await cmd(args, io, ac.signal);
    return ac.signal.aborted ? 130 : code;
  } catch (e) {
    return reportFailure(e, process.stderr);
  } finally {
    mark('done');
    process.stderr.write(timingReport());
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
