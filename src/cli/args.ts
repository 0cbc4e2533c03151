import { BatchError } from '../util/errors.js';
import { closest } from '../util/suggest.js';
import { RESERVED_NAMES } from '../batchfile/validate.js';

/** The parsed command line: one field per flag in FLAGS (plus the positionals), so it is as
 * wide as the CLI. Only the CLI reads it; it maps the few fields a run needs to RunSettings
 * (app/settings.ts), which is what the engine takes. */
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
  /** `batch clean --cache`: drop the output and stat caches (not the outputs). */
  caches: boolean;
  /** --remote-cache URL, --remote-cache-team SLUG, --remote-cache-read-only (docs/remote-cache.md). */
  remoteCache?: string;
  remoteCacheTeam?: string;
  remoteCacheReadOnly: boolean;
  /** `batch metrics --diff [A B]`. */
  diff: boolean;
  /** --executor redis://…: send steps to workers through that Redis (docs/distributed.md). */
  executor?: string;
  /** `batch worker --redis URL`. */
  redis?: string;
  /** The queue's name (default: derived from the project folder). */
  queue?: string;
  /** --worker-files shared|cache: how files reach the workers (docs/distributed.md). */
  workerFiles?: string;
  /** `batch worker --workdir DIR`: where a worker of file mode `cache` makes its job folders. */
  workdir?: string;
}

/** One flag: its spellings, the Args field it sets, and its line of help. */
export interface Flag {
  /** Every spelling; a short one (`-j`) first. */
  names: readonly string[];
  key: keyof Args;
  /** The value it takes (`int`: a whole number ≥ 0) and its name in help; none: a switch. */
  value?: { kind: 'string' | 'int'; name: string };
  /** A switch that turns its field off (`--no-tests`). */
  off?: true;
  help: string;
}

/** Every flag of every command. Which command takes which: COMMANDS below. */
export const FLAGS: readonly Flag[] = [
  { names: ['-C', '--cwd'], key: 'cwd', value: { kind: 'string', name: 'DIR' }, help: 'project folder (default: the nearest folder at or above the current one with a Batchfile)' },
  { names: ['--file'], key: 'file', value: { kind: 'string', name: 'PATH' }, help: 'the Batchfile (default: Batchfile.ts, .mts, .js or .mjs in the project)' },
  { names: ['-f', '--force'], key: 'force', help: 'rerun every selected step (and the tests)' },
  { names: ['-n', '--dry-run'], key: 'dryRun', help: 'print the plan and the reason for each step; execute nothing' },
  { names: ['-j', '--jobs'], key: 'jobs', value: { kind: 'int', name: 'N' }, help: 'steps at once, also as -j4 (default: available parallelism)' },
  { names: ['-k', '--keep-going'], key: 'keepGoing', help: 'after a failure, keep starting steps that do not depend on it' },
  { names: ['--json'], key: 'json', help: 'the result as one JSON document on stdout (human output goes to stderr)' },
  { names: ['--csv'], key: 'csv', help: 'the result as CSV on stdout' },
  { names: ['--wait'], key: 'wait', help: 'wait for a running batch in this project instead of failing' },
  { names: ['--no-tests'], key: 'tests', off: true, help: 'skip the integrity test phase' },
  { names: ['--no-cache'], key: 'cache', off: true, help: 'neither restore from nor store into the output cache' },
  { names: ['--no-daemon'], key: 'daemon', off: true, help: 'run in this process even when the project has a daemon' },
  { names: ['--max-size'], key: 'maxSize', value: { kind: 'string', name: 'SIZE' }, help: 'output cache limit (e.g. 2GB; default: the Batchfile\'s cache.maxSize, 5GB)' },
  { names: ['-w', '--watch'], key: 'watch', help: 'run, then rerun what each change affects (docs/watch.md)' },
  { names: ['--poll'], key: 'poll', help: 'watch by polling (network file systems)' },
  { names: ['--debounce'], key: 'debounceMs', value: { kind: 'int', name: 'MS' }, help: 'watch: quiet time before a rerun (default 20)' },
  { names: ['--worker-memory'], key: 'workerMemoryMb', value: { kind: 'int', name: 'MB' }, help: 'heap limit of each worker thread; a step over it fails' },
  { names: ['--format'], key: 'format', value: { kind: 'string', name: 'FORMAT' }, help: 'mermaid (default), dot or text' },
  { names: ['--limit'], key: 'limit', value: { kind: 'int', name: 'N' }, help: 'how many runs to show or to look back over' },
  { names: ['--prune'], key: 'prune', help: 'remove old runs from the store (with --keep)' },
  { names: ['--keep'], key: 'keep', value: { kind: 'int', name: 'N' }, help: 'with --prune: how many of the newest runs to keep' },
  { names: ['--store'], key: 'store', help: 'clean: remove a damaged LMDB run store (--force: one that still opens)' },
  { names: ['--cache'], key: 'caches', help: 'clean: drop the output cache and the stat cache (outputs, fingerprints and history stay)' },
  { names: ['--diff'], key: 'diff', help: 'compare two runs (A B; default: previous latest): metrics, and the params that changed' },
  { names: ['--executor'], key: 'executor', value: { kind: 'string', name: 'URL' }, help: 'send steps to `batch worker`s through Redis (redis://[:PASSWORD@]HOST:PORT, rediss:// for TLS; docs/distributed.md)' },
  { names: ['--queue'], key: 'queue', value: { kind: 'string', name: 'NAME' }, help: 'the queue the coordinator and its workers share (default: from the project folder)' },
  { names: ['--worker-files'], key: 'workerFiles', value: { kind: 'string', name: 'MODE' }, help: 'how files reach the workers: shared (they see the project folder; default) or cache (through the remote cache server; docs/distributed.md)' },
  { names: ['--workdir'], key: 'workdir', value: { kind: 'string', name: 'DIR' }, help: 'worker: where file mode cache makes its job folders (default: .batch-work in the current folder)' },
  { names: ['--redis'], key: 'redis', value: { kind: 'string', name: 'URL' }, help: 'the Redis to take steps from' },
  { names: ['--remote-cache'], key: 'remoteCache', value: { kind: 'string', name: 'URL' }, help: 'shared remote cache (Turborepo API; token in BATCH_REMOTE_CACHE_TOKEN; docs/remote-cache.md)' },
  { names: ['--remote-cache-team'], key: 'remoteCacheTeam', value: { kind: 'string', name: 'SLUG' }, help: 'the remote cache\'s team (default: cache.remote.team, BATCH_REMOTE_CACHE_TEAM)' },
  { names: ['--remote-cache-read-only'], key: 'remoteCacheReadOnly', help: 'restore from the remote cache, upload nothing' },
  { names: ['-h', '--help'], key: 'help', help: 'this help' },
  { names: ['-V', '--version'], key: 'version', help: 'the version' },
];

