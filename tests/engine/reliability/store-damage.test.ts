// A damaged or foreign store is refused with exit 3 and a message that says how to recover
// (`batch clean --store`), never a crash or a stack trace; the outputs stay as they were, and
// after the advice is followed the next run works. lmdb-js itself crashes the process
// (SIGSEGV, SIGBUS) on a damaged header, so batch checks the header before opening.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { STACK, batchfile, bytesUnder, cmd, dataFile, readStore, showBytes } from './helpers.js';

let p: TempProject;
let good: Buffer;
let outputs: Record<string, string>;

beforeAll(async () => {
  p = TempProject.create({
    'in.txt': 'hello',
    'steps/up.ts': `import fs from 'node:fs';
export default async (ctx: { inputs: string[]; outputs: string[] }) => {
  fs.writeFileSync(ctx.outputs[0]!, fs.readFileSync(ctx.inputs[0]!, 'utf8').toUpperCase());
};
`,
    'Batchfile.ts': batchfile(`
  copy: { command: ${cmd('--in', 'in.txt', '--out', 'out/copy.txt')}, inputs: ['in.txt'], outputs: ['out/copy.txt'] },
  up: { run: 'steps/up.ts', inputs: ['out/copy.txt'], outputs: ['out/up.txt'] },
`),
  });
  const r = await p.run();
  expect(r.code, r.stderr).toBe(0);
  good = fs.readFileSync(dataFile(p));
  outputs = showBytes(bytesUnder(p, 'out'));
});
afterAll(() => p?.cleanup());

const size = (): number => good.length;
const DAMAGE: { name: string; bytes: () => Buffer }[] = [
  { name: 'the whole file overwritten with random bytes', bytes: () => Buffer.from(Array.from({ length: size() }, (_, i) => (i * 7919 + 13) & 0xff)) },
  { name: 'the whole file zeroed', bytes: () => Buffer.alloc(size()) },
  { name: 'the first page overwritten', bytes: () => Buffer.concat([Buffer.alloc(4096, 0xab), good.subarray(4096)]) },
  { name: 'the second meta page overwritten', bytes: () => Buffer.concat([good.subarray(0, 4096), Buffer.alloc(4096, 0x5a), good.subarray(8192)]) },
  { name: 'truncated to three pages', bytes: () => good.subarray(0, 3 * 4096) },
  { name: 'a few bytes of text', bytes: () => Buffer.from('not a database\n') },
];

describe('a damaged or foreign store', () => {
  it.for(DAMAGE)('$name: exit 3, how to recover, no crash, outputs untouched', async (d) => {
    const bad = d.bytes();
    fs.writeFileSync(dataFile(p), bad);
    p.write('in.txt', 'changed'); // something to do, so a run that ignored the damage would show
    const r = await p.batch();
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/The store at \.cache\/store is damaged \(.+\)\. Remove it with `batch clean --store`/);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(showBytes(bytesUnder(p, 'out'))).toEqual(outputs);
    expect(fs.readFileSync(dataFile(p)).equals(bad)).toBe(true);
    fs.writeFileSync(dataFile(p), good);
    p.write('in.txt', 'hello');
  });

  it('a sound store whose last used page lies past the end of its file (pages a transaction used and freed, never written, as after `history --prune`) opens and works', async () => {
    // The newest meta page: the one of the higher transaction id.
    const txn = (at: number): bigint => good.readBigUInt64LE(at + 24 + 128);
    const meta = txn(4096) > txn(0) ? 4096 : 0;
    const lastPage = good.readBigUInt64LE(meta + 24 + 120);
    expect((lastPage + 1n) * 4096n).toBeLessThanOrEqual(BigInt(good.length));
    const sound = Buffer.from(good);
    sound.writeBigUInt64LE(lastPage + 5n, meta + 24 + 120);
    fs.writeFileSync(dataFile(p), sound);
    try {
      p.write('in.txt', 'again');
      const r = await p.run();
      expect(r.code, r.stderr).toBe(0);
      expect(r.steps.map((s) => `${s.name} ${s.action}`)).toEqual(['copy ran', 'up ran']);
      expect(p.read('out/up.txt')).toBe('AGAIN');
      const next = await p.run();
      expect(next.code, next.stderr).toBe(0);
      expect(next.steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date']);
      // Cut short before the main database's root, the same file is refused.
      const now = fs.readFileSync(dataFile(p));
      const newest = now.readBigUInt64LE(4096 + 24 + 128) > now.readBigUInt64LE(24 + 128) ? 4096 : 0;
      const mainRoot = Number(now.readBigUInt64LE(newest + 24 + 112));
      expect(mainRoot).toBeGreaterThan(1);
      fs.writeFileSync(dataFile(p), now.subarray(0, mainRoot * 4096));
      const cut = await p.batch();
      expect(cut.code, cut.stderr).toBe(3);
      // Whichever root the cut loses first is named (the free-page database's may lie after
      // the main one's, as it does once a run's records commit in one transaction).
      expect(cut.stderr).toMatch(/The store at \.cache\/store is damaged \(the file is \d+ bytes, and the root of its (main|free) database is at byte \d+\)/);
    } finally {
      fs.writeFileSync(dataFile(p), good);
      p.write('in.txt', 'hello');
    }
  });

  it('a store of another format version: exit 3 naming both versions and the recovery', async () => {
    const { openStore, STORE_VERSION } = await import('../../../src/store/store.js');
    const store = openStore(p.path('.cache'));
    await store.meta.put('version', STORE_VERSION + 41);
    await store.close();
    const r = await p.batch();
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`has format version ${STORE_VERSION + 41}; this batchfile reads version ${STORE_VERSION}. Remove it with \`batch clean --store\``);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('following the advice works: clean --store, then the run rebuilds the same outputs', async () => {
    fs.writeFileSync(dataFile(p), Buffer.alloc(size()));
    expect((await p.batch()).code).toBe(3);
    const clean = await p.batch(['clean', '--store']);
    expect(clean.code, clean.stderr).toBe(0);
    const r = await p.run(['--no-cache']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps.map((s) => `${s.name} ${s.action} ${s.reason}`)).toEqual(['copy ran no previous run recorded', 'up ran no previous run recorded']);
    expect(showBytes(bytesUnder(p, 'out'))).toEqual(outputs);
    expect((await readStore(p)).runs).toHaveLength(1);
  });
});
