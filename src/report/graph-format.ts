import type { Graph } from '../graph/graph.js';

/** A description on one line (a graph line or attribute holds no newline). */
function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Mermaid ids must be plain; labels carry the real names, quoted. */
function mermaidId(i: number): string {
  return `s${i}`;
}

function mermaidLabel(s: string): string {
  return s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}

/** Steps in graph order, the instances of one forEach step gathered (under its name) where
 * the first of them is. */
function grouped(graph: Graph): { group?: string; names: string[] }[] {
  const out: { group?: string; names: string[] }[] = [];
  const groups = new Map<string, string[]>();
  for (const n of graph.order) {
    const of = graph.steps.get(n)!.instanceOf;
    if (of === undefined) {
      out.push({ names: [n] });
      continue;
    }
    let list = groups.get(of);
    if (!list) {
      list = [];
      groups.set(of, list);
      out.push({ group: of, names: list });
    }
    list.push(n);
  }
  return out;
}

export function graphToMermaid(graph: Graph): string {
  const ids = new Map(graph.order.map((n, i) => [n, mermaidId(i)]));
  const lines = ['flowchart LR'];
  grouped(graph).forEach((g, gi) => {
    const indent = g.group === undefined ? '  ' : '    ';
    if (g.group !== undefined) lines.push(`  subgraph g${gi}["${mermaidLabel(g.group)} (forEach)"]`);
    for (const n of g.names) {
      const s = graph.steps.get(n)!;
      const shape = s.kind === 'run' ? [`[`, `]`] : [`[/`, `/]`];
      lines.push(`${indent}${ids.get(n)}${shape[0]}"${mermaidLabel(n)}"${shape[1]}`);
    }
    if (g.group !== undefined) lines.push('  end');
  });
  for (const n of graph.order) for (const d of graph.deps.get(n) ?? []) lines.push(`  ${ids.get(d)} --> ${ids.get(n)}`);
  return lines.join('\n');
}

function dotQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function graphToDot(graph: Graph): string {
  const lines = ['digraph batch {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  grouped(graph).forEach((g, gi) => {
    const indent = g.group === undefined ? '  ' : '    ';
    if (g.group !== undefined) lines.push(`  subgraph cluster_${gi} {`, `    label=${dotQuote(`${g.group} (forEach)`)};`);
    for (const n of g.names) {
      const s = graph.steps.get(n)!;
      const attrs = [...(s.kind === 'command' ? ['shape=parallelogram'] : []), ...(s.description ? [`tooltip=${dotQuote(oneLine(s.description))}`] : [])];
      lines.push(`${indent}${dotQuote(n)}${attrs.length > 0 ? ` [${attrs.join(', ')}]` : ''};`);
    }
    if (g.group !== undefined) lines.push('  }');
  });
  for (const n of graph.order) for (const d of graph.deps.get(n) ?? []) lines.push(`  ${dotQuote(d)} -> ${dotQuote(n)};`);
  lines.push('}');
  return lines.join('\n');
}

/** An indented tree: each step under what it needs; repeats are marked, not expanded. */
export function graphToText(graph: Graph): string {
  const lines: string[] = [];
  const roots = graph.order.filter((n) => (graph.dependents.get(n) ?? []).length === 0);
  const seen = new Set<string>();
  const visit = (n: string, depth: number): void => {
    const s = graph.steps.get(n)!;
    const again = seen.has(n);
    const about = !again && s.description ? ` — ${oneLine(s.description)}` : '';
    lines.push(`${'  '.repeat(depth)}${depth > 0 ? '└─ ' : ''}${n} (${s.kind})${again ? ' …' : ''}${about}`);
    if (again) return;
    seen.add(n);
    for (const d of graph.deps.get(n) ?? []) visit(d, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  return lines.join('\n');
}
