// The report page's own script. It is inlined into report.html as the source text of the
// functions in CLIENT_FUNCTIONS (Function.prototype.toString), followed by a call of
// `reportClient`, so those functions may use each other and browser globals (and the inlined
// dagre and uPlot) but nothing else from this module's scope: no imports, no constants.
// The declarations below type just what they touch, without pulling the DOM library into the
// whole (Node) project. All user text goes in through textContent.
import type { ChartSeries } from './charts.js';

interface El {
  setAttribute(name: string, value: string): void;
  /** A chart's box keeps its uPlot instance here (handy from the browser's console). */
  uplot?: unknown;
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
type Box = { x0: number; y0: number; x1: number; y1: number };
type Cursor = { cursor: { idx?: number | null } };

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
  description?: string;
}
/** The chart series as charts.ts builds them (a type import: erased, nothing inlined). */
type ClientChart = ChartSeries;
interface ClientMetric {
  step: string;
  metric: string;
  runs: string[];
  labels: string[];
  values: number[];
  bound?: { min?: number; max?: number };
  breach?: string;
  flagged: boolean;
}
interface ClientData {
  steps: ClientStep[];
  dag: { draw: boolean; note?: string };
  history: { charts: ClientChart[]; metrics?: ClientMetric[] };
}


function fmt(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)}s`;
  const m = Math.floor(ms / 60000);
  return `${m}m${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}s`;
}

function svgEl(tag: string, attrs: Record<string, string | number>): El {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function colour(s: ClientStep): { fill: string; text: string } {
  if (!s.selected) return { fill: '#e4e4e4', text: '#555' };
  if (s.status === 'FAIL') return { fill: '#d64545', text: '#fff' };
  if (s.status === 'BLOCKED' || s.action === 'not-run') return { fill: '#f0ad4e', text: '#222' };
  if (s.action === 'restored') return { fill: '#5b8def', text: '#fff' };
  if (s.action === 'up-to-date') return { fill: '#d3ecd9', text: '#1d5b2c' };
  return { fill: '#2e9d49', text: '#fff' };
}

/** A text's width in a font, measured on a canvas (8 px a character without one). */
function textWidth(measure: Ctx2d | null, s: string, font: string): number {
  if (!measure) return s.length * 8;
  measure.font = font;
  return measure.measureText(s).width;
}

/** Lays out the steps with dagre: node i is `n${i}`. */
function layoutDag(steps: ClientStep[], measure: Ctx2d | null): DagreGraph {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 48, marginx: 8, marginy: 8, ranker: steps.length > 100 ? 'longest-path' : 'network-simplex' });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Map<string, string>();
  steps.forEach((s, i) => {
    ids.set(s.name, `n${i}`);
    const w = Math.max(textWidth(measure, s.name, '13px system-ui, sans-serif'), textWidth(measure, `${s.slower ? '▲ ' : ''}${s.timeLabel}`, '11px system-ui, sans-serif')) + 24;
    g.setNode(`n${i}`, { width: Math.ceil(w), height: 40 });
  });
  for (const s of steps) {
    for (const d of s.deps) {
      const from = ids.get(d);
      const to = ids.get(s.name);
      if (from && to) g.setEdge(from, to);
    }
  }
  dagre.layout(g);
  return g;
}

/** The box around the instances of each forEach step (5 px outside their nodes). */
function groupBoxes(g: DagreGraph, steps: ClientStep[]): Map<string, Box> {
  const boxes = new Map<string, Box>();
  steps.forEach((s, i) => {
    if (!s.group) return;
    const n = g.node(`n${i}`);
    const b = boxes.get(s.group) ?? { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
    boxes.set(s.group, { x0: Math.min(b.x0, n.x - n.width / 2 - 5), y0: Math.min(b.y0, n.y - n.height / 2 - 5), x1: Math.max(b.x1, n.x + n.width / 2 + 5), y1: Math.max(b.y1, n.y + n.height / 2 + 5) });
  });
  return boxes;
}

/** Everything the picture draws: nodes, every point of every edge (dagre's own size leaves
 * out edges routed around the nodes), group boxes and their labels above them. */
function dagExtent(g: DagreGraph, steps: ClientStep[], boxes: Map<string, Box>, measure: Ctx2d | null): Box {
  const e: Box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  const add = (x0: number, y0: number, x1: number, y1: number): void => {
    e.x0 = Math.min(e.x0, x0);
    e.y0 = Math.min(e.y0, y0);
    e.x1 = Math.max(e.x1, x1);
    e.y1 = Math.max(e.y1, y1);
  };
  steps.forEach((_, i) => {
    const n = g.node(`n${i}`);
    add(n.x - n.width / 2, n.y - n.height / 2, n.x + n.width / 2, n.y + n.height / 2);
  });
  // The stroke and the arrow head reach a few pixels past an edge's points.
  for (const ed of g.edges()) for (const p of g.edge(ed).points) add(p.x - 6, p.y - 6, p.x + 6, p.y + 6);
  for (const [name, b] of boxes) add(b.x0, b.y0 - 22, Math.max(b.x1, b.x0 + 2 + textWidth(measure, `${name} (forEach)`, '11px system-ui, sans-serif')), b.y1);
  if (e.x0 > e.x1) add(0, 0, 100, 60);
  return e;
}

function drawEdges(svg: El, g: DagreGraph): void {
  const defs = svg.appendChild(svgEl('defs', {}));
  const marker = defs.appendChild(svgEl('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }));
  marker.appendChild(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#888' }));
  for (const e of g.edges()) {
    const d = g.edge(e).points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    svg.appendChild(svgEl('path', { d, fill: 'none', stroke: '#999', 'stroke-width': 1.3, 'marker-end': 'url(#arrow)', class: 'edge' }));
  }
}

/** The instances of one forEach step, boxed under its name (drawn below the nodes). */
function drawGroups(svg: El, boxes: Map<string, Box>): void {
  for (const [name, b] of boxes) {
    svg.appendChild(svgEl('rect', { x: b.x0, y: b.y0, width: b.x1 - b.x0, height: b.y1 - b.y0, rx: 6, fill: '#f4f6fa', stroke: '#b8c2d6', 'stroke-dasharray': '4 3', class: 'group' }));
    const label = svg.appendChild(svgEl('text', { x: b.x0 + 2, y: b.y0 - 6, fill: '#555', style: 'font: 11px system-ui, sans-serif', class: 'group-label' }));
    label.textContent = `${name} (forEach)`;
  }
}

function drawNodes(svg: El, g: DagreGraph, steps: ClientStep[]): void {
  steps.forEach((s, i) => {
    const n = g.node(`n${i}`);
    const c = colour(s);
    const a = svg.appendChild(svgEl('a', { href: `#step-${i}`, class: 'node' }));
    const title = a.appendChild(svgEl('title', {}));
    title.textContent = `${s.name}: ${s.selected ? `${s.status ?? ''} ${s.action ?? ''}` : 'not selected'} (${s.timeLabel})${s.slower ? ' — slower than usual' : ''}${s.description ? `\n${s.description}` : ''}`;
    a.appendChild(svgEl('rect', {
      x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height, rx: s.kind === 'command' ? 2 : 8,
      fill: c.fill, stroke: s.slower ? '#b00020' : '#0000', 'stroke-width': s.slower ? 3 : 0,
    }));
    const t1 = a.appendChild(svgEl('text', { x: n.x, y: n.y - 4, 'text-anchor': 'middle', fill: c.text, style: 'font: 13px system-ui, sans-serif' }));
    t1.textContent = s.name;
    const t2 = a.appendChild(svgEl('text', { x: n.x, y: n.y + 12, 'text-anchor': 'middle', fill: c.text, style: 'font: 11px system-ui, sans-serif' }));
    t2.textContent = `${s.slower ? '▲ ' : ''}${s.timeLabel}`;
  });
}

