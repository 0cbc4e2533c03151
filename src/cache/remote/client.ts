/** A client for Turborepo's remote-cache HTTP API (`/v8/artifacts/:id`), with bounded waits.
 * It knows nothing of steps or payloads: artifacts are opaque bytes under an id (a hex hash),
 * so the output cache and the distributed executor (issue 18) share it. Node's own fetch
 * (undici): no runtime dependency. The token goes into the Authorization header only; no
 * message this module builds contains it (nor the URL's query, which carries no secret). */

export interface RemoteClientOptions {
  /** Base URL of the server, e.g. `https://cache.example.com` (no credentials in it). */
  url: string;
  /** Team (Turborepo's `slug`): a namespace on the server. */
  team: string;
  /** Bearer token; absent: requests carry no Authorization header. */
  token?: string;
  /** Longest wait for progress (connect, response headers, each chunk of a body). */
  timeoutMs: number;
}

/** Why a request failed. `unreachable`: refused, DNS, reset; `timeout`: no progress within
 * the bound; `auth`: 401/403; `http`: any other unexpected status; `protocol`: a body that
 * is not what was announced (truncated, garbage). */
export type RemoteErrorKind = 'unreachable' | 'timeout' | 'auth' | 'http' | 'protocol';

export class RemoteError extends Error {
  constructor(
    readonly kind: RemoteErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

/** A body being read: chunks as they arrive, each wait bounded by the client's timeout. */
export interface ArtifactBody {
  /** Content-Length when the server sent one. */
  length: number | undefined;
  chunks: AsyncIterable<Uint8Array>;
  /** Stops reading (closes the connection) when the caller gives up early. */
  cancel(): void;
}

/** Watches one request: aborts it when nothing moved for `ms`. */
class IdleTimer {
  readonly ac = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;

  constructor(
    readonly ms: number,
    outer?: AbortSignal,
  ) {
    this.touch();
    if (outer?.aborted) this.ac.abort();
    else outer?.addEventListener('abort', () => this.ac.abort(), { once: true });
  }

  touch(ms = this.ms): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.ac.abort();
    }, ms);
    // A pending timer must not keep the process alive on its own.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export class RemoteCacheClient {
  private readonly base: string;

