// Small outputs are kept in LMDB (the blob environment, .cache/outputs/inline/), bigger ones as files: both
// restore byte for byte, eviction and prune count and remove both, and a store written when
// every blob was a file keeps working.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import path from 'node:path';
import { actions, batchfile, blobFiles, blobOf, blobs, entries, inlineBlobs, toFileBlobs } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

/** src/cache/local/inline-blobs.ts INLINE_MAX. */
const INLINE_MAX = 256 * 1024;

/** A `run` step writing `out/<name>` of each size in params.files, its bytes a pattern that
 * depends on params.seed and the name (so no two files are equal unless meant to be). */
const SIZED_STEP = `import fs from 'node:fs';
import path from 'node:path';
export default async (ctx) => {
  fs.appendFileSync(path.join(ctx.root, 'marks.txt'), ctx.step + '\\n');
  fs.mkdirSync(ctx.outputs[0], { recursive: true });
  for (const [name, size] of Object.entries(ctx.params.files)) {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = (i * 7 + name.length * 13 + ctx.params.seed) & 255;
    fs.writeFileSync(path.join(ctx.outputs[0], name), b);
  }
};
`;

const sized = (files: Record<string, number>, seed = 1): string => batchfile(`  gen: { run: 'gen.ts', outputs: ['out/'], params: { seed: ${seed}, files: ${JSON.stringify(files)} } },`);

const FILES = { 'empty.bin': 0, 'small.txt': 40, 'at.bin': INLINE_MAX, 'over.bin': INLINE_MAX + 1 };

function bytesOf(project: TempProject, rel: string): Buffer {
  return fs.readFileSync(project.path(rel));
}

/** Files under `rel`, by relative path, as bytes (the outputs are not text). */
function snapshot(project: TempProject, rel: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of fs.readdirSync(project.path(rel), { recursive: true, encoding: 'utf8' })) {
    const r = path.posix.join(rel, name);
    if (fs.statSync(project.path(r)).isFile()) out[r] = bytesOf(project, r);
  }
  return out;
}