/** The pipeline picture: sized (and its view box placed) to hold all it draws. */
function drawDag(data: ClientData): void {
  const host = document.getElementById('dag');
  if (!host) return;
  if (!data.dag.draw) {
    host.textContent = data.dag.note ?? '';
    return;
  }
  const measure = document.createElement('canvas').getContext('2d');
  const g = layoutDag(data.steps, measure);
  const boxes = groupBoxes(g, data.steps);
  const e = dagExtent(g, data.steps, boxes, measure);
  const x0 = Math.floor(e.x0 - 4);
  const y0 = Math.floor(e.y0 - 4);
  const w = Math.ceil(e.x1 + 4) - x0;
  const h = Math.ceil(e.y1 + 4) - y0;
  const svg = svgEl('svg', { width: w, height: h, viewBox: `${x0} ${y0} ${w} ${h}`, role: 'img', 'aria-label': 'pipeline graph' });
  drawGroups(svg, boxes);
  drawEdges(svg, g);
  drawNodes(svg, g, data.steps);
  host.appendChild(svg);
}

/** Chart width: three charts a row on a laptop screen ((width − 2 gaps) / 3, less each box's
 * padding and border). */
function chartWidth(host: El): number {
  return Math.max(260, Math.min(420, Math.floor(((host.clientWidth || 900) - 28) / 3) - 18));
}

