/** The remote-cache part of `batch cache status`: what the last run that used it did there,
 * and how that and the backend's answer now (cache/remote/backend.ts status()) are printed. */
import type { RemoteReach } from '../../cache/backend.js';
import type { Store } from '../../store/store.js';
import type { RemoteRunReport } from '../../store/types.js';
import { formatBytes } from '../../util/duration.js';
import type { Io } from '../../report/io.js';

export interface RemoteStatus extends RemoteReach {
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
