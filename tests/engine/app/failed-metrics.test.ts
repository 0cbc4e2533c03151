// Regression: a failed step's record kept no CPU time, peak memory or bytes read, so the
// history of a step that fails looked like it cost nothing.
import { afterEach, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, readStore } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

it('a failed step is recorded with its CPU time, peak memory and bytes read', async () => {
  p = TempProject.create({
    'in.txt': 'x'.repeat(1000),
    'Batchfile.ts': batchfile(`burn: { command: 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exit 3', inputs: ['in.txt'], outputs: ['out.txt'] },`),
  });
  const r = await p.run();
  expect(r.code).toBe(1);
  expect(r.steps[0]).toMatchObject({ status: 'FAIL', error: 'exit code 3' });
  const store = await readStore(p);
  const rec = store.results.find((x) => (x.key as unknown as string[])[1] === 'burn')!.value;
  expect(rec.bytesRead).toBe(1000);
  expect(rec.cpuMs as number).toBeGreaterThan(0);
  expect(rec.peakRssBytes as number).toBeGreaterThan(0);
});