describe('output cache: inline blobs', () => {
  it('keeps files up to the limit in the store and bigger ones as files; both restore byte for byte', async () => {
    p = TempProject.create({ 'gen.ts': SIZED_STEP, 'Batchfile.ts': sized(FILES) });
    const first = await p.run();
    expect(first.code, first.stderr).toBe(0);
    const written = snapshot(p, 'out');
    const inline = inlineBlobs(p);
    const files = blobFiles(p);
    // Exactly at the limit: inline; one byte over: a file. The empty file is a blob too.
    expect([...inline.values()].map((b) => b.length).sort((a, b) => a - b)).toEqual([0, 40, INLINE_MAX]);
    expect(inline.get(blobOf(p, bytesOf(p, 'out/at.bin')))).toEqual(bytesOf(p, 'out/at.bin'));
    expect([...files.keys()]).toEqual([blobOf(p, bytesOf(p, 'out/over.bin'))]);
    expect(fs.statSync(files.values().next().value!).size).toBe(INLINE_MAX + 1);

    p.remove('out');
    const restored = await p.run();
    expect(restored.code, restored.stderr).toBe(0);
    expect(actions(restored.steps)).toEqual({ gen: 'restored' });
    expect(snapshot(p, 'out')).toEqual(written);
    expect(p.marks()).toEqual(['gen']);

    const st = JSON.parse((await p.batch(['cache', 'status', '--json'])).stdout) as { entries: number; blobs: number; bytes: number; orphans: unknown };
    expect(st).toMatchObject({ entries: 1, blobs: 4, bytes: 40 + 2 * INLINE_MAX + 1, orphans: { files: 0, bytes: 0 } });
  });

  it('eviction and prune remove inline blobs with their entries, and count them', async () => {
    p = TempProject.create({ 'gen.ts': SIZED_STEP, 'Batchfile.ts': sized({ 'a.txt': 1000 }, 1) });
    const limit = ['--max-size', '2500'];
    for (const seed of [1, 2, 3]) {
      p.write('Batchfile.ts', sized({ 'a.txt': 1000 }, seed));
      const r = await p.run(limit);
      expect(r.code, r.stderr).toBe(0);
    }
    // Seed 1's entry was evicted by seed 3's: its blob left the store with it.
    expect(entries(p).size).toBe(2);
    expect(inlineBlobs(p).size).toBe(2);
    expect(blobFiles(p).size).toBe(0);
    const first = bytesOf(p, 'out/a.txt');
    const pr = await p.batch(['cache', 'prune', '--max-size', '1000', '--json']);
    expect(pr.code, pr.stderr).toBe(0);
    expect(JSON.parse(pr.stdout)).toMatchObject({ evicted: { entries: 1, files: 1, bytes: 1000 }, broken: 0, orphans: { files: 0 }, entries: 1, bytes: 1000 });
    expect([...inlineBlobs(p).values()]).toEqual([first]);
    const empty = await p.batch(['cache', 'prune', '--max-size', '0', '--json']);
    expect(JSON.parse(empty.stdout)).toMatchObject({ evicted: { entries: 1, files: 1, bytes: 1000 }, entries: 0, bytes: 0 });
    expect(blobs(p).size).toBe(0);
  });

  it('a store whose blobs are all files (an earlier version) restores them; new small outputs go inline', async () => {
    p = TempProject.create({ 'gen.ts': SIZED_STEP, 'Batchfile.ts': sized({ 'a.txt': 100, 'b.txt': 5000 }, 1) });
    expect((await p.run()).code).toBe(0);
    const written = snapshot(p, 'out');
    expect(toFileBlobs(p)).toBe(2);

    p.remove('out');
    const restored = await p.run();
    expect(restored.code, restored.stderr).toBe(0);
    expect(actions(restored.steps)).toEqual({ gen: 'restored' });
    expect(snapshot(p, 'out')).toEqual(written);

    // A second entry shares b.txt (same seed, same name and size) and adds c.txt: the shared
    // blob stays a file, the new one is stored inline.
    p.write('Batchfile.ts', sized({ 'a.txt': 100, 'b.txt': 5000, 'c.txt': 7 }, 1));
    expect(actions((await p.run()).steps)).toEqual({ gen: 'ran' });
    expect(blobFiles(p).size).toBe(2);
    expect([...inlineBlobs(p).values()].map((b) => b.length)).toEqual([7]);
    const st = JSON.parse((await p.batch(['cache', 'status', '--json'])).stdout) as unknown;
    expect(st).toMatchObject({ entries: 2, blobs: 3, bytes: 100 + 5000 + 7, orphans: { files: 0 } });
    // Prune checks the file blobs' sizes like inline ones: nothing is broken.
    expect(JSON.parse((await p.batch(['cache', 'prune', '--json'])).stdout)).toMatchObject({ broken: 0, entries: 2 });
  });

  it('a blob evicted during a run and written again later in it is stored again, not taken as present', async () => {
    // a, b, c run in that order; the limit holds one entry, so b's store evicts a's entry and
    // its blob, and c writes a's bytes again (inline-order.test.ts makes certain that the
    // removal is not committed yet at that moment; here it depends on timing).
    const step = (name: string, seed: number, after: string): string =>
      `  ${name}: { run: 'gen.ts', outputs: ['${name}/'], params: { seed: ${seed}, files: { 'f.txt': 1000 } }${after ? `, dependsOn: ['${after}']` : ''} },`;
    p = TempProject.create({ 'gen.ts': SIZED_STEP, 'Batchfile.ts': batchfile([step('a', 1, ''), step('b', 2, 'a'), step('c', 1, 'b')].join('\n')) });
    const r = await p.run(['--max-size', '1500', '-j', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect([...entries(p).values()].map((e) => e.step)).toEqual(['c']);
    expect([...inlineBlobs(p).values()]).toEqual([bytesOf(p, 'c/f.txt')]);
    p.remove('c');
    const restored = await p.run(['--max-size', '1500']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(actions(restored.steps)).toEqual({ a: 'up-to-date', b: 'up-to-date', c: 'restored' });
    expect(bytesOf(p, 'c/f.txt')).toEqual(bytesOf(p, 'a/f.txt'));
  });

  it('kill -9 while many steps store small outputs: no entry names a blob that is not stored whole', async () => {
    const steps = Array.from({ length: 40 }, (_, i) => `  s${i}: { run: 'gen.ts', outputs: ['out${i}/'], params: { seed: ${i}, files: { 'f.bin': ${20_000 + i} } } },`).join('\n');
    p = TempProject.create({ 'gen.ts': SIZED_STEP, 'Batchfile.ts': batchfile(steps) });
    // The write batch commits the blob environment before the store's transaction that holds
    // the entries naming those blobs, so wherever the kill falls, every entry's blobs are there. The kill comes once the store has been written several times.
    fs.mkdirSync(p.path('.cache/store'), { recursive: true });
    const run = p.start(['--no-tests', '-j', '2']);
    await new Promise<void>((resolve, reject) => {
      let writes = 0;
      const timer = setTimeout(() => (w.close(), reject(new Error(`store written ${writes} times; output:\n${run.output}`))), 60_000);
      const w = fs.watch(p!.path('.cache/store'), () => {
        if (++writes < 12) return;
        clearTimeout(timer);
        w.close();
        run.kill('SIGKILL');
        resolve();
      });
    });
    await run.exited;
    const stored = blobs(p);
    for (const e of entries(p).values()) for (const f of Object.values(e.files)) expect(stored.get(f.hash)?.length).toBe(f.size);
    const next = await p.run();
    expect(next.code, next.stderr).toBe(0);
    for (let i = 0; i < 40; i++) expect(fs.statSync(p.path(`out${i}/f.bin`)).size).toBe(20_000 + i);
    p.remove('out7');
    const again = await p.run();
    expect(actions(again.steps).s7).toBe('restored');
    expect(fs.statSync(p.path('out7/f.bin')).size).toBe(20_007);
  });
});
