// A metrics file: JSON (an object of name → number, nested objects flattened with dots) or CSV
// (rows of `name,value`, or a header of names over rows of values: the last row counts).
// Values that are not finite numbers are left out, as DVC does.

function flatten(v: unknown, prefix: string, out: Record<string, number>): void {
  if (typeof v === 'number') {
    if (Number.isFinite(v) && prefix !== '') out[prefix] = v;
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return;
  for (const [k, x] of Object.entries(v)) flatten(x, prefix === '' ? k : `${prefix}.${k}`, out);
}

function cells(line: string): string[] {
  return line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function parseCsv(text: string): Record<string, number> {
  const rows = text.split(/\r?\n/).filter((l) => l.trim() !== '').map(cells);
  const out: Record<string, number> = {};
  const first = rows[0];
  if (!first) return out;
  const header = first.every((c) => !NUMBER.test(c));
  if (header && rows.length > 1 && !(first.length === 2 && rows.slice(1).every((r) => !NUMBER.test(r[0] ?? '')))) {
    const last = rows[rows.length - 1]!;
    first.forEach((name, i) => {
      const c = last[i] ?? '';
      if (NUMBER.test(c)) out[name] = Number(c);
    });
    return out;
  }
  for (const r of header ? rows.slice(1) : rows) {
    const [name, value] = r;
    if (name && value !== undefined && NUMBER.test(value)) out[name] = Number(value);
  }
  return out;
}

/** The metrics in a file's text; throws with the reason when JSON does not parse. */
export function parseMetrics(file: string, text: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (/\.csv$/i.test(file)) return parseCsv(text);
  flatten(JSON.parse(text) as unknown, '', out);
  return out;
}
