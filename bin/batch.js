#!/usr/bin/env node
// The engine ships compiled (dist/, built at install); nothing is compiled at start-up.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`internal error: ${e?.stack ?? e}\n`);
    process.exitCode = 70;
  },
);
