import type { Io } from '../cli/io.js';
import type { Project } from '../cli/project.js';
import type { RunOutput } from '../run/pipeline.js';
import type { Store } from '../store/store.js';
import { formatSummary, summaryJson } from './summary.js';

/** Everything shown or written once a run ended: the terminal summary and --json. */
export async function afterRun(out: RunOutput, ctx: { project: Project; store: Store; io: Io; json: boolean }): Promise<void> {
  const { record, results } = out;
  if (ctx.json) ctx.io.out.write(`${JSON.stringify(summaryJson(record, results), null, 2)}\n`);
  ctx.io.say('');
  ctx.io.say(formatSummary(record, results, ctx.io.style, { maxSteps: 50 }));
}
