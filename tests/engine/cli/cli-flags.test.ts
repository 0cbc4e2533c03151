// Per-command flags: `batch COMMAND --help` lists exactly the flags the parser accepts for that
// command, docs/cli.md lists the same, and a flag of another command is an error naming both.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, FLAGS, GLOBAL_FLAGS, SUBCOMMANDS, flagsOf, helpFor, parseArgs, type Flag } from '../../../src/cli/args.js';
import { BatchError } from '../../../src/util/errors.js';
import { batchIn, REPO } from '../rig.js';

const longOf = (f: Flag): string => f.names[f.names.length - 1]!;
const byName = new Map(FLAGS.flatMap((f) => f.names.map((n) => [n, f] as const)));

/** The long names of the flags named in `text` (every `-x` / `--xyz` token); a token that is no flag fails. */
function flagsIn(text: string, where: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?<![\w-])(--?[a-zA-Z][\w-]*)/g)) {
    const f = byName.get(m[1]!);
    if (!f) throw new Error(`${where} names ${m[1]}, which is no flag of batch`);
    out.push(longOf(f));
  }
  return out;
}

/** The argv that gives `flag` to `command` (with a value when it takes one). */
function argvWith(command: string, flag: Flag): string[] {
  const value = flag.value ? [flag.value.kind === 'int' ? '3' : flag.key === 'format' ? 'text' : 'x'] : [];
  return [...(command === 'run' ? [] : [command]), longOf(flag), ...value];
}

function usageError(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof BatchError && e.exitCode === 2) return e.message;
    throw e;
  }
  throw new Error(`batch ${argv.join(' ')} was accepted`);
}

/** Per command, the flags docs/cli.md lists for it: a `### ` section names its commands
 * (`batch NAME`) and has a table whose first column is either the flag or the command. */
function docsFlags(): { global: Set<string>; perCommand: Map<string, Set<string>> } {
  const md = fs.readFileSync(path.join(REPO, 'docs/cli.md'), 'utf8');
  const sections = md.split(/^### /m).slice(1).map((s) => s.split(/^## /m)[0]!);
  const perCommand = new Map<string, Set<string>>();
  const global = new Set<string>();
  for (const sec of sections) {
    const heading = sec.split('\n')[0]!;
    const isGlobal = heading.trim() === 'Every command';
    const commands = [...heading.matchAll(/`batch \[?([a-z]+)/g)].map((m) => m[1]!);
    if (!isGlobal && commands.length === 0) throw new Error(`docs/cli.md: section "${heading}" names no command`);
    for (const c of commands) if (!perCommand.has(c)) perCommand.set(c, new Set());
    const rows = sec.split('\n').filter((l) => l.startsWith('|') && !/^\|[-| ]+\|$/.test(l));
    const header = rows.shift();
    if (header === undefined) continue; // a section without a table: no flags of its own
    const cells = (row: string): string[] => row.split('|').slice(1, -1).map((c) => c.trim());
    const byCommand = cells(header)[0] === 'command';
    for (const row of rows) {
      const [first = '', second = ''] = cells(row);
      if (isGlobal) for (const f of flagsIn(first, heading)) global.add(f);
      else if (byCommand) for (const f of flagsIn(second, `${heading} / ${first}`)) perCommand.get(first.replace(/`/g, ''))!.add(f);
      else for (const c of commands) for (const f of flagsIn(first, heading)) perCommand.get(c)!.add(f);
    }
  }
  return { global, perCommand };
}

