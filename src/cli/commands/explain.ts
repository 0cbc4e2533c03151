import { explainRun, type Explained } from '../../app/explain.js';
import { resolveProject } from '../../app/project.js';
import { orphanLines } from '../../plan/orphans.js';
import { clean, type Style } from '../../report/style.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { runSettings } from '../run-settings.js';

/** `batch explain STEP...` and `batch --dry-run`: the plan and every reason, executing nothing.
 * A step downstream of one that will run is "pending": it is decided against the bytes its
 * upstream writes, so it may still turn out up to date (early cutoff). */
export async function explainCommand(args: Args, io: Io): Promise<number> {
  if (args.command === 'explain' && !args.dryRun && args.positionals.length === 0) {
    throw new BatchError('batch explain needs at least one step name (or use `batch --dry-run` for every step)', 2);
  }
  const { steps: out, orphans, remoteWarning, about } = await explainRun(resolveProject(args), runSettings(args));
  if (args.json) {
    io.out.write(`${JSON.stringify({ steps: out, ...(orphans.length > 0 ? { orphans } : {}), ...(remoteWarning ? { remoteWarning } : {}) }, null, 2)}\n`);
    return 0;
  }
  if (remoteWarning) io.say(io.style.yellow(`warning: ${remoteWarning}`));
  for (const l of orphanLines(orphans, true)) io.say(io.style.yellow(clean(l)));
  const w = Math.min(40, Math.max(...out.map((o) => o.name.length)));
  for (const o of out) {
    io.say(`${TAGS[o.decision](io.style)}  ${clean(o.name).padEnd(w)}  ${o.reasons[0] ? clean(o.reasons[0]) : ''}`);
    for (const r of o.reasons.slice(1)) io.say(`${' '.repeat(12 + w)}  ${clean(r)}`);
    const description = about.get(o.name);
    if (description) io.say(io.style.dim(`${' '.repeat(12 + w)}  (${clean(description.replace(/\s+/g, ' ').trim())})`));
  }
  const n = out.filter((o) => o.decision !== 'up-to-date').length;
  io.say(io.style.dim(`${n} of ${out.length} step(s) would run or be re-checked; nothing was executed`));
  return 0;
}

const TAGS: Record<Explained['decision'], (s: Style) => string> = {
  run: (s) => s.yellow('run       '),
  restore: (s) => s.yellow('restore   '),
  blocked: (s) => s.red('blocked   '),
  pending: (s) => s.dim('pending   '),
  'up-to-date': (s) => s.green('up-to-date'),
};
