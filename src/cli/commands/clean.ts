import fs from 'node:fs';
import path from 'node:path';
import { acquireLock } from '../../store/lock.js';
import { storePath } from '../../store/store.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

/** `batch clean`: removes the engine's state under .cache/ (every step then reruns);
 * `--store` removes only the LMDB store (for a corrupt or old-format store). Outputs and
 * logs are the user's and stay. */
export async function cleanCommand(args: Args, io: Io, signal: AbortSignal): Promise<number> {
  const root = path.resolve(args.cwd ?? process.cwd());
  const cacheDir = path.join(root, '.cache');
  if (!fs.existsSync(cacheDir)) {
    io.say('Nothing to clean.');
    return 0;
  }
  const lock = await acquireLock(cacheDir, { wait: args.wait, signal });
  try {
    if (args.store) {
      fs.rmSync(storePath(cacheDir), { recursive: true, force: true });
      io.say(`Removed the run store ${path.relative(root, storePath(cacheDir))}/ (run history and fingerprints).`);
    } else {
      for (const e of fs.readdirSync(cacheDir)) if (e !== 'lock') fs.rmSync(path.join(cacheDir, e), { recursive: true, force: true });
      io.say('Removed .cache/ (fingerprints, run store, compiled Batchfile and output cache). Outputs and logs/ were kept.');
    }
    return 0;
  } finally {
    lock.release();
  }
}
