// The report page's own script. It is inlined into report.html as the source text of
// `reportClient` (Function.prototype.toString), so it must stay self-contained: nothing
// from this module's scope is used inside it, only browser globals and the inlined dagre
// and uPlot. The declarations below type just what it touches, without pulling the DOM
// library into the whole (Node) project. All user text goes in through textContent.

interface El {
  setAttribute(name: string, value: string): void;
  appendChild<T>(child: T): T;
  textContent: string | null;
  className: string;
  clientWidth: number;
  style: { setProperty(name: string, value: string): void };
}
interface Ctx2d {
  font: string;
  measureText(s: string): { width: number };
}
interface DagreGraph {
  setGraph(opts: object): void;
  setDefaultEdgeLabel(fn: () => object): void;
  setNode(id: string, label: { width: number; height: number }): void;
  setEdge(from: string, to: string): void;
  node(id: string): { x: number; y: number; width: number; height: number };
  edge(e: { v: string; w: string }): { points: { x: number; y: number }[] };
  edges(): { v: string; w: string }[];
  graph(): { width?: number; height?: number };
}
declare const document: {
  getElementById(id: string): El | null;
  createElement(tag: string): El & { getContext(kind: '2d'): Ctx2d | null };
  createElementNS(ns: string, tag: string): El;
};
declare const dagre: { graphlib: { Graph: new () => DagreGraph }; layout(g: DagreGraph, opts?: object): void };
declare const uPlot: new (opts: object, data: (number | null)[][], target: El) => unknown;

interface ClientStep {
  name: string;
  selected: boolean;
  status?: string;
  action?: string;
  timeLabel: string;
  slower: boolean;
  deps: string[];
  kind?: string;
  group?: string;
}
interface ClientData {
  steps: ClientStep[];
  dag: { draw: boolean; note?: string };
  history: {
    runs: { id: string; label: string }[];
    charts: { step: string; durations: (number | null)[]; failed: (number | null)[]; slower: (number | null)[]; medianMs?: number; flagged: boolean }[];
    metrics?: { step: string; metric: string; values: (number | null)[]; bound?: { min?: number; max?: number }; breach?: string; flagged: boolean }[];
  };
}

