import { BatchError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import { RESERVED_NAMES } from '../batchfile/validate.js';

export interface Args {
  command: string;
  positionals: string[];
  cwd?: string;
  file?: string;
  force: boolean;
  dryRun: boolean;
  jobs?: number;
  keepGoing: boolean;
  json: boolean;
  csv: boolean;
  wait: boolean;
  tests: boolean;
  watch: boolean;
  poll: boolean;
  debounceMs?: number;
  format?: string;
  workerMemoryMb?: number;
  limit?: number;
  keep?: number;
  prune: boolean;
  store: boolean;
  help: boolean;
  version: boolean;
  maxSize?: string;
  /** False with --no-cache: the output cache is neither read nor written. */
  cache: boolean;
  /** False with --no-daemon: run in this process even when the project has a daemon. */
  daemon: boolean;
  /** --executor redis://…: send steps to workers through that Redis (docs/distributed.md). */
  executor?: string;
  /** `batch worker --redis URL`. */
  redis?: string;
  /** The queue's name (default: derived from the project folder). */
  queue?: string;
}

/** Flags and whether they take a value. */
const FLAGS: Record<string, { key: keyof Args; value?: 'string' | 'int' }> = {
  '-C': { key: 'cwd', value: 'string' },
  '--cwd': { key: 'cwd', value: 'string' },
  '--file': { key: 'file', value: 'string' },
  '-f': { key: 'force' },
  '--force': { key: 'force' },
  '-n': { key: 'dryRun' },
  '--dry-run': { key: 'dryRun' },
  '-j': { key: 'jobs', value: 'int' },
  '--jobs': { key: 'jobs', value: 'int' },
  '-k': { key: 'keepGoing' },
  '--keep-going': { key: 'keepGoing' },
  '--json': { key: 'json' },
  '--csv': { key: 'csv' },
  '--wait': { key: 'wait' },
  '--no-tests': { key: 'tests' },
  '-w': { key: 'watch' },
  '--watch': { key: 'watch' },
  '--poll': { key: 'poll' },
  '--debounce': { key: 'debounceMs', value: 'int' },
  '--format': { key: 'format', value: 'string' },
  '--worker-memory': { key: 'workerMemoryMb', value: 'int' },
  '--limit': { key: 'limit', value: 'int' },
  '--keep': { key: 'keep', value: 'int' },
  '--prune': { key: 'prune' },
  '--store': { key: 'store' },
  '--max-size': { key: 'maxSize', value: 'string' },
  '--no-cache': { key: 'cache' },
  '--no-daemon': { key: 'daemon' },
  '--executor': { key: 'executor', value: 'string' },
  '--redis': { key: 'redis', value: 'string' },
  '--queue': { key: 'queue', value: 'string' },
  '-h': { key: 'help' },
  '--help': { key: 'help' },
  '-V': { key: 'version' },
  '--version': { key: 'version' },
};

export const SUBCOMMANDS: readonly string[] = RESERVED_NAMES;

/** Parses argv. The rule that keeps step names and subcommands apart: the first word is a
 * subcommand if it is one of SUBCOMMANDS (which no step may be named); otherwise every word
 * is a step name. `batch run NAME...` is the explicit form. */
export function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    command: 'run', positionals: [], force: false, dryRun: false, keepGoing: false, json: false, csv: false,
    wait: false, tests: true, watch: false, poll: false, prune: false, store: false, help: false, version: false, cache: true, daemon: true,
  };
  const words: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    if (onlyPositionals || !raw.startsWith('-') || raw === '-') {
      words.push(raw);
      continue;
    }
    if (raw === '--') {
      onlyPositionals = true;
      continue;
    }
    // A value comes attached as `--name=value`, or right after a short option (`-j4`, as make takes it).
    let name = raw;
    let attached: string | undefined;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    if (eq > 0) {
      name = raw.slice(0, eq);
      attached = raw.slice(eq + 1);
    } else if (!raw.startsWith('--') && raw.length > 2 && FLAGS[raw.slice(0, 2)]?.value) {
      name = raw.slice(0, 2);
      attached = raw.slice(2);
    }
    const spec = FLAGS[name];
    if (!spec) throw new BatchError(`Unknown option ${name}${didYouMean(name, Object.keys(FLAGS))}. See \`batch --help\`.`, 2);
    if (!spec.value) {
      if (attached !== undefined) throw new BatchError(`Option ${name} takes no value`, 2);
      (a as unknown as Record<string, unknown>)[spec.key] = spec.key === 'tests' || spec.key === 'cache' || spec.key === 'daemon' ? false : true;
      continue;
    }
    const value = attached ?? argv[++i];
    if (value === undefined) throw new BatchError(`Option ${name} needs a value`, 2);
    if (spec.value === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new BatchError(`Option ${name} needs a whole number, got ${JSON.stringify(value)}`, 2);
      (a as unknown as Record<string, unknown>)[spec.key] = n;
    } else {
      (a as unknown as Record<string, unknown>)[spec.key] = value;
    }
  }
  if (a.jobs === 0) throw new BatchError('-j needs at least 1', 2);
  const first = words[0];
  if (first !== undefined && !onlyPositionals && SUBCOMMANDS.includes(first)) {
    a.command = first === 'watch' ? 'run' : first;
    if (first === 'watch') a.watch = true;
    a.positionals = words.slice(1);
  } else {
    a.positionals = words;
  }
  return a;
}