/** uPlot options shared by the charts: one x position per execution, labelled with its run's
 * time; the hovered point is written under the chart (uPlot's legend is too wide for a grid). */
function chartOptions(width: number, labels: string[], onCursor: (u: Cursor) => void, y: object, yValues: ((u: unknown, splits: number[]) => string[]) | undefined, series: object[]): object {
  return {
    width,
    height: 150,
    // Half a step of room either side, so the first and last points are whole dots.
    scales: { x: { time: false, range: (): [number, number] => [-0.5, Math.max(labels.length, 1) - 0.5] }, y },
    axes: [
      { incrs: [1, 2, 5, 10, 20, 50], space: 64, values: (_u: unknown, splits: number[]) => splits.map((i) => labels[i] ?? ''), size: 30, font: '10px system-ui' },
      { ...(yValues ? { values: yValues } : {}), size: 50, font: '10px system-ui' },
    ],
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    hooks: { setCursor: [onCursor] },
    series: [{}, ...series],
  };
}

/** A chart's box with its title; the readout line goes under the chart once it is drawn. */
function chartBox(host: El, cls: string, title: string): { box: El; readout: El } {
  const box = host.appendChild(document.createElement('div'));
  box.className = cls;
  const h = box.appendChild(document.createElement('h3'));
  h.textContent = title;
  const readout = document.createElement('div');
  readout.className = 'readout';
  readout.textContent = '\u00a0';
  return { box, readout };
}

/** One duration chart per step: each of its recent executions a dot (passed, failed, or
 * flagged as slower), the median dashed. */
