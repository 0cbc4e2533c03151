import type Crypto from 'node:crypto';

/** node:crypto when first used: the engine chunk holding this file loads on every run, and a
 * no-op never needs it (~3 ms of start-up). */
const crypto = (): typeof Crypto => process.getBuiltinModule('node:crypto');

/** HMAC-SHA256 signatures of remote-cache payloads (key from BATCH_REMOTE_CACHE_SIGNING_KEY).
 * The artifact id is signed with the bytes, so a signed payload copied to another id (to
 * restore one step's outputs as another's) fails verification. */
export const SIGNATURE_BYTES = 32;
const DOMAIN = 'batchfile-remote-cache/1';

export interface Signer {
  update(chunk: Uint8Array): void;
  digest(): Buffer;
}

export function signer(key: string, artifactId: string): Signer {
  const h = crypto().createHmac('sha256', key);
  h.update(`${DOMAIN}\0${artifactId}\0`);
  return { update: (c) => void h.update(c), digest: () => h.digest() };
}

/** Constant-time comparison of a received signature with the expected one. */
export function sameSignature(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && crypto().timingSafeEqual(a, b);
}
