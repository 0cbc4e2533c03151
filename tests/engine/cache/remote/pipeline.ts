// The two-step project the remote-cache tests share: a `run` step writing out/x.txt and
// out/y.txt, and a `command` step concatenating them.
import { batchfile, cmd } from '../helpers.js';

export const PIPELINE = batchfile(`
  gen: { run: 'gen.ts', inputs: ['names.txt'], outputs: ['out/'], params: { text: '!' } },
  cat: { command: ${cmd('--in', 'out/x.txt', '--in', 'out/y.txt', '--out', 'final/cat.txt', '--mark', 'marks.txt')}, inputs: ['out/'], outputs: ['final/cat.txt'] },
`);
