import fs from 'node:fs';
import path from 'node:path';

function git(root: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    // Looked up here: a no-op starts no git process, and loading node:child_process is ~3 ms.
    process.getBuiltinModule('node:child_process').execFile('git', args, { cwd: root, timeout: 5000, maxBuffer: 1 << 20 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/** The folder holding `.git` at or above `root`, if any: outside a work tree no git process
 * is started at all (each spawn forks the whole batch process). */
function workTreeOf(root: string): string | undefined {
  let dir = path.resolve(root);
  for (;;) {
    if (fs.existsSync(path.join(dir, '.git'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The commit HEAD names, read from the repository's files as git would (`.git` a folder or a
 * `gitdir:` file, a worktree's common dir, loose refs, then packed-refs): no git process.
 * Undefined when the files say something this does not read (another ref storage, an unborn
 * branch): the caller then asks git. */
export function headFromFiles(workTree: string): string | undefined {
  const dotGit = path.join(workTree, '.git');
  let gitDir = dotGit;
  if (fs.statSync(dotGit, { throwIfNoEntry: false })?.isFile()) {
    const m = /^gitdir:\s*(.+?)\s*$/m.exec(readText(dotGit) ?? '');
    if (!m) return undefined;
    gitDir = path.resolve(workTree, m[1]!);
  }
  const common = readText(path.join(gitDir, 'commondir'));
  const commonDir = common === undefined ? gitDir : path.resolve(gitDir, common.trim());
  let head = readText(path.join(gitDir, 'HEAD'))?.trim();
  // A symbolic ref may name another (rare): follow a few.
  for (let hops = 0; hops < 5 && head !== undefined; hops++) {
    if (SHA.test(head)) return head;
    const m = /^ref:\s*(refs\/\S+)$/.exec(head);
    if (!m) return undefined;
    const ref = m[1]!;
    head = (readText(path.join(gitDir, ref)) ?? readText(path.join(commonDir, ref)))?.trim() ?? packedRef(commonDir, ref);
  }
  return undefined;
}

function packedRef(commonDir: string, ref: string): string | undefined {
  for (const line of (readText(path.join(commonDir, 'packed-refs')) ?? '').split('\n')) {
    const [sha, name] = line.split(' ');
    if (name === ref && sha && SHA.test(sha)) return sha;
  }
  return undefined;
}

/** The commit checked out; undefined outside git (or with no commit yet). */
export async function gitCommit(root: string): Promise<string | undefined> {
  const tree = workTreeOf(root);
  if (tree === undefined) return undefined;
  return headFromFiles(tree) ?? (await git(root, ['rev-parse', 'HEAD']))?.trim();
}

/** Whether the work tree differs from its commit (tracked files only); undefined when git
 * cannot say. `git status` reads every tracked file's stat, so a run asks only when it
 * executes something (app/pipeline.ts). */
export async function gitDirty(root: string): Promise<boolean | undefined> {
  const status = await git(root, ['status', '--porcelain', '--untracked-files=no']);
  return status === undefined ? undefined : status.trim().length > 0;
}

/** The commit checked out and whether the work tree differs from it; undefined outside git. */
export async function gitInfo(root: string): Promise<{ commit: string; dirty: boolean } | undefined> {
  const commit = await gitCommit(root);
  if (commit === undefined) return undefined;
  return { commit, dirty: (await gitDirty(root)) ?? false };
}

/** A run's git facts, gathered as it needs them: the commit from the repository's files at
 * once, and `git status` only once `startDirty` is called (the run executes something), so a
 * no-op starts no git process. */
export class RunGit {
  private readonly commit: Promise<string | undefined>;
  private dirty: Promise<boolean | undefined> | undefined;

  constructor(private readonly root: string) {
    this.commit = gitCommit(root);
  }

  startDirty(): void {
    this.dirty ??= this.commit.then((c) => (c === undefined ? undefined : gitDirty(this.root)));
  }

  /** For the run record: the commit, and `dirty` when it was asked for. */
  async result(): Promise<{ commit: string; dirty?: boolean } | undefined> {
    const commit = await this.commit;
    if (commit === undefined) return undefined;
    const dirty = await this.dirty;
    return dirty === undefined ? { commit } : { commit, dirty };
  }
}
