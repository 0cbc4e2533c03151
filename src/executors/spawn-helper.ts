// Entry of the spawn helper: a small Node process batch starts once, which starts command
// steps on request. Forking copies the forking process's page tables and blocks it until the
// child has exec'd; batch, with its stores and caches, is several times larger than this
// process, so each step costs it far more to fork itself, and the fork stalls everything
// else batch does meanwhile. Protocol: one JSON object per line; stdin gets
// {t:'env', env} (the environment of every later request, sent when it changes) and
// {t:'run', id, spec} (a ChildSpec without its env); stdout says {t:'ready'} once, then
// {t:'start', id, pid} and {t:'end', id, end} per step.
// When batch goes away (stdin closes, even after kill -9), every running step's process
// group is killed and the helper exits: no step outlives its batch.
import { killGroup, startChild, type ChildSpec } from './child-run.js';

type Message = { t: 'run'; id: number; spec: Omit<ChildSpec, 'env'> } | { t: 'env'; env: Record<string, string> };

/** The environment batch last sent. */
let env: Record<string, string> = {};

const live = new Set<number>();

function send(msg: unknown): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

function shutdown(): never {
  for (const pgid of live) killGroup(pgid, 'SIGKILL');
  process.exit(0);
}

function handle(line: string): void {
  if (line.trim() === '') return;
  const msg = JSON.parse(line) as Message;
  if (msg.t === 'env') {
    env = msg.env;
    return;
  }
  if (msg.t !== 'run') return;
  let pid: number | undefined;
  void startChild({ ...msg.spec, env }, (p) => {
    pid = p;
    live.add(p);
    send({ t: 'start', id: msg.id, pid: p });
  }).then((end) => {
    if (pid !== undefined) live.delete(pid);
    send({ t: 'end', id: msg.id, end });
  });
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buf += chunk;
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    handle(line);
  }
});
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
// batch's output pipe gone: nobody can hear about the steps any more.
process.stdout.on('error', shutdown);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, shutdown);
// Before this line nothing was started: batch may start waiting steps itself if we die.
send({ t: 'ready' });