/** One subcommand: its usage line, what it does, and the flags it takes (by their long name;
 * GLOBAL_FLAGS come on top of these). */
export interface CommandSpec {
  usage: string;
  summary: string;
  flags: readonly string[];
  /** More lines for `batch COMMAND --help`. */
  more?: string;
}

/** Flags every command takes. */
export const GLOBAL_FLAGS: readonly string[] = ['--cwd', '--help'];

const RUN_FLAGS = [
  '--file', '--force', '--dry-run', '--jobs', '--keep-going', '--json', '--wait', '--no-tests', '--no-cache', '--no-daemon',
  '--max-size', '--watch', '--poll', '--debounce', '--worker-memory', '--executor', '--queue', '--worker-files', '--version',
  '--remote-cache', '--remote-cache-team', '--remote-cache-read-only',
];

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  run: {
    usage: 'batch [run] [STEP...] [options]',
    summary: 'run the pipeline, or the named steps and the steps they need; then the integrity tests and the summary',
    flags: RUN_FLAGS,
  },
  watch: { usage: 'batch watch [STEP...] [options]', summary: 'the same as `batch --watch`: run, then rerun what each change affects', flags: RUN_FLAGS },
  explain: { usage: 'batch explain STEP... [options]', summary: 'why each step would run or is up to date, down to the file', flags: ['--file', '--force', '--json', '--no-cache', '--remote-cache', '--remote-cache-team'] },
  graph: { usage: 'batch graph [--format mermaid|dot|text]', summary: 'print the step graph', flags: ['--file', '--format'] },
  clean: {
    usage: 'batch clean [STEP...] [--cache | --store]',
    summary: 'remove the declared outputs of the named steps (all without names); --cache: drop the output and stat caches',
    flags: ['--file', '--cache', '--store', '--force', '--json', '--wait'],
  },
  init: {
    usage: 'batch init',
    summary: 'set up a new project in this folder (Batchfile.ts, steps/, tests/, run.sh, package.json scripts …); never overwrites a file',
    flags: [],
  },
  history: {
    usage: 'batch history [STEP] [options]',
    summary: 'the recorded runs, or one step\'s runs (docs/history-and-report.md)',
    flags: ['--limit', '--json', '--csv', '--prune', '--keep', '--wait'],
    more: 'batch history --prune --keep N   keep only the N newest runs',
  },
  trends: { usage: 'batch trends [options]', summary: 'steps that became slower or faster over the recent runs', flags: ['--limit', '--json', '--csv'] },
  compare: { usage: 'batch compare [A [B]] [options]', summary: 'two runs side by side (ids, latest, previous, or a git commit; default: previous latest)', flags: ['--json', '--csv'] },
  cache: {
    usage: 'batch cache [status|prune] [options]',
    summary: 'the output cache: what it holds, or prune it to its limit (docs/output-cache.md)',
    flags: ['--file', '--max-size', '--limit', '--json', '--wait', '--remote-cache', '--remote-cache-team'],
  },
  metrics: {
    usage: 'batch metrics [--diff [A B]] [options]',
    summary: 'the metrics steps recorded (`metrics:` in the Batchfile), their change and bounds; --diff: two runs\' metrics and changed params',
    flags: ['--diff', '--limit', '--json', '--csv'],
  },
  daemon: { usage: 'batch daemon [start|stop|restart|status]', summary: 'a resident process that serves this project\'s runs (docs/daemon.md)', flags: [] },
  worker: {
    usage: 'batch worker --redis URL [-j N] [--queue NAME] [--remote-cache URL --remote-cache-team SLUG [--workdir DIR]]',
    summary: 'run steps that `batch --executor URL` sends (docs/distributed.md)',
    flags: ['--redis', '--jobs', '--queue', '--remote-cache', '--remote-cache-team', '--workdir'],
  },
  help: { usage: 'batch help [COMMAND]', summary: 'this help, or one command\'s', flags: [] },
  version: { usage: 'batch version', summary: 'the version', flags: [] },
};

