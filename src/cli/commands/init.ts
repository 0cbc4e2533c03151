import fs from 'node:fs';
import path from 'node:path';
import { BATCHFILE_NAMES } from '../../batchfile/load.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

const STARTER = `import { defineBatch } from 'batchfile';

// Each step declares what it reads and writes; batch runs a step only when its inputs,
// code, params or env changed, or its outputs are not what it last wrote.
export default defineBatch({
  steps: {
    hello: {
      command: ['node', '-e', "require('fs').mkdirSync('build',{recursive:true});require('fs').writeFileSync('build/hello.txt','hello\\\\n')"],
      outputs: ['build/hello.txt'],
    },
    shout: {
      command: 'tr a-z A-Z < build/hello.txt > build/HELLO.txt',
      inputs: ['build/hello.txt'],
      outputs: ['build/HELLO.txt'],
    },
  },
});
`;

/** \`batch init\`: writes a starter Batchfile.ts, never over an existing one. */
export async function initCommand(args: Args, io: Io): Promise<number> {
  const root = path.resolve(args.cwd ?? process.cwd());
  const existing = BATCHFILE_NAMES.find((n) => fs.existsSync(path.join(root, n)));
  if (existing) throw new BatchError(`${path.join(root, existing)} already exists; not overwritten`, 2);
  fs.writeFileSync(path.join(root, 'Batchfile.ts'), STARTER, { flag: 'wx' });
  io.say(`Wrote ${path.join(root, 'Batchfile.ts')}. Run \`npx batch\`.`);
  return 0;
}
