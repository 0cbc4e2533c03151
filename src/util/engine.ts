import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the engine's public entry (dist/index.js); Batchfiles and step modules
 * import `batchfile` and are pointed here, so a project needs no install of its own. */
export const ENGINE_ENTRY = fileURLToPath(new URL('../index.js', import.meta.url));

let version: string | undefined;
export function engineVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