export function reportClient(): void {
  const SVG = 'http://www.w3.org/2000/svg';
  const dataEl = document.getElementById('report-data');
  if (!dataEl) return;
  const data = JSON.parse(dataEl.textContent ?? '{}') as ClientData;

  const fmt = (ms: number): string => {
    if (ms < 1000) return `${Math.round(ms)}ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)}s`;
    const m = Math.floor(ms / 60000);
    return `${m}m${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}s`;
  };
  const svgEl = (tag: string, attrs: Record<string, string | number>): El => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  const colour = (s: ClientStep): { fill: string; text: string } => {
    if (!s.selected) return { fill: '#e4e4e4', text: '#555' };
    if (s.status === 'FAIL') return { fill: '#d64545', text: '#fff' };
    if (s.status === 'BLOCKED' || s.action === 'not-run') return { fill: '#f0ad4e', text: '#222' };
    if (s.action === 'restored') return { fill: '#5b8def', text: '#fff' };
    if (s.action === 'up-to-date') return { fill: '#d3ecd9', text: '#1d5b2c' };
    return { fill: '#2e9d49', text: '#fff' };
  };

  function drawDag(): void {
    const host = document.getElementById('dag');
    if (!host) return;
    if (!data.dag.draw) {
      host.textContent = data.dag.note ?? '';
      return;
    }
    const measure = document.createElement('canvas').getContext('2d');
    const width = (s: string, font: string): number => {
      if (!measure) return s.length * 8;
      measure.font = font;
      return measure.measureText(s).width;
    };
    const FONT = '13px system-ui, sans-serif';
    const SMALL = '11px system-ui, sans-serif';
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 48, marginx: 8, marginy: data.steps.some((s) => s.group) ? 22 : 8, ranker: data.steps.length > 100 ? 'longest-path' : 'network-simplex' });
    g.setDefaultEdgeLabel(() => ({}));
    const ids = new Map<string, string>();
    data.steps.forEach((s, i) => {
      const id = `n${i}`;
      ids.set(s.name, id);
      const w = Math.max(width(s.name, FONT), width(`${s.slower ? '▲ ' : ''}${s.timeLabel}`, SMALL)) + 24;
      g.setNode(id, { width: Math.ceil(w), height: 40 });
    });
    for (const s of data.steps) {
      for (const d of s.deps) {
        const from = ids.get(d);
        const to = ids.get(s.name);
        if (from && to) g.setEdge(from, to);
      }
    }
    dagre.layout(g);
    const gw = Math.ceil(g.graph().width ?? 100);
    const gh = Math.ceil(g.graph().height ?? 60);
    const svg = svgEl('svg', { width: gw, height: gh, viewBox: `0 0 ${gw} ${gh}`, role: 'img', 'aria-label': 'pipeline graph' });
    const defs = svg.appendChild(svgEl('defs', {}));
    const marker = defs.appendChild(svgEl('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }));
    marker.appendChild(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#888' }));
    for (const e of g.edges()) {
      const pts = g.edge(e).points;
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
      svg.appendChild(svgEl('path', { d, fill: 'none', stroke: '#999', 'stroke-width': 1.3, 'marker-end': 'url(#arrow)', class: 'edge' }));
    }
    // The instances of one forEach step, boxed under its name (drawn below the nodes).
    const boxes = new Map<string, { x0: number; y0: number; x1: number; y1: number }>();
    data.steps.forEach((s, i) => {
      if (!s.group) return;
      const n = g.node(`n${i}`);
      const b = boxes.get(s.group) ?? { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
      boxes.set(s.group, { x0: Math.min(b.x0, n.x - n.width / 2), y0: Math.min(b.y0, n.y - n.height / 2), x1: Math.max(b.x1, n.x + n.width / 2), y1: Math.max(b.y1, n.y + n.height / 2) });
    });
    for (const [name, b] of boxes) {
      svg.appendChild(svgEl('rect', { x: b.x0 - 5, y: b.y0 - 5, width: b.x1 - b.x0 + 10, height: b.y1 - b.y0 + 10, rx: 6, fill: '#f4f6fa', stroke: '#b8c2d6', 'stroke-dasharray': '4 3', class: 'group' }));
      const label = svg.appendChild(svgEl('text', { x: b.x0 - 3, y: b.y0 - 8 > 8 ? b.y0 - 8 : b.y1 + 16, fill: '#555', style: `font: ${SMALL}`, class: 'group-label' }));
      label.textContent = `${name} (forEach)`;
    }
    data.steps.forEach((s, i) => {
      const n = g.node(`n${i}`);
      const c = colour(s);
      const a = svg.appendChild(svgEl('a', { href: `#step-${i}`, class: 'node' }));
      const title = a.appendChild(svgEl('title', {}));
      title.textContent = `${s.name}: ${s.selected ? `${s.status ?? ''} ${s.action ?? ''}` : 'not selected'} (${s.timeLabel})${s.slower ? ' — slower than usual' : ''}`;
      a.appendChild(svgEl('rect', {
        x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height, rx: s.kind === 'command' ? 2 : 8,
        fill: c.fill, stroke: s.slower ? '#b00020' : '#0000', 'stroke-width': s.slower ? 3 : 0,
      }));
      const t1 = a.appendChild(svgEl('text', { x: n.x, y: n.y - 4, 'text-anchor': 'middle', fill: c.text, style: `font: ${FONT}` }));
      t1.textContent = s.name;
      const t2 = a.appendChild(svgEl('text', { x: n.x, y: n.y + 12, 'text-anchor': 'middle', fill: c.text, style: `font: ${SMALL}` }));
      t2.textContent = `${s.slower ? '▲ ' : ''}${s.timeLabel}`;
    });
    host.appendChild(svg);
  }

  function drawCharts(): void {
    const host = document.getElementById('charts');
    if (!host) return;
    const runs = data.history.runs;
    const xs = runs.map((_, i) => i);
    // Three charts a row on a laptop screen: (width − 2 gaps) / 3, less each box's padding and border.
    const w = Math.max(260, Math.min(420, Math.floor(((host.clientWidth || 900) - 28) / 3) - 18));
    for (const c of data.history.charts) {
      const box = host.appendChild(document.createElement('div'));
      box.className = c.flagged ? 'chart slower' : 'chart';
      const h = box.appendChild(document.createElement('h3'));
      h.textContent = `${c.flagged ? '▲ ' : ''}${c.step}${c.medianMs !== undefined ? ` — median ${fmt(c.medianMs)}` : ''}`;
      const med = c.medianMs;
      const readout = document.createElement('div');
      readout.className = 'readout';
      readout.textContent = '\u00a0';
      // The hovered run, written under the chart (uPlot's own legend is too wide for a grid).
      const onCursor = (u: { cursor: { idx?: number | null } }): void => {
        const i = u.cursor.idx;
        if (i === null || i === undefined) {
          readout.textContent = '\u00a0';
          return;
        }
        const d = c.durations[i] ?? null;
        const f = c.failed[i] ?? null;
        const what = d !== null ? `${fmt(d)}${c.slower[i] !== null ? ' — slower than usual' : ''}` : f !== null ? `failed after ${fmt(f)}` : 'did not run';
        readout.textContent = `${runs[i]?.label ?? ''} · ${what} · run ${runs[i]?.id ?? ''}`;
      };
      new uPlot(
        {
          width: w,
          height: 150,
          scales: { x: { time: false }, y: { range: (_u: unknown, _min: number, max: number) => [0, max > 0 ? max * 1.15 : 1] } },
          axes: [
            // Whole runs only: the x scale is the run's position in the window.
            { incrs: [1, 2, 5, 10, 20, 50], space: 64, values: (_u: unknown, splits: number[]) => splits.map((i) => runs[i]?.label ?? ''), size: 30, font: '10px system-ui' },
            { values: (_u: unknown, splits: number[]) => splits.map((v) => fmt(v)), size: 50, font: '10px system-ui' },
          ],
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          hooks: { setCursor: [onCursor] },
          series: [
            {},
            { label: 'passed', stroke: '#2e7dd7', width: 1.5, spanGaps: true, points: { size: 5 } },
            { label: 'failed', stroke: '#d64545', width: 0, points: { size: 7, fill: '#fff', stroke: '#d64545' } },
            { label: 'slower', stroke: '#b00020', width: 0, points: { size: 9, fill: '#b00020', stroke: '#b00020' } },
            { label: 'median', stroke: '#999', width: 1, dash: [4, 4], points: { show: false } },
          ],
        },
        [xs, c.durations, c.failed, c.slower, xs.map(() => (med === undefined ? null : med))],
        box,
      );
      box.appendChild(readout);
    }
  }

  /** One chart per recorded metric: its value per run, the bounds' min and max dashed. */
  function drawMetricCharts(): void {
    const host = document.getElementById('metric-charts');
    if (!host) return;
    const runs = data.history.runs;
    const xs = runs.map((_, i) => i);
    const w = Math.max(260, Math.min(420, Math.floor(((host.clientWidth || 900) - 28) / 3) - 18));
    for (const c of data.history.metrics ?? []) {
      const box = host.appendChild(document.createElement('div'));
      box.className = c.flagged ? 'chart slower metric' : 'chart metric';
      box.setAttribute('data-metric', `${c.step} ${c.metric}`);
      const h = box.appendChild(document.createElement('h3'));
      h.textContent = `${c.flagged ? '▲ ' : ''}${c.step} · ${c.metric}${c.breach ? ` — out of bounds: ${c.breach}` : ''}`;
      const readout = document.createElement('div');
      readout.className = 'readout';
      readout.textContent = '\u00a0';
      const onCursor = (u: { cursor: { idx?: number | null } }): void => {
        const i = u.cursor.idx;
        const v = i === null || i === undefined ? null : (c.values[i] ?? null);
        readout.textContent = i === null || i === undefined ? '\u00a0' : `${runs[i]?.label ?? ''} · ${v === null ? 'not recorded' : String(v)} · run ${runs[i]?.id ?? ''}`;
      };
      const flat = (v: number | undefined): (number | null)[] => xs.map(() => (v === undefined ? null : v));
      new uPlot(
        {
          width: w,
          height: 150,
          scales: { x: { time: false } },
          axes: [
            { incrs: [1, 2, 5, 10, 20, 50], space: 64, values: (_u: unknown, splits: number[]) => splits.map((i) => runs[i]?.label ?? ''), size: 30, font: '10px system-ui' },
            { size: 50, font: '10px system-ui' },
          ],
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          hooks: { setCursor: [onCursor] },
          series: [
            {},
            { label: c.metric, stroke: c.flagged ? '#b00020' : '#2e7dd7', width: 1.5, spanGaps: true, points: { size: 5 } },
            { label: 'min', stroke: '#999', width: 1, dash: [4, 4], points: { show: false } },
            { label: 'max', stroke: '#999', width: 1, dash: [4, 4], points: { show: false } },
          ],
        },
        [xs, c.values, flat(c.bound?.min), flat(c.bound?.max)],
        box,
      );
      box.appendChild(readout);
    }
  }

  // The table is already on the page; the pictures come right after the first paint.
  setTimeout(() => {
    drawDag();
    drawCharts();
    drawMetricCharts();
    document.getElementById('report-data')?.setAttribute('data-drawn', 'true');
  }, 0);
}
