// The rule of docs/architecture.md, enforced: src/ is layered (front ends, app, kinds,
// executors, cache, core, util), a folder imports only from its own layer or the layers below
// it, and no two folders import each other, directly or round a loop. Type-only imports count:
// they tie the folders' designs together as much as value imports do.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Layer of each folder of src/, top first. A new folder must be placed here. */
export const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'watch', 'daemon', 'report'], // front ends: parse input, draw output, stay alive
  ['app'], // the project, a session from narrow settings, one run, the test phase
  ['kinds'], // step kinds: fields, definition, code files, which executor runs them
  ['executors'], // worker pool, child processes; a registry with one close-all
  ['cache'], // the output cache: one backend interface, local (and remote) backends
  ['batchfile', 'graph', 'fingerprint', 'plan', 'schedule', 'store', 'history', '(root)'], // core
  ['util'],
];

export interface Edge {
  from: string; // file, relative to src/
  to: string;
}

/** The folder a src/-relative file belongs to ('(root)' for src/index.ts). */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 1 ? parts[0]! : '(root)';
}

function rank(folder: string): number | undefined {
  const i = LAYERS.findIndex((l) => l.includes(folder));
  return i < 0 ? undefined : LAYERS.length - i;
}

/** Every import between src/ files (static, dynamic, type-only, re-export). */
export function importEdges(root = SRC): Edge[] {
  const edges: Edge[] = [];
  const walk = (dir: string): void => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, d.name);
      if (d.isDirectory()) walk(abs);
      else if (d.name.endsWith('.ts')) {
        const info = ts.preProcessFile(fs.readFileSync(abs, 'utf8'), true, true);
        for (const ref of info.importedFiles) {
          if (!ref.fileName.startsWith('.')) continue;
          const target = path.resolve(path.dirname(abs), ref.fileName).replace(/\.js$/, '.ts');
          edges.push({ from: path.relative(root, abs).split(path.sep).join('/'), to: path.relative(root, target).split(path.sep).join('/') });
        }
      }
    }
  };
  walk(root);
  return edges;
}

/** What breaks the rule: folders in no layer, imports up the layers, cycles between folders. */
export function violations(edges: readonly Edge[]): string[] {
  const found: string[] = [];
  const graph = new Map<string, Map<string, string>>(); // folder -> folder -> one example edge
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === b) continue;
    for (const f of [a, b]) if (rank(f) === undefined) found.push(`src/${f}/ is in no layer (${e.from} -> ${e.to}): place it in LAYERS and docs/architecture.md`);
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== undefined && rb !== undefined && rb > ra) found.push(`${e.from} imports ${e.to}: ${a}/ may not import from the layer above it (${b}/)`);
    if (!graph.has(a)) graph.set(a, new Map());
    if (!graph.get(a)!.has(b)) graph.get(a)!.set(b, `${e.from} -> ${e.to}`);
  }
  for (const cycle of folderCycles(graph)) found.push(`import cycle between folders ${cycle.folders.join(', ')}: ${cycle.examples.join('; ')}`);
  return [...new Set(found)];
}

/** Strongly connected components of more than one folder (Tarjan), each with its edges. */
function folderCycles(graph: Map<string, Map<string, string>>): { folders: string[]; examples: string[] }[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: { folders: string[]; examples: string[] }[] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) {
        const members = new Set(scc);
        const examples = scc.flatMap((a) => [...(graph.get(a) ?? [])].filter(([b]) => members.has(b)).map(([, ex]) => ex));
        out.push({ folders: scc.sort(), examples });
      }
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('architecture: layers and folder imports', () => {
  it('src/ keeps the rule: no import up the layers, no cycle between folders', () => {
    const edges = importEdges();
    expect(edges.length).toBeGreaterThan(100); // the walk found the imports at all
    expect(violations(edges)).toEqual([]);
  });

  it('every folder of src/ is placed in a layer', () => {
    const folders = fs.readdirSync(SRC, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(folders.filter((f) => rank(f) === undefined)).toEqual([]);
  });

  it('reports an import from below into a front end, and names the file', () => {
    const v = violations([{ from: 'plan/decide.ts', to: 'cli/args.ts' }]);
    expect(v).toEqual(['plan/decide.ts imports cli/args.ts: plan/ may not import from the layer above it (cli/)']);
  });

  it('reports a cycle between folders of one layer, with the edges that close it', () => {
    const v = violations([
      { from: 'graph/graph.ts', to: 'plan/decide.ts' },
      { from: 'plan/decide.ts', to: 'store/types.ts' },
      { from: 'store/store.ts', to: 'graph/graph.ts' },
      { from: 'store/store.ts', to: 'util/json.ts' },
    ]);
    expect(v).toHaveLength(1);
    expect(v[0]).toMatch(/^import cycle between folders graph, plan, store: /);
    expect(v[0]).toContain('store/store.ts -> graph/graph.ts');
  });

  it('reports a cycle between front ends, which the layers alone allow', () => {
    const v = violations([
      { from: 'cli/commands/daemon.ts', to: 'daemon/server.ts' },
      { from: 'daemon/resident.ts', to: 'cli/args.ts' },
    ]);
    expect(v).toEqual([expect.stringMatching(/^import cycle between folders cli, daemon: /)]);
  });

  it('reports a folder that is in no layer', () => {
    expect(violations([{ from: 'newthing/a.ts', to: 'util/json.ts' }])[0]).toMatch(/src\/newthing\/ is in no layer/);
  });
});
