import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Absolute path of the engine's public entry, of the same build as this module: beside the
 * bundle's chunks (dist/bundle/index.js, the build the package ships) or tsc's dist/index.js.
 * Batchfiles and step modules import `batchfile` and are pointed here, so a project needs no
 * install of its own. */
export const ENGINE_ENTRY = path.join(HERE, path.basename(HERE) === 'bundle' ? 'index.js' : '../index.js');

/** The fields of batch's own package.json that the engine reads. */
export interface OwnPackage {
  version: string;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean | string>;
}

let own: OwnPackage | undefined;
/** batch's own package.json (dist/util/ and dist/bundle/ are both one folder below dist/). */
export function ownPackage(): OwnPackage {
  own ??= JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as OwnPackage;
  return own;
}

export function engineVersion(): string {
  return ownPackage().version;
}

/** The folder of the engine's package (where its package.json is). */
export const ENGINE_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The CLI script (`bin/batch.js`) of this engine: the daemon is started through it. */
export const ENGINE_BIN = fileURLToPath(new URL('../../bin/batch.js', import.meta.url));

let stamp = 'unknown';
/** Identifies the engine build this process runs (bin/batch.js passes the build's path and
 * time): a daemon serves only clients of the same build, and exits when it is rebuilt. */
export function engineStamp(): string {
  return stamp;
}
export function setEngineStamp(s: string): void {
  stamp = s;
}
