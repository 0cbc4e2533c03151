/** Asks the remote cache whether it holds a step's outputs (HEAD), for `explain` and
 * `--dry-run`: they say "restore from remote cache" where they can know it. The first failure
 * ends the asking (one line of why), as in a run. */
import { RemoteCacheClient, RemoteError } from './client.js';
import { artifactId } from './backend.js';
import type { RemoteSettings } from './settings.js';

export class RemoteProbe {
  private readonly client: RemoteCacheClient;
  /** Why the server could not be asked, after its first failure. */
  failure: string | undefined;

  constructor(settings: RemoteSettings) {
    this.client = new RemoteCacheClient({ url: settings.url, team: settings.team, timeoutMs: settings.timeoutMs, ...(settings.token ? { token: settings.token } : {}) });
  }

  get url(): string {
    return this.client.displayUrl;
  }

  /** Whether the remote has an entry for `key`; undefined when it cannot be asked. */
  async has(key: string): Promise<boolean | undefined> {
    if (this.failure) return undefined;
    try {
      return await this.client.head(artifactId(key));
    } catch (e) {
      this.failure = e instanceof RemoteError ? e.message : String(e);
      return undefined;
    }
  }
}
