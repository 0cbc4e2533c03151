// Optional peer dependencies: packages batch uses for one feature only (Vitest for the test
// phase), declared in package.json's `peerDependencies` with `peerDependenciesMeta.optional`,
// so a project that does not use the feature does not install them. This module finds such a
// package where the user's project installed it and, when it is missing or of a version
// outside the declared range, says which package to add, for which feature, in one error.
//
// Usage (see docs/architecture.md, "Optional packages"):
//   const peer = requirePeer('vitest', 'the test phase (`tests:` in the Batchfile)');  // throws BatchError
//   const { startVitest } = await importPeer(peer, () => import('vitest/node'));
// The import is written out at the call site (a literal specifier) so that TypeScript types it
// and the bundler leaves it as a lazy import of the external package.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { ownPackage } from './engine.js';
import { BatchError } from './errors.js';

export interface Peer {
  name: string;
  version: string;
  /** What it is for, as given to requirePeer. */
  feature: string;
}

/** The version range batch declares for an optional peer. */
export function peerRange(name: string): string {
  const range = ownPackage().peerDependencies?.[name];
  if (range === undefined) throw new Error(`${name} is not a peer dependency in batchfile's package.json`);
  return range;
}

/** Whether `version` satisfies `range`, for the ranges package.json uses here: alternatives
 * joined by `||`, each `^X.Y.Z` (same major, at least X.Y.Z) or an exact `X.Y.Z`. As in npm,
 * a prerelease (`4.1.0-beta.1`) satisfies no caret range. */
export function satisfies(version: string, range: string): boolean {
  const parse = (v: string): number[] | undefined => {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
  };
  const have = parse(version);
  if (!have) return range.split('||').some((alt) => alt.trim() === version.trim());
  const atLeast = (min: number[]): boolean => {
    for (let i = 0; i < 3; i++) if (have[i]! !== min[i]!) return have[i]! > min[i]!;
    return true;
  };
  return range.split('||').some((alt) => {
    const a = alt.trim();
    const caret = a.startsWith('^');
    const min = parse(caret ? a.slice(1) : a);
    if (!min) throw new Error(`unsupported version range ${JSON.stringify(range)}`);
    return caret ? have[0] === min[0] && atLeast(min) : have.join('.') === min.join('.');
  });
}

function addIt(name: string, range: string): string {
  return `add ${name} to your devDependencies: npm install --save-dev ${name}@"${range}"`;
}

const found = new Map<string, Peer>();

/** Finds an optional peer from batch's own location (as Node will import it) and checks its
 * version against the declared range; throws a BatchError (exit 2) naming the package, the
 * feature and the command that adds it. Cached per process. */
export function requirePeer(name: string, feature: string, from: string | URL = import.meta.url): Peer {
  const key = `${name}\0${String(from)}`;
  const hit = found.get(key);
  if (hit) return hit;
  const range = peerRange(name);
  let pkgJson: string;
  try {
    pkgJson = createRequire(from).resolve(`${name}/package.json`);
  } catch {
    throw new BatchError(`${feature} needs ${name}, which is not installed; ${addIt(name, range)}`, 2);
  }
  const version = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version?: string }).version ?? '?';
  if (!satisfies(version, range)) {
    throw new BatchError(`${feature} needs ${name} ${range}, but ${name} ${version} is installed; ${addIt(name, range)}`, 2);
  }
  const peer = { name, version, feature };
  found.set(key, peer);
  return peer;
}

/** Imports a module of a peer found by requirePeer. Should the import still fail because the
 * package is missing (removed since), the error names it as requirePeer's does. */
export async function importPeer<T>(peer: Peer, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(`'${peer.name}'`);
    if (missing || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      throw new BatchError(`${peer.feature} could not load ${peer.name} (${(e as Error).message.split('\n')[0]}); ${addIt(peer.name, peerRange(peer.name))}`, 2);
    }
    throw e;
  }
}