export const HELP = `batch — incremental runner for production batch pipelines

Usage:
  batch [STEP...] [options]        run the pipeline (or the named steps and what they need)
  batch run [STEP...]              the same, explicitly
  batch explain STEP...            why each step would run or is up to date, down to the file
  batch graph [--format mermaid|dot|text]   print the step graph
  batch clean [--store]            remove .cache/ build state (--store: the run store only)
  batch init                       write a starter Batchfile.ts
  batch cache [status|prune] [--max-size SIZE]   the output cache (docs/output-cache.md)
  batch history | trends | compare   see docs/cli.md
  batch daemon start|stop|restart|status   a resident process that serves runs (docs/daemon.md)
  batch worker --redis URL [-j N] [--queue NAME]   run steps sent by \`batch --executor URL\` (docs/distributed.md)

Rule: the first word is a subcommand when it is one of
  ${SUBCOMMANDS.join(', ')}
(no step may take one of these names); otherwise every word is a step name.
Use \`batch run NAME\` or \`batch -- NAME\` to be explicit.

Options:
  -C, --cwd DIR        project folder (default: current folder)
      --file PATH      Batchfile to use (default: Batchfile.ts in the project)
  -f, --force          rerun every selected step
  -n, --dry-run        print the plan and the reason for each step; execute nothing
  -j, --jobs N         steps at once (default: available parallelism)
  -k, --keep-going     after a failure, keep starting steps that do not depend on it
      --json           print the run summary as one JSON document on stdout
      --wait           wait for another running batch instead of failing
      --no-tests       skip the integrity test phase
      --no-cache       neither restore from nor store into the output cache
      --no-daemon      run in this process even when the project has a daemon
      --executor URL   send steps to \`batch worker\`s through Redis (redis://[:PASSWORD@]HOST:PORT, rediss:// for TLS)
      --queue NAME     the queue the coordinator and its workers share (default: from the project folder)
      --max-size SIZE  output cache limit for this run (e.g. 2GB; default: Batchfile cache.maxSize, 5GB)
  -w, --watch          run, then rerun what each change affects
      --poll           watch by polling (network file systems)
      --debounce MS    watch: quiet time before a rerun (default 20)
      --worker-memory MB   heap limit of each worker thread
  -h, --help           this help
  -V, --version        the version

Exit codes: 0 all passed; 1 a step or test failed; 2 usage or Batchfile error;
3 store or file-system problem; 130 interrupted.`;
