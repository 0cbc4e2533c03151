// The airports reference table (vega-datasets data/airports.csv) and great-circle distance.
import { readFile } from 'node:fs/promises';

export interface Airport {
  iata: string;
  name: string;
  /** Two-letter state; null where the file says "NA" (it does so for a dozen airports). */
  state: string | null;
  country: string;
  lat: number;
  lon: number;
}

/** RFC 4180 parser: airports.csv quotes names that contain commas ("Union County, Troy Shelton"). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

const HEADER = ['iata', 'name', 'city', 'state', 'country', 'latitude', 'longitude'];

/** Loads airports.csv keyed by IATA code; throws on a malformed line or a duplicate code. */
export async function loadAirports(file: string): Promise<Map<string, Airport>> {
  const rows = parseCsv(await readFile(file, 'utf8'));
  const header = rows.shift();
  if (!header || header.join(',') !== HEADER.join(',')) {
    throw new Error(`${file}: unexpected header ${header?.join(',')}`);
  }
  const out = new Map<string, Airport>();
  rows.forEach((r, i) => {
    const [iata, name, , state, country, lat, lon] = r;
    const line = i + 2;
    if (r.length !== HEADER.length || iata === undefined || lat === undefined || lon === undefined) {
      throw new Error(`${file}:${line}: expected ${HEADER.length} fields, got ${r.length}`);
    }
    const a: Airport = {
      iata,
      name: name ?? '',
      state: state === undefined || state === '' || state === 'NA' ? null : state,
      country: country ?? '',
      lat: Number(lat),
      lon: Number(lon),
    };
    if (!Number.isFinite(a.lat) || !Number.isFinite(a.lon) || Math.abs(a.lat) > 90 || Math.abs(a.lon) > 180) {
      throw new Error(`${file}:${line}: bad coordinates for ${iata}: ${lat}, ${lon}`);
    }
    if (out.has(iata)) throw new Error(`${file}:${line}: duplicate airport code ${iata}`);
    out.set(iata, a);
  });
  return out;
}

/** Mean Earth radius in statute miles (the unit of the BTS `distance` column). */
const EARTH_RADIUS_MILES = 3958.7613;

/** Haversine great-circle distance in miles. */
export function greatCircleMiles(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_MILES * Math.asin(Math.min(1, Math.sqrt(h)));
}
