// Optional peer dependencies (src/util/optional-peer.ts): found where the project installed
// them, checked against the range in package.json, and a missing or wrong one named with the fix.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { importPeer, peerRange, requirePeer, satisfies } from '../../../src/util/optional-peer.js';
import { BatchError } from '../../../src/util/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A folder with a file `from.js` to resolve from, and vitest at `version` in its node_modules (none: undefined). */
function projectWith(version: string | undefined): URL {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-peer-'));
  dirs.push(dir);
  if (version !== undefined) {
    fs.mkdirSync(path.join(dir, 'node_modules', 'vitest'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'node_modules', 'vitest', 'package.json'), JSON.stringify({ name: 'vitest', version, exports: { './package.json': './package.json' } }));
  }
  fs.writeFileSync(path.join(dir, 'from.js'), '');
  return pathToFileURL(path.join(dir, 'from.js'));
}

function errorOf(f: () => unknown): BatchError {
  try {
    f();
  } catch (e) {
    if (e instanceof BatchError) return e;
    throw e;
  }
  throw new Error('expected a BatchError');
}

describe('optional peer dependencies', () => {
  it('the declared range is the one in package.json', () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
      devDependencies: Record<string, string>;
    };
    expect(peerRange('vitest')).toBe(pkg.peerDependencies.vitest);
    expect(pkg.peerDependenciesMeta.vitest?.optional).toBe(true);
    // The repository's own pinned Vitest is inside the range users are told to install.
    expect(satisfies(pkg.devDependencies.vitest!, peerRange('vitest'))).toBe(true);
  });

  it('satisfies: caret ranges, exact versions and alternatives', () => {
    expect(satisfies('4.1.12', '^4.0.0')).toBe(true);
    expect(satisfies('4.0.0', '^4.0.0')).toBe(true);
    expect(satisfies('3.2.4', '^4.0.0')).toBe(false);
    expect(satisfies('5.0.0', '^4.0.0')).toBe(false);
    expect(satisfies('4.1.0', '^4.2.0')).toBe(false);
    expect(satisfies('3.2.4', '^3.2.0 || ^4.0.0')).toBe(true);
    expect(satisfies('4.1.0-beta.1', '^4.0.0')).toBe(false);
    expect(satisfies('4.1.0-beta.1', '4.1.0-beta.1')).toBe(true);
    expect(satisfies('1.2.3', '1.2.3')).toBe(true);
    expect(satisfies('1.2.4', '1.2.3')).toBe(false);
    expect(satisfies('garbage', '^4.0.0')).toBe(false);
    expect(() => satisfies('1.0.0', '>=1')).toThrow(/unsupported version range/);
  });

  it('a missing peer is a usage error naming the feature, the package and the command that adds it', () => {
    const e = errorOf(() => requirePeer('vitest', 'The test phase', projectWith(undefined)));
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`The test phase needs vitest, which is not installed; add vitest to your devDependencies: npm install --save-dev vitest@"${peerRange('vitest')}"`);
  });

  it('a peer outside the range is named with its version', () => {
    const e = errorOf(() => requirePeer('vitest', 'The test phase', projectWith('3.2.4')));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(`The test phase needs vitest ${peerRange('vitest')}, but vitest 3.2.4 is installed; add vitest to your devDependencies`);
  });

  it('a peer inside the range is found with its version', () => {
    expect(requirePeer('vitest', 'The test phase', projectWith('4.1.3'))).toEqual({ name: 'vitest', version: '4.1.3', feature: 'The test phase' });
  });

  it('importPeer names the package when its module cannot be found, and passes other errors on', async () => {
    const peer = { name: 'vitest', version: '4.1.3', feature: 'The test phase' };
    const notFound = Object.assign(new Error("Cannot find package 'vitest' imported from /x/y.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    await expect(importPeer(peer, () => Promise.reject(notFound))).rejects.toThrow(/The test phase could not load vitest \(Cannot find package 'vitest'.*add vitest to your devDependencies/);
    const other = Object.assign(new Error("Cannot find package 'tinypool' imported from /x/vitest/dist/a.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    await expect(importPeer(peer, () => Promise.reject(other))).rejects.toBe(other);
    await expect(importPeer(peer, () => Promise.resolve(42))).resolves.toBe(42);
  });
});
