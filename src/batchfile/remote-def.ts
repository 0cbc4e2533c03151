/** The Batchfile's `cache.remote` and the checks of its values, shared by the Batchfile's
 * validation and the flags and environment variables that override it (cache/remote/settings.ts). */

/** `cache.remote` as validated from the Batchfile (every field optional there). */
export interface RemoteDef {
  url?: string;
  team?: string;
  readOnly: boolean;
  timeoutMs?: number;
}

export const MAX_TIMEOUT_MS = 600_000;
export const TOKEN_ENV = 'BATCH_REMOTE_CACHE_TOKEN';

/** Why `url` cannot be a remote cache's address, or undefined when it can. */
export function badRemoteUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${JSON.stringify(url)} is not a URL like "https://cache.example.com"`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${JSON.stringify(u.protocol)} is not http: or https:`;
  // A credential in the URL would be printed wherever the URL is: the token has its own variable.
  if (u.username || u.password) return `must not contain a user or password; put the token in ${TOKEN_ENV}`;
  if (u.search || u.hash) return 'must not have a query or fragment';
  return undefined;
}

/** Why `team` cannot be a team slug, or undefined. */
export function badTeam(team: string): string | undefined {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(team) ? undefined : `${JSON.stringify(team)} is not a team slug (letters, digits, ".", "_", "-")`;
}
