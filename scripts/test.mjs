// Runs the engine's test-suite through Vitest's Node API and ends with one plain line,
// "N passed, N failed", that CI and humans can read without parsing Vitest's output.
import { startVitest } from 'vitest/node';

const filters = process.argv.slice(2);
const vitest = await startVitest('test', filters, { run: true, watch: false });
let passed = 0;
let failed = 0;
let skipped = 0;
let loadErrors = 0;
if (vitest) {
  for (const mod of vitest.state.getTestModules()) {
    for (const tc of mod.children.allTests()) {
      const s = tc.result().state;
      if (s === 'passed') passed++;
      else if (s === 'failed') failed++;
      else skipped++;
    }
    if (mod.errors().length > 0) loadErrors++;
  }
  const unhandled = vitest.state.getUnhandledErrors().length;
  await vitest.close();
  failed += loadErrors + unhandled;
} else {
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
