import path from 'node:path';
import type { RunSettings } from '../app/settings.js';
import type { ServedRun } from '../daemon/resident.js';
import { badRemoteUrl } from '../batchfile/remote-def.js';
import { BatchError } from '../util/errors.js';
import { parseArgs, type Args } from './args.js';

/** The run a command line asks for, in the engine's terms: the one place where the CLI's
 * argument bag becomes the app layer's narrow settings. */
export function runSettings(args: Args): RunSettings {
  // Checked before the run takes the project lock, whose file records the command line: a
  // URL with a credential in it must not be written there even for the length of a run.
  const why = args.remoteCache !== undefined ? badRemoteUrl(args.remoteCache) : undefined;
  if (why) throw new BatchError(`--remote-cache: ${why}`, 2);
  return {
    targets: args.positionals,
    force: args.force,
    keepGoing: args.keepGoing,
    tests: args.tests,
    cache: args.cache,
    wait: args.wait,
    remoteCache: {
      readOnly: args.remoteCacheReadOnly,
      ...(args.remoteCache !== undefined ? { url: args.remoteCache } : {}),
      ...(args.remoteCacheTeam !== undefined ? { team: args.remoteCacheTeam } : {}),
    },
    ...(args.maxSize !== undefined ? { maxSize: args.maxSize } : {}),
    ...(args.jobs !== undefined ? { jobs: args.jobs } : {}),
    ...(args.workerMemoryMb !== undefined ? { workerMemoryMb: args.workerMemoryMb } : {}),
    ...(args.executor !== undefined ? { executor: args.executor } : {}),
    ...(args.queue !== undefined ? { queue: args.queue } : {}),
    ...(args.workerFiles !== undefined ? { workerFiles: args.workerFiles } : {}),
  };
}

/** Reads a client's command line for the daemon (which sits below the CLI and is handed this
 * function): 'usage' when it does not parse (the client reports that itself), 'command' when
 * it asks for anything but a plain run. `cwd` is the client's folder. */
export function readServedRun(argv: readonly string[], cwd: string): ServedRun | 'usage' | 'command' {
  let args: Args;
  let settings: RunSettings;
  try {
    args = parseArgs(argv);
    settings = runSettings(args);
  } catch {
    return 'usage';
  }
  if (args.command !== 'run' || args.watch || args.dryRun || args.help || args.version) return 'command';
  return {
    settings,
    place: { cwd: path.resolve(cwd, args.cwd ?? '.'), ...(args.file !== undefined ? { file: args.file } : {}) },
    json: args.json,
    machine: args.json || args.csv,
  };
}