function drawCharts(data: ClientData): void {
  const host = document.getElementById('charts');
  if (!host) return;
  const width = chartWidth(host);
  for (const c of data.history.charts) {
    const { box, readout } = chartBox(host, c.flagged ? 'chart slower' : 'chart', `${c.flagged ? '▲ ' : ''}${c.step}${c.medianMs !== undefined ? ` — median ${fmt(c.medianMs)}` : ''}`);
    box.setAttribute('data-step', c.step);
    const onCursor = (u: Cursor): void => {
      const i = u.cursor.idx;
      if (i === null || i === undefined) {
        readout.textContent = '\u00a0';
        return;
      }
      const d = c.durations[i] ?? null;
      const f = c.failed[i] ?? null;
      const what = d !== null ? `${fmt(d)}${c.slower[i] !== null ? ' — slower than usual' : ''}` : `failed after ${fmt(f ?? 0)}`;
      readout.textContent = `${c.labels[i] ?? ''} · ${what} · run ${c.runs[i] ?? ''}`;
    };
    const xs = c.runs.map((_, i) => i);
    const med = c.medianMs;
    const y = { range: (_u: unknown, _min: number, max: number) => [0, max > 0 ? max * 1.15 : 1] };
    const opts = chartOptions(width, c.labels, onCursor, y, (_u, splits) => splits.map((v) => fmt(v)), [
      // The median first, so the dots are drawn over it.
      { label: 'median', stroke: '#999', width: 1, dash: [4, 4], points: { show: false } },
      // Every execution is a dot, whatever the density (uPlot hides them when points are close).
      { label: 'passed', stroke: '#2e7dd7', width: 1.5, spanGaps: true, points: { show: true, size: 6, fill: '#2e7dd7' } },
      { label: 'failed', stroke: '#d64545', width: 0, points: { show: true, size: 7, fill: '#fff', stroke: '#d64545' } },
      { label: 'slower', stroke: '#b00020', width: 0, points: { show: true, size: 9, fill: '#b00020', stroke: '#b00020' } },
    ]);
    box.uplot = new uPlot(opts, [xs, xs.map(() => (med === undefined ? null : med)), c.durations, c.failed, c.slower], box);
    box.appendChild(readout);
  }
}

/** One chart per recorded metric: its value per execution, the bounds' min and max dashed. */
function drawMetricCharts(data: ClientData): void {
  const host = document.getElementById('metric-charts');
  if (!host) return;
  const width = chartWidth(host);
  for (const c of data.history.metrics ?? []) {
    const { box, readout } = chartBox(host, c.flagged ? 'chart slower metric' : 'chart metric', `${c.flagged ? '▲ ' : ''}${c.step} · ${c.metric}${c.breach ? ` — out of bounds: ${c.breach}` : ''}`);
    box.setAttribute('data-metric', `${c.step} ${c.metric}`);
    const onCursor = (u: Cursor): void => {
      const i = u.cursor.idx;
      readout.textContent = i === null || i === undefined ? '\u00a0' : `${c.labels[i] ?? ''} · ${String(c.values[i] ?? '')} · run ${c.runs[i] ?? ''}`;
    };
    const xs = c.runs.map((_, i) => i);
    const flat = (v: number | undefined): (number | null)[] => xs.map(() => (v === undefined ? null : v));
    const opts = chartOptions(width, c.labels, onCursor, {}, undefined, [
      { label: c.metric, stroke: c.flagged ? '#b00020' : '#2e7dd7', width: 1.5, spanGaps: true, points: { show: true, size: 6 } },
      { label: 'min', stroke: '#999', width: 1, dash: [4, 4], points: { show: false } },
      { label: 'max', stroke: '#999', width: 1, dash: [4, 4], points: { show: false } },
    ]);
    box.uplot = new uPlot(opts, [xs, c.values, flat(c.bound?.min), flat(c.bound?.max)], box);
    box.appendChild(readout);
  }
}

export function reportClient(): void {
  const dataEl = document.getElementById('report-data');
  if (!dataEl) return;
  const data = JSON.parse(dataEl.textContent ?? '{}') as ClientData;
  // The table is already on the page; the pictures come right after the first paint.
  setTimeout(() => {
    drawDag(data);
    drawCharts(data);
    drawMetricCharts(data);
    document.getElementById('report-data')?.setAttribute('data-drawn', 'true');
  }, 0);
}

/** The page's script: these functions' source, then a call of the last. */
export const CLIENT_FUNCTIONS: readonly ((...args: never[]) => unknown)[] = [
  fmt, svgEl, colour, textWidth, layoutDag, groupBoxes, dagExtent, drawEdges, drawGroups, drawNodes, drawDag,
  chartWidth, chartOptions, chartBox, drawCharts, drawMetricCharts, reportClient,
];
