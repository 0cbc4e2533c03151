// The graph of a cached config, cached beside it (src/app/graph-cache.ts): what comes back is
// what building the graph gives, for the config id it was stored under and no other; a damaged
// file is built again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cachedGraph, graphCachePath } from '../../../src/app/graph-cache.js';
import type { PipelineConfig, StepConfig } from '../../../src/batchfile/config.js';
import { initHash } from '../../../src/fingerprint/hash.js';
import { buildGraph } from '../../../src/graph/graph.js';

let tmp: string | undefined;
beforeAll(() => initHash());
afterEach(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

const step = (name: string, inputs: string[], outputs: string[], dependsOn: string[] = []): StepConfig => ({ name, kind: 'command', spec: { command: ['true'] }, inputs, outputs, dependsOn, params: {}, env: [], retries: 0, cache: true });

function config(root: string, steps: StepConfig[]): PipelineConfig {
  return { root, file: path.join(root, 'Batchfile.ts'), steps: new Map(steps.map((s) => [s.name, s])), cache: { enabled: true, maxBytes: 1 } };
}

/** A fresh copy of a config, as each run deserializes its own. */
const copy = (c: PipelineConfig): PipelineConfig => v8.deserialize(v8.serialize(c)) as PipelineConfig;

describe('graph cache', () => {
  it('gives back the graph built for the same config id, and builds another for another id', () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-cache-'));
    const cacheDir = path.join(tmp, '.cache');
    const a = config(tmp, [step('c', ['out/b.txt', 'src/*.txt'], ['out/c.txt']), step('a', ['src/x.txt'], ['out/a.txt']), step('b', ['out/a.txt'], ['out/b.txt'], ['a'])]);
    const built = buildGraph(copy(a));
    const first = cachedGraph(copy(a), cacheDir, 'id-a');
    expect(fs.existsSync(graphCachePath(cacheDir))).toBe(true);
    const again = cachedGraph(copy(a), cacheDir, 'id-a');
    for (const g of [first, again]) {
      expect(g.order).toEqual(built.order);
      expect(g.deps).toEqual(built.deps);
      expect(g.dependents).toEqual(built.dependents);
      expect(g.edgeReason).toEqual(built.edgeReason);
    }
    expect(again.order).toEqual(['a', 'b', 'c']);
    // Another config under another id: its own graph, not the stored one.
    const b = config(tmp, [step('x', [], ['out/x.txt']), step('y', ['out/x.txt'], ['out/y.txt'])]);
    expect(cachedGraph(copy(b), cacheDir, 'id-b').order).toEqual(['x', 'y']);
    expect(cachedGraph(copy(b), cacheDir, 'id-b').deps).toEqual(buildGraph(copy(b)).deps);
    // The stored file now holds id-b's: id-a builds again, and right.
    expect(cachedGraph(copy(a), cacheDir, 'id-a').order).toEqual(['a', 'b', 'c']);
    // The same step names with other edges (another Batchfile, another id): its own edges.
    const flipped = config(tmp, [step('c', [], ['out/c.txt']), step('a', ['out/c.txt'], ['out/a.txt']), step('b', [], ['out/b.txt'])]);
    const g = cachedGraph(copy(flipped), cacheDir, 'id-flipped');
    expect(g.order).toEqual(['c', 'a', 'b']);
    expect(g.deps).toEqual(buildGraph(copy(flipped)).deps);
  });

  it('builds again from a damaged file', () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-cache-'));
    const cacheDir = path.join(tmp, '.cache');
    const a = config(tmp, [step('a', [], ['out/a.txt']), step('b', ['out/a.txt'], ['out/b.txt'])]);
    cachedGraph(copy(a), cacheDir, 'id');
    const file = graphCachePath(cacheDir);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    expect(cachedGraph(copy(a), cacheDir, 'id').deps).toEqual(new Map([['a', []], ['b', ['a']]]));
    fs.writeFileSync(file, 'junk');
    expect(cachedGraph(copy(a), cacheDir, 'id').order).toEqual(['a', 'b']);
  });
});

describe('graph cache for a forEach config', () => {
  it('caches the expanded config under the matches it was made from: a new match gets its own graph, with its edges', async () => {
    const { materialize } = await import('../../../src/app/materialize.js');
    const { StatCache } = await import('../../../src/fingerprint/stat-cache.js');
    const { hashString } = await import('../../../src/fingerprint/hash.js');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-cache-'));
    const root = tmp;
    const cacheDir = path.join(root, '.cache');
    fs.mkdirSync(path.join(root, 'data/raw'), { recursive: true });
    for (const n of ['a', 'b']) fs.writeFileSync(path.join(root, `data/raw/${n}.csv`), n);
    const tidy: StepConfig = { ...step('tidy', ['{path}'], ['build/tidy/{stem}.csv']), forEach: { glob: 'data/raw/*.csv' } };
    const declared = config(root, [tidy, step('merge', ['build/tidy/*.csv'], ['build/all.csv'])]);
    const run = async (): Promise<{ key: string; order: string[]; mergeDeps: string[] | undefined }> => {
      let key = '';
      const c = await materialize(copy(declared), new StatCache(root, undefined), {
        adoptGraph: (x, k) => {
          key = k;
          cachedGraph(x, cacheDir, `decl|${hashString(k)}`);
        },
      });
      const g = buildGraph(c); // the adopted (cached) graph: buildGraph memoises per config
      return { key, order: g.order, mergeDeps: g.deps.get('merge') };
    };
    const first = await run();
    expect(first.mergeDeps).toEqual(['tidy:a', 'tidy:b']);
    const again = await run();
    expect(again.key).toBe(first.key);
    expect(again.order).toEqual(first.order);
    fs.writeFileSync(path.join(root, 'data/raw/c.csv'), 'c');
    const more = await run();
    expect(more.key).not.toBe(first.key);
    expect(more.mergeDeps).toEqual(['tidy:a', 'tidy:b', 'tidy:c']);
    expect(more.order.indexOf('merge')).toBeGreaterThan(more.order.indexOf('tidy:c'));
  });
});
