// Step 5b — bootstrap-merge: concatenates the shard results into build/delay_ci.csv
// and checks the shards covered every eligible origin exactly once, with the
// parameters the Batchfile asked for (a stale shard file cannot slip through).
import { readFile } from 'node:fs/promises';
import { defineStep } from 'batchfile';
import { CI_COLUMNS, assignShards, checkBootstrapParams, readDelayIndex } from './lib/bootstrap.js';
import type { BootstrapParams } from './lib/bootstrap.js';
import { inputMatching, inputsMatching, outputEndingWith, rel, writeFileAtomic } from './lib/io.js';

export default defineStep<BootstrapParams & { shards: number }>(async (ctx) => {
  const p = ctx.params;
  checkBootstrapParams(p);
  const index = await readDelayIndex(inputMatching(ctx, /origin_delays\.json$/, 'the delay index'));
  const shardFiles = inputsMatching(ctx, /shard-\d+-of-\d+\.csv$/, 'bootstrap shard results');
  if (shardFiles.length !== p.shards) throw new Error(`expected ${p.shards} shard files, got ${shardFiles.length}`);
  const outFile = outputEndingWith(ctx, 'delay_ci.csv');

  const expected = new Map(assignShards(index.origins, p.minFlights, p.shards).flat().map((o) => [o.origin, o.count]));
  const seen = new Map<string, string>();
  for (const file of shardFiles) {
    const m = /shard-(\d+)-of-(\d+)\.csv$/.exec(file);
    if (!m || Number(m[2]) !== p.shards) throw new Error(`${rel(ctx, file)} is not one of ${p.shards} shards`);
    const [header, ...lines] = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
    if (header !== CI_COLUMNS.join(',')) throw new Error(`${rel(ctx, file)}: header "${header}"`);
    for (const line of lines) {
      const f = line.split(',');
      const [origin, flights, , , , , resamples] = f;
      if (f.length !== CI_COLUMNS.length || origin === undefined) throw new Error(`${rel(ctx, file)}: bad line "${line}"`);
      if (seen.has(origin)) throw new Error(`origin ${origin} computed by two shards`);
      if (expected.get(origin) !== Number(flights)) throw new Error(`${rel(ctx, file)}: ${origin} has ${flights} flights, the delay index says ${expected.get(origin)}`);
      if (Number(resamples) !== p.resamples) throw new Error(`${rel(ctx, file)}: ${origin} used ${resamples} resamples, params say ${p.resamples}`);
      seen.set(origin, line);
    }
  }
  const missing = [...expected.keys()].filter((o) => !seen.has(o));
  if (missing.length > 0) throw new Error(`no bootstrap result for ${missing.join(', ')}`);

  const lines = [...seen].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, l]) => `${l}\n`);
  await writeFileAtomic(outFile, `${CI_COLUMNS.join(',')}\n${lines.join('')}`);
  ctx.log(`merged ${shardFiles.length} shards: ${lines.length} origins with >= ${p.minFlights} flights`);
});
