/** Where the remote cache's settings come from: the Batchfile's `cache.remote`, overridden by
 * the environment, overridden by flags; the token and the signing key only from the
 * environment (never a file that may be committed, never a command line others can see). */
import { badRemoteUrl, badTeam, TOKEN_ENV, type RemoteDef } from '../../batchfile/remote-def.js';
import { BatchError } from '../../util/errors.js';

export { TOKEN_ENV };

export interface RemoteSettings {
  url: string;
  team: string;
  readOnly: boolean;
  /** Longest wait for progress of one request. */
  timeoutMs: number;
  token: string | undefined;
  signingKey: string | undefined;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const SIGNING_KEY_ENV = 'BATCH_REMOTE_CACHE_SIGNING_KEY';

/** The command line's overrides (--remote-cache, --remote-cache-team, --remote-cache-read-only). */
export interface RemoteFlags {
  url?: string;
  team?: string;
  readOnly: boolean;
}

/** The run's remote settings, or undefined when no URL is configured anywhere. Throws a
 * BatchError (exit 2) naming the flag, variable or field that is wrong. */
export function resolveRemote(def: RemoteDef | undefined, flags: RemoteFlags, env: NodeJS.ProcessEnv, batchfile: string): RemoteSettings | undefined {
  const pick = (flag: string | undefined, flagName: string, envName: string, field: string | undefined, fieldName: string): { value: string; from: string } | undefined => {
    if (flag !== undefined) return { value: flag, from: flagName };
    const e = env[envName];
    if (e !== undefined && e !== '') return { value: e, from: envName };
    return field !== undefined ? { value: field, from: `${batchfile}: cache.remote.${fieldName}` } : undefined;
  };
  const url = pick(flags.url, '--remote-cache', 'BATCH_REMOTE_CACHE_URL', def?.url, 'url');
  if (!url) return undefined;
  const whyUrl = badRemoteUrl(url.value);
  if (whyUrl) throw new BatchError(`${url.from}: ${whyUrl}`, 2);
  const team = pick(flags.team, '--remote-cache-team', 'BATCH_REMOTE_CACHE_TEAM', def?.team, 'team');
  if (!team) throw new BatchError(`remote cache ${url.value}: no team; set cache.remote.team in ${batchfile}, --remote-cache-team SLUG or BATCH_REMOTE_CACHE_TEAM`, 2);
  const whyTeam = badTeam(team.value);
  if (whyTeam) throw new BatchError(`${team.from}: ${whyTeam}`, 2);
  const token = env[TOKEN_ENV];
  const key = env[SIGNING_KEY_ENV];
  return {
    url: url.value,
    team: team.value,
    readOnly: flags.readOnly || def?.readOnly === true,
    timeoutMs: def?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    token: token === '' ? undefined : token,
    signingKey: key === '' ? undefined : key,
  };
}