export const SUBCOMMANDS: readonly string[] = RESERVED_NAMES;

const BY_NAME = new Map<string, Flag>(FLAGS.flatMap((f) => f.names.map((n) => [n, f] as const)));

/** The long name a flag is listed under (`-j` → `--jobs`). */
function longName(f: Flag): string {
  return f.names[f.names.length - 1]!;
}

/** The flags `command` takes, global ones included; undefined: a command with no spec, which
 * takes every flag (a subcommand added without one; a test requires one for each). */
export function flagsOf(command: string): Flag[] | undefined {
  const spec = COMMANDS[command];
  if (!spec) return undefined;
  const longs = new Set([...spec.flags, ...GLOBAL_FLAGS]);
  return FLAGS.filter((f) => longs.has(longName(f)));
}

/** The commands other than `command` that take a flag. */
function commandsTaking(flag: Flag, except: string): string[] {
  return Object.entries(COMMANDS).filter(([name, c]) => name !== except && name !== 'watch' && c.flags.includes(longName(flag))).map(([name]) => name);
}

/** Parses argv. The rule that keeps step names and subcommands apart: the first word is a
 * subcommand if it is one of SUBCOMMANDS (which no step may be named); otherwise every word
 * is a step name. `batch run NAME...` is the explicit form. Each flag must be one the command
 * takes (COMMANDS); the error names the command and, when another command takes the flag, that one. */