  constructor(readonly opts: RemoteClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  /** The URL shown to people: scheme, host and path only. */
  get displayUrl(): string {
    return this.base;
  }

  private url(id: string): string {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) throw new RemoteError('protocol', `artifact id ${JSON.stringify(id)} is not a plain hash`);
    return `${this.base}/v8/artifacts/${id}?slug=${encodeURIComponent(this.opts.team)}`;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}), ...extra };
  }

  /** One request with the idle bound on connect and headers; the caller owns the timer after. */
  private async request(method: string, url: string, init: { body?: AsyncIterable<Uint8Array>; headers?: Record<string, string> }, idle: IdleTimer): Promise<Response> {
    const failed: { error?: unknown } = {};
    try {
      return await fetch(url, {
        method,
        headers: this.headers(init.headers),
        signal: idle.ac.signal,
        redirect: 'follow',
        ...(init.body ? { body: toStream(init.body, idle, failed), duplex: 'half' } : {}),
      } as RequestInit);
    } catch (e) {
      idle.stop();
      if (failed.error !== undefined) throw failed.error;
      throw describeFailure(e, idle, `${method} ${this.displayUrl}`);
    }
  }

  /** Whether an artifact exists (HEAD). */
  async head(id: string, signal?: AbortSignal): Promise<boolean> {
    const idle = new IdleTimer(this.opts.timeoutMs, signal);
    const res = await this.request('HEAD', this.url(id), {}, idle);
    idle.stop();
    if (res.status === 404) return false;
    checkStatus(res, 'HEAD', this.displayUrl);
    return true;
  }

  /** Starts reading an artifact; undefined when the server does not have it (404). */
  async get(id: string, signal?: AbortSignal): Promise<ArtifactBody | undefined> {
    const idle = new IdleTimer(this.opts.timeoutMs, signal);
    const res = await this.request('GET', this.url(id), {}, idle);
    if (res.status === 404) {
      idle.stop();
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    }
    try {
      checkStatus(res, 'GET', this.displayUrl);
    } catch (e) {
      idle.stop();
      await res.body?.cancel().catch(() => undefined);
      throw e;
    }
    const len = res.headers.get('content-length');
    const length = len !== null && /^\d+$/.test(len) ? Number(len) : undefined;
    const body = res.body;
    const what = `GET ${this.displayUrl}`;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (!body) {
        idle.stop();
        return;
      }
      let got = 0;
      try {
        for await (const c of body as AsyncIterable<Uint8Array>) {
          idle.touch();
          got += c.byteLength;
          yield c;
        }
      } catch (e) {
        throw describeFailure(e, idle, what);
      } finally {
        idle.stop();
      }
      if (length !== undefined && got !== length) throw new RemoteError('protocol', `${what}: body truncated (${got} of ${length} bytes)`);
    }
    return {
      length,
      chunks: chunks(),
      cancel: () => {
        idle.stop();
        idle.ac.abort();
      },
    };
  }

  /** Uploads an artifact from chunks (streamed: a large one is never held in memory). A
   * chunk source that throws aborts the request, so the server never stores a partial body. */
  async put(id: string, chunks: AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<void> {
    const idle = new IdleTimer(this.opts.timeoutMs, opts.signal);
    const res = await this.request('PUT', this.url(id), { body: chunks, headers: { 'content-type': 'application/octet-stream', ...opts.headers } }, idle);
    try {
      checkStatus(res, 'PUT', this.displayUrl);
    } finally {
      idle.stop();
      await res.body?.cancel().catch(() => undefined);
    }
  }

  /** Reachability check (`GET /v8/artifacts/status`): 'ok', or why not. Never throws. */
  async status(): Promise<{ ok: true } | { ok: false; error: RemoteError }> {
    const idle = new IdleTimer(this.opts.timeoutMs);
    try {
      const res = await this.request('GET', `${this.base}/v8/artifacts/status?slug=${encodeURIComponent(this.opts.team)}`, {}, idle);
      idle.stop();
      await res.body?.cancel().catch(() => undefined);
      checkStatus(res, 'GET', this.displayUrl);
      return { ok: true };
    } catch (e) {
      return { ok: false, error: e instanceof RemoteError ? e : new RemoteError('protocol', String(e)) };
    }
  }
}

/** The slowest rate at which a server is expected to store an upload once it has it all. */
const SERVER_BYTES_PER_S = 8 * 1024 * 1024;

/** A request body from chunks; every chunk handed to the socket counts as progress. An
 * error of the source (a file that changed) is kept in `failed`, so the caller reports it as
 * the local problem it is, not as a sick server. */
function toStream(chunks: AsyncIterable<Uint8Array>, idle: IdleTimer, failed: { error?: unknown }): ReadableStream<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } catch (e) {
        failed.error = e;
        throw e;
      }
      if (r.done) {
        // A server may take the whole body before it stores and answers (turborepo-remote-cache
        // does): the wait for its answer grows by a second per 8 MiB sent.
        idle.touch(idle.ms + Math.ceil(sent / SERVER_BYTES_PER_S) * 1000);
        controller.close();
      } else {
        idle.touch();
        sent += r.value.byteLength;
        controller.enqueue(r.value);
      }
    },
    async cancel() {
      await it.return?.();
    },
  });
}

function checkStatus(res: Response, method: string, url: string): void {
  if (res.ok) return;
  if (res.status === 401 || res.status === 403) {
    throw new RemoteError('auth', `${method} ${url}: HTTP ${res.status} (check the token in BATCH_REMOTE_CACHE_TOKEN and the team)`, res.status);
  }
  throw new RemoteError('http', `${method} ${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, res.status);
}

/** A thrown fetch or stream error as a RemoteError with a short cause (ECONNREFUSED, ENOTFOUND …). */
function describeFailure(e: unknown, idle: IdleTimer, what: string): RemoteError {
  if (e instanceof RemoteError) return e;
  if (idle.timedOut) return new RemoteError('timeout', `${what}: no response within ${idle.ms} ms`);
  if (idle.ac.signal.aborted) return new RemoteError('unreachable', `${what}: cancelled`);
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const msg = code ?? (typeof cause?.message === 'string' ? cause.message : (e as Error).message);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new RemoteError('unreachable', `${what}: host not found (${code})`);
  return new RemoteError('unreachable', `${what}: ${msg}`);
}
