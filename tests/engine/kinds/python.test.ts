// The `python` step kind: a script with `args`, run by python3, whose code fingerprint follows
// the script's local imports (`import x`, `from pkg import mod`, `from .y import z`), resolved
// to project files the way Python resolves them for a script; a module that appears where an
// import was looked for is noticed, by the full check and by the stat snapshot alike.
import { afterEach, describe, expect, it } from 'vitest';
import { parseImports } from '../../../src/kinds/python.js';
import { TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';

const TRAIN = `import sys, os
import helpers                       # src/helpers.py, from the script's folder
from models import net               # a package, and a submodule named by a from-import
import json, not_installed_anywhere  # the standard library; a module nowhere (never imported at run time)
from models.layers import (
    dense,   # a comment inside the parentheses
    conv,
)
out, n = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, 'w') as f:
    f.write(helpers.greet() + net.NAME + str(dense + conv) + n)
`;

const files = (args: string): Record<string, string> => ({
  'Batchfile.ts': batchfile(`train: { python: 'src/train.py', args: ${args}, inputs: ['data/in.csv'], outputs: ['out/model.txt'] },`),
  'data/in.csv': 'a,b\n1,2\n',
  // Only imported when it exists: a try keeps the script running without it.
  'src/train.py': TRAIN.replace('import json, not_installed_anywhere  #', 'import json  #') + 'try:\n    import not_installed_anywhere\nexcept ImportError:\n    pass\n',
  'src/helpers.py': "def greet():\n    return 'hi '\n",
  'src/models/__init__.py': 'from .base import BASE\n',
  'src/models/base.py': 'BASE = 1\n',
  'src/models/net.py': "NAME = 'net'\n",
  'src/models/layers.py': 'dense = 1\nconv = 2\n',
  'src/unused.py': 'print("never imported")\n',
});

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

/** Snapshots are taken at once (no racy window), so the second run is decided by stat alone. */
const ENV = { BATCH_RACY_WINDOW_MS: '0' };

function checksOf(stdout: string): { bySnapshot: number } {
  return (JSON.parse(stdout) as { checks: { bySnapshot: number } }).checks;
}

describe('python steps', () => {
  it('parses import statements: lists, aliases, relative levels, parentheses, continuations; not comments', () => {
    const refs = parseImports(`import a, b.c as d  # import nothing
from . import sib
from ..up.mod import (x,
   y as z)   # comment
from pkg import *
x = 1; import e
from f \\
  import g
# import commented
def f():
    from .inner import h
`);
    expect(refs).toEqual([
      { level: 0, module: 'a', names: [] },
      { level: 0, module: 'b.c', names: [] },
      { level: 1, module: '', names: ['sib'] },
      { level: 2, module: 'up.mod', names: ['x', 'y'] },
      { level: 0, module: 'pkg', names: [] },
      { level: 0, module: 'e', names: [] },
      { level: 0, module: 'f', names: ['g'] },
      { level: 1, module: 'inner', names: ['h'] },
    ]);
  });

  it('runs the script with its args; its code is the script and the modules it imports, followed through packages', { timeout: 240_000 }, async () => {
    p = TempProject.create(files(`['out/model.txt', '3']`));
    const first = await p.run([], { env: ENV });
    expect(first.code, first.stderr).toBe(0);
    expect(first.steps[0]).toMatchObject({ name: 'train', status: 'PASS', action: 'ran' });
    expect(p.read('out/model.txt')).toBe('hi net33');

    const again = await p.batch(['--json'], { env: ENV });
    expect(JSON.parse(again.stdout).steps[0].action).toBe('up-to-date');
    expect(checksOf(again.stdout).bySnapshot).toBe(1);

    // A module reached only through a package's __init__.py's relative import.
    p.write('src/models/base.py', 'BASE = 2\n');
    const explained = await p.batch(['explain', 'train', '--json'], { env: ENV });
    expect(JSON.parse(explained.stdout).steps[0]).toEqual({ name: 'train', decision: 'run', reasons: ['code changed: src/models/base.py'] });
    const edited = await p.run([], { env: ENV });
    expect(edited.steps[0]).toMatchObject({ action: 'ran', reason: 'code changed: src/models/base.py' });

    // Each of the others counts too; a Python file it does not import does not.
    for (const f of ['src/helpers.py', 'src/models/net.py', 'src/models/layers.py', 'src/models/__init__.py', 'src/train.py']) {
      p.write(f, `${p.read(f)}\n# edited\n`);
      const r = await p.run([], { env: ENV });
      expect(r.steps[0], f).toMatchObject({ action: 'ran', reason: `code changed: ${f}` });
    }
    p.write('src/unused.py', 'print("edited")\n');
    expect((await p.run([], { env: ENV })).steps[0]!.action).toBe('up-to-date');
  });

  it('a module that appears where an import was looked for reruns the step, though the snapshot held before', async () => {
    p = TempProject.create(files(`['out/model.txt', '3']`));
    expect((await p.run([], { env: ENV })).code).toBe(0);
    const held = await p.batch(['--json'], { env: ENV });
    expect(checksOf(held.stdout).bySnapshot).toBe(1);
    p.write('src/not_installed_anywhere.py', 'IMPORTED = True\n');
    const r = await p.run([], { env: ENV });
    expect(r.steps[0]).toMatchObject({ action: 'ran', reason: 'code added: src/not_installed_anywhere.py' });
  });

  it('args are part of the definition: changing them reruns the step', async () => {
    p = TempProject.create(files(`['out/model.txt', '3']`));
    expect((await p.run([], { env: ENV })).code).toBe(0);
    p.write('Batchfile.ts', files(`['out/model.txt', '4']`)['Batchfile.ts']!);
    const r = await p.run([], { env: ENV });
    expect(r.steps[0]).toMatchObject({ action: 'ran', reason: 'command changed' });
    expect(p.read('out/model.txt')).toBe('hi net34');
  });

  it('bad input: a missing script, args that are not strings, two kinds at once: exit 2 naming the step and field', async () => {
    const cases: [string, RegExp][] = [
      [`bad: { python: 'src/missing.py', outputs: ['o.txt'] },`, /step "bad"\.python: script "src\/missing\.py" does not exist/],
      [`bad: { python: 'src/train.py', args: [1], outputs: ['o.txt'] },`, /step "bad"\.args: must be an array of strings/],
      [`bad: { python: 'src/train.py', command: 'true', outputs: ['o.txt'] },`, /step "bad": needs exactly one of `run` \(a module path\), `command` \(a shell string or argv array\) or `python` \(a script path\)/],
      [`bad: { command: 'true', args: ['x'], outputs: ['o.txt'] },`, /step "bad": field "args" belongs to `python` steps/],
    ];
    for (const [step, error] of cases) {
      p?.cleanup();
      p = TempProject.create({ ...files('[]'), 'Batchfile.ts': batchfile(step) });
      const r = await p.batch([]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(error);
      expect(p.exists('o.txt')).toBe(false);
    }
  });
});