export function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    command: 'run', positionals: [], force: false, dryRun: false, keepGoing: false, json: false, csv: false,
    wait: false, tests: true, watch: false, poll: false, prune: false, store: false, help: false, version: false, cache: true, daemon: true, diff: false, caches: false,
    remoteCacheReadOnly: false,
  };
  const words: string[] = [];
  // Flags as given, checked against the command once the command is known (it may come after them).
  const given: { name: string; flag?: Flag }[] = [];
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
    } else if (!raw.startsWith('--') && raw.length > 2 && BY_NAME.get(raw.slice(0, 2))?.value) {
      name = raw.slice(0, 2);
      attached = raw.slice(2);
    }
    const flag = BY_NAME.get(name);
    given.push({ name, ...(flag ? { flag } : {}) });
    if (!flag) continue; // reported below, with the command's flags to suggest from
    if (!flag.value) {
      if (attached !== undefined) throw new BatchError(`Option ${name} takes no value`, 2);
      (a as unknown as Record<string, unknown>)[flag.key] = !flag.off;
      continue;
    }
    const value = attached ?? argv[++i];
    if (value === undefined) throw new BatchError(`Option ${name} needs a value`, 2);
    if (flag.value.kind === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new BatchError(`Option ${name} needs a whole number, got ${JSON.stringify(value)}`, 2);
      (a as unknown as Record<string, unknown>)[flag.key] = n;
    } else {
      (a as unknown as Record<string, unknown>)[flag.key] = value;
    }
  }
  const first = words[0];
  if (first !== undefined && !onlyPositionals && SUBCOMMANDS.includes(first)) {
    a.command = first === 'watch' ? 'run' : first;
    if (first === 'watch') a.watch = true;
    a.positionals = words.slice(1);
  } else {
    a.positionals = words;
  }
  checkFlags(first !== undefined && !onlyPositionals && SUBCOMMANDS.includes(first) ? first : 'run', given);
  if (a.jobs === 0) throw new BatchError('-j needs at least 1', 2);
  return a;
}

/** Every flag given must be one `command` takes. */
function checkFlags(command: string, given: readonly { name: string; flag?: Flag }[]): void {
  const own = flagsOf(command);
  const shown = command === 'watch' ? 'watch' : command;
  const helpHint = command === 'run' ? '`batch --help`' : `\`batch ${shown} --help\``;
  for (const g of given) {
    if (g.flag && (!own || own.includes(g.flag))) continue;
    const candidates = (own ?? FLAGS).flatMap((f) => f.names.filter((n) => n.startsWith('--')));
    // A typo: the nearest spelling. A real flag of another command: only one of this command's
    // that it is the start of, or that starts it (`--keep` → `--keep-going`), not any near one.
    const near = g.flag ? candidates.find((c) => c.startsWith(g.name) || g.name.startsWith(c)) : closest(g.name, candidates);
    const hint = near ? ` (did you mean "${near}"?)` : '';
    if (!g.flag) throw new BatchError(`Unknown option ${g.name}${command === 'run' ? '' : ` for \`batch ${shown}\``}${hint}. See ${helpHint}.`, 2);
    const others = commandsTaking(g.flag, command);
    const whose = others.length > 0 ? `${g.name} is a flag of ${others.map((c) => `\`${c}\``).join(', ')}, not of \`${shown}\`` : `\`batch ${shown}\` takes no ${g.name}`;
    throw new BatchError(`${whose}${hint}. See ${helpHint}.`, 2);
  }
}

/** Help lines for flags, aligned. */
function flagLines(flags: readonly Flag[]): string {
  const left = flags.map((f) => {
    const short = f.names.length > 1 ? `${f.names[0]}, ` : '    ';
    return `  ${short}${longName(f)}${f.value ? ` ${f.value.name}` : ''}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return flags.map((f, i) => `${left[i]!.padEnd(width)}${f.help}`).join('\n');
}

const EXIT_CODES = `Exit codes: 0 all passed; 1 a step or test failed; 2 usage or Batchfile error;
3 store or file-system problem; 130 interrupted.`;

/** `batch --help` (no command) or `batch COMMAND --help`. */
export function helpFor(command?: string): string {
  if (command === undefined || command === 'help') {
    const usages = Object.entries(COMMANDS).filter(([n]) => n !== 'run');
    const width = Math.max(...usages.map(([, c]) => c.usage.length)) + 2;
    return `batch — incremental runner for production batch pipelines

Usage:
  ${COMMANDS.run!.usage}
      ${COMMANDS.run!.summary}
${usages.map(([, c]) => `  ${c.usage.padEnd(width)}${c.summary}`).join('\n')}

Rule: the first word is a subcommand when it is one of
  ${SUBCOMMANDS.join(', ')}
(no step may take one of these names); otherwise every word is a step name.
Use \`batch run NAME\` or \`batch -- NAME\` to be explicit.
Without -C, batch works in the nearest folder at or above this one that has a Batchfile.

Options of \`batch [run]\` (each command's own: \`batch COMMAND --help\`):
${flagLines(flagsOf('run')!)}

${EXIT_CODES}`;
  }
  const spec = COMMANDS[command];
  if (!spec) return helpFor();
  return `${spec.usage}
  ${spec.summary}${spec.more ? `\n  ${spec.more}` : ''}

Options:
${flagLines(flagsOf(command)!)}

${EXIT_CODES}`;
}