describe('per-command flags', () => {
  it('every subcommand has a spec, and every flag belongs to a command', () => {
    expect(Object.keys(COMMANDS).sort()).toEqual([...SUBCOMMANDS].sort());
    const taken = new Set([...GLOBAL_FLAGS, ...Object.values(COMMANDS).flatMap((c) => c.flags)]);
    expect([...taken].filter((f) => !byName.has(f))).toEqual([]);
    expect(FLAGS.map(longOf).filter((f) => !taken.has(f))).toEqual([]);
  });

  it('the parser accepts for each command exactly the flags its spec lists', () => {
    for (const command of Object.keys(COMMANDS)) {
      const own = new Set(flagsOf(command)!.map(longOf));
      for (const flag of FLAGS) {
        const argv = argvWith(command, flag);
        if (own.has(longOf(flag))) expect(() => parseArgs(argv), argv.join(' ')).not.toThrow();
        else expect(usageError(argv), argv.join(' ')).toMatch(new RegExp(`^(${longOf(flag)} is a flag of |\`batch ${command}\` takes no ${longOf(flag)})`));
      }
    }
  });

  it('`batch COMMAND --help` lists exactly the flags the parser accepts for it', () => {
    // `batch help` prints the general help, whose options are those of `batch [run]`.
    for (const command of Object.keys(COMMANDS).filter((c) => c !== 'help')) {
      const help = helpFor(command === 'run' ? undefined : command);
      const options = help.split(/^Options[^\n]*:\n/m)[1]!.split('\n\n')[0]!;
      const listed = options.split('\n').flatMap((l) => [...new Set(flagsIn(l.trim().split(/ {2,}/)[0]!, `help of ${command}`))]);
      expect(new Set(listed), command).toEqual(new Set(flagsOf(command)!.map(longOf)));
      expect(listed.length, `${command}: a flag listed twice`).toBe(new Set(listed).size);
    }
  });

  it('docs/cli.md lists the same flags for every command', () => {
    const docs = docsFlags();
    expect(docs.global).toEqual(new Set(GLOBAL_FLAGS));
    for (const command of Object.keys(COMMANDS)) {
      expect(docs.perCommand.get(command), `docs/cli.md has no section for batch ${command}`).toBeDefined();
      expect(docs.perCommand.get(command), command).toEqual(new Set(COMMANDS[command]!.flags));
    }
  });

  it('a flag of another command names that command; an unknown one gets a did-you-mean among the command\'s own', () => {
    expect(usageError(['--keep', '3'])).toBe('--keep is a flag of `history`, not of `run` (did you mean "--keep-going"?). See `batch --help`.');
    expect(usageError(['clean', '--keep', '3'])).toBe('--keep is a flag of `history`, not of `clean`. See `batch clean --help`.');
    expect(usageError(['graph', '--force'])).toBe('--force is a flag of `run`, `explain`, `clean`, not of `graph`. See `batch graph --help`.');
    expect(usageError(['history', '--kep', '3'])).toBe('Unknown option --kep for `batch history` (did you mean "--keep"?). See `batch history --help`.');
    expect(usageError(['--forse'])).toBe('Unknown option --forse (did you mean "--force"?). See `batch --help`.');
    expect(usageError(['init', '--forse'])).toBe('Unknown option --forse for `batch init`. See `batch init --help`.');
    expect(usageError(['trends', '--prune'])).toBe('--prune is a flag of `history`, not of `trends`. See `batch trends --help`.');
    expect(usageError(['explain', 'a', '--keep-gong'])).toBe('Unknown option --keep-gong for `batch explain`. See `batch explain --help`.');
    expect(usageError(['--keep-gong'])).toBe('Unknown option --keep-gong (did you mean "--keep-going"?). See `batch --help`.');
    // A flag may come before the command word; it is still checked against that command.
    expect(usageError(['--store', 'history'])).toBe('--store is a flag of `clean`, not of `history`. See `batch history --help`.');
    // watch takes the flags of run.
    expect(parseArgs(['watch', '--poll', '--debounce', '5'])).toMatchObject({ command: 'run', watch: true, poll: true, debounceMs: 5 });
  });

  it('the real batch prints a command\'s help outside any project, and rejects a flag of another command with exit 2', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-help-'));
    try {
      const h = await batchIn(dir, ['history', '--help']);
      expect(h.code, h.stderr).toBe(0);
      expect(h.stdout).toBe(`${helpFor('history')}\n`);
      expect(h.stdout).toContain('--keep N');
      expect(h.stdout).not.toContain('--force');
      const viaHelp = await batchIn(dir, ['help', 'graph']);
      expect(viaHelp.stdout).toBe(`${helpFor('graph')}\n`);
      const bad = await batchIn(dir, ['clean', '--keep', '2']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--keep is a flag of `history`, not of `clean`');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
