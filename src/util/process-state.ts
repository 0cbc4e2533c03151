import { AsyncLocalStorage, createHook } from 'node:async_hooks';

/** Process-wide events whose listeners a library may add and leave behind. */
const EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGBREAK', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection', 'warning'] as const;

type Listener = (...args: unknown[]) => void;

interface Saved {
  env: Record<string, string | undefined>;
  cwd: string;
  exitCode: typeof process.exitCode;
  listeners: Map<string, Listener[]>;
}

function save(): Saved {
  return {
    env: { ...process.env },
    cwd: process.cwd(),
    exitCode: process.exitCode,
    listeners: new Map(EVENTS.map((e) => [e, process.listeners(e as NodeJS.Signals) as Listener[]])),
  };
}

function restore(s: Saved): void {
  for (const k of Object.keys(process.env)) if (!(k in s.env)) delete process.env[k];
  for (const [k, v] of Object.entries(s.env)) if (process.env[k] !== v && v !== undefined) process.env[k] = v;
  if (process.cwd() !== s.cwd) process.chdir(s.cwd);
  process.exitCode = s.exitCode;
  for (const [event, before] of s.listeners) {
    const keep = new Set(before);
    for (const l of process.listeners(event as NodeJS.Signals) as Listener[]) {
      if (!keep.has(l)) process.removeListener(event, l);
    }
  }
}

const scope = new AsyncLocalStorage<Set<NodeJS.Timeout>>();
let hook: ReturnType<typeof createHook> | undefined;
let open = 0;

/** Timers created while `fn` runs (in its async context) are noted, so that those still
 * pending after it can be cleared; the hook is enabled only while some `fn` runs. */
function trackTimers(): void {
  hook ??= createHook({
    init(_id, type, _trigger, resource) {
      if (type !== 'Timeout') return;
      scope.getStore()?.add(resource as NodeJS.Timeout);
    },
  });
  if (open++ === 0) hook.enable();
}

function untrackTimers(): void {
  if (--open === 0) hook?.disable();
}

/**
 * Runs `fn` (a library run in this process, e.g. Vitest's Node API) and then puts back what it
 * may have changed for the whole process: every environment variable, the working folder,
 * `process.exitCode`, listeners on signals and process events, and timers it left pending.
 * A long-lived process (daemon, watch mode) runs later steps with exactly the state it had.
 */
export async function withProcessState<T>(fn: () => Promise<T>): Promise<T> {
  const saved = save();
  const timers = new Set<NodeJS.Timeout>();
  trackTimers();
  try {
    return await scope.run(timers, fn);
  } finally {
    untrackTimers();
    restore(saved);
    for (const t of timers) clearTimeout(t);
  }
}
