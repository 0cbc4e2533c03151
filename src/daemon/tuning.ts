// The daemon process's own memory settings (docs/daemon.md, "Memory"): the Node options and
// malloc settings it is launched with, and what it undoes once started so that nothing of
// them reaches a step. Loaded by the client (launch.ts), so it imports nothing.

/** The young generation of the daemon's main thread: 2 × 4 MB instead of Node's 2 × 16 MB.
 * A run's short-lived objects die there as well; the 24 MB saved stay off its RSS. */
export const DAEMON_SEMI_SPACE_FLAG = '--max-semi-space-size=4';

/** Node options the daemon starts with: --expose-gc, so that it collects its garbage between
 * runs (server.ts), and the young generation above. */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--expose-gc', DAEMON_SEMI_SPACE_FLAG];

/** glibc's malloc for the daemon: 2 arenas instead of up to 8 per core (its worker, libuv and
 * V8 threads each got one, and memory freed in one is not reused by another), and memory
 * given back to the system at once: blocks of 128 KiB and more are mapped and unmapped on
 * their own, and free memory at the top of the heap is trimmed past 128 KiB (the defaults
 * let both thresholds grow to 32 MB after the first large block was freed). Read by glibc
 * when the process starts; ignored elsewhere (musl, macOS). */
export const DAEMON_MALLOC_TUNABLES = 'glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072';

/** The environment to launch the daemon with: `env` with the malloc settings above, unless
 * it has malloc settings of its own (the user's choice stands). */
export function daemonEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.GLIBC_TUNABLES !== undefined || Object.keys(env).some((k) => k.startsWith('MALLOC_'))) return env;
  return { ...env, GLIBC_TUNABLES: DAEMON_MALLOC_TUNABLES };
}

/** Called once the daemon started, before it starts any thread or process: what the settings
 * above were for is done (glibc read its variable, V8 sized the main thread's heap), so
 * - the malloc variable leaves the daemon's environment: the spawn helper and the worker
 *   threads copy it, and a step must see what a direct run's step sees (served steps get the
 *   client's environment anyway);
 * - worker threads (`run` steps, hash helpers) get Node's default young generation again: V8
 *   reads the flag when each thread's heap is made, and a `run` step that allocates much runs
 *   as fast as in a direct run. */
export function settleDaemonTuning(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): void {
  if (env.GLIBC_TUNABLES === DAEMON_MALLOC_TUNABLES) delete env.GLIBC_TUNABLES;
  settleDaemonFlags(execArgv);
}

/** The V8 half of settleDaemonTuning, which bin/batch.js calls first thing, before the CLI is
 * compiled: V8 stamps a code cache with its flags as they are when the cache is written (at
 * exit), and checks them when it is read. Reset later, the daemon wrote caches under other
 * flags than it read them with, and every start had them refused and rewrote them. The main
 * thread's heap was sized when the process started, so resetting first changes nothing else. */
export function settleDaemonFlags(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.includes(DAEMON_SEMI_SPACE_FLAG)) process.getBuiltinModule('node:v8').setFlagsFromString('--max-semi-space-size=0');
}
