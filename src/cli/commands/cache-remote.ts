/** The remote-cache part of `batch cache status`: where it is, whether it answers now, and
 * what the last run that used it did there. */
import { RemoteCacheClient } from '../../cache/remote/client.js';
import { resolveRemote } from '../../cache/remote/settings.js';
import type { Store } from '../../store/store.js';
import type { RemoteRunReport } from '../../store/types.js';
import { formatBytes } from '../../util/duration.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

export interface RemoteStatus {
  url: string;
  team: string;
  readOnly: boolean;
  reachable: boolean;
  /** Why it is not reachable (never contains the token). */
  error?: string;
  /** The newest run that used the remote cache, and what it did there. */
  lastRun?: { runId: string } & RemoteRunReport;
}

/** The newest recorded run that had a remote cache configured. */
export function lastRemoteRun(store: Store, limit = 50): ({ runId: string } & RemoteRunReport) | undefined {
  for (const { key, value } of store.runs.getRange({ reverse: true, limit })) {
    if (value.remoteCache) return { runId: key, ...value.remoteCache };
  }
  return undefined;
}

/** The remote the flags and environment name, else the one the last run used (as the run
 * recorded it: `status` does not load the Batchfile, and runs beside a build), checked now;
 * undefined when there is none. */
export async function remoteStatus(args: Args, last: RemoteStatus['lastRun']): Promise<RemoteStatus | undefined> {
  const def = last ? { url: last.url, team: last.team, readOnly: last.readOnly } : undefined;
  const flags = { readOnly: args.remoteCacheReadOnly, ...(args.remoteCache !== undefined ? { url: args.remoteCache } : {}), ...(args.remoteCacheTeam !== undefined ? { team: args.remoteCacheTeam } : {}) };
  const s = resolveRemote(def, flags, process.env, 'the last run');
  if (!s) return undefined;
  const client = new RemoteCacheClient({ url: s.url, team: s.team, timeoutMs: s.timeoutMs, ...(s.token ? { token: s.token } : {}) });
  const r = await client.status();
  return {
    url: client.displayUrl,
    team: s.team,
    readOnly: s.readOnly,
    reachable: r.ok,
    ...(r.ok ? {} : { error: r.error.message }),
    ...(last ? { lastRun: last } : {}),
  };
}

export function sayRemote(io: Io, r: RemoteStatus | undefined): void {
  const s = io.style;
  io.say('');
  if (!r) {
    io.say(s.dim('Remote cache: none used by a recorded run, and none given by --remote-cache or BATCH_REMOTE_CACHE_URL (docs/remote-cache.md)'));
    return;
  }
  const mode = r.readOnly ? 'read-only' : 'read-write';
  io.say(`${s.bold('Remote cache')} ${r.url} (team ${r.team}, ${mode}): ${r.reachable ? s.green('reachable') : s.red(`not reachable: ${r.error ?? ''}`)}`);
  const l = r.lastRun;
  if (!l) {
    io.say(s.dim('  no recorded run used it yet'));
    return;
  }
  const up = l.uploads.reduce((n, u) => n + u.bytes, 0);
  io.say(`  last run ${l.runId}: ${l.hits} hits, ${l.misses} misses, ${l.uploads.length} uploads (${formatBytes(up)})${l.refused ? `, ${l.refused} refused` : ''}${l.uploadsFailed ? `, ${l.uploadsFailed} uploads failed` : ''}`);
  if (l.error) io.say(s.dim(`  that run's warning: ${l.error}`));
}
