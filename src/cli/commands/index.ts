// Every subcommand but `watch`, in one module that main.ts imports once it knows a command
// must run (never for --version, --help or a usage error). Static imports on purpose: the
// build bundles this module with everything it reaches into few files, and each file Node
// loads costs ~1 ms (measured: ~30 ms more for the run path split into ~20 chunks than
// bundled into one). `watch` stays separate because it loads chokidar.
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import cacheCommand from './cache.js';
import { cleanCommand } from './clean.js';
import { daemonCommand } from './daemon.js';
import compareCommand from './compare.js';
import { explainCommand } from './explain.js';
import { graphCommand } from './graph.js';
import historyCommand from './history.js';
import { initCommand } from './init.js';
import metricsCommand from './metrics.js';
import { runCommand } from './run.js';
import trendsCommand from './trends.js';
import { workerCommand } from './worker.js';

// For main.ts's second Ctrl-C; from here so that --version does not load the executor.
export { killAllCommandSteps } from '../../executors/process-executor.js';

export type Command = (args: Args, io: Io, signal: AbortSignal) => Promise<number>;

export const COMMANDS: Record<string, Command> = {
  run: runCommand,
  explain: explainCommand,
  graph: graphCommand,
  clean: cleanCommand,
  init: initCommand,
  history: historyCommand,
  trends: trendsCommand,
  compare: compareCommand,
  cache: cacheCommand,
  daemon: daemonCommand,
  metrics: metricsCommand,
  worker: workerCommand,
};
