/**
 * The runs of `baton dispatch`: from --meta alone, from a sweep file (CSV, or a
 * YAML/JSON list of objects), from --matrix axes (their cartesian product), or
 * a sweep file times a matrix. --meta is added to every run.
 *
 * Every run remembers where it came from (`params.csv row 12 (line 13)`), so
 * an error the server reports for `runs[11]` can point back into the file.
 *
 * A matrix is never expanded: an axis keeps its ranges as ranges, and the
 * plan makes run n when it is asked for, so `--matrix i=1..1000000` costs
 * the memory of one part of the dispatch, not of a million runs.
 */
import { extname } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Scalar } from 'yaml';
import { CsvError, parseCsv } from './csv.js';
import { CliError } from './output.js';

export interface PlannedRun {
  meta: Record<string, string>;
  /** where the run came from, for error messages */
  origin: string;
}

export interface MatrixAxis {
  key: string;
  values: AxisValues;
}

/**
 * The CLI's own bound on one dispatch. The server takes a sweep of any size
 * in parts; past ten million runs a typo in a range is far more likely than
 * intent.
 */
export const MAX_RUNS = 10_000_000;

type Segment = { values: string[] } | { from: number; to: number; width: number };

function segmentSize(s: Segment): number {
  return 'values' in s ? s.values.length : s.to - s.from + 1;
}

/** `7` in a range that starts `01` is `07`: the zero padding of its start */
function formatInRange(n: number, width: number): string {
  return width ? String(n).padStart(width, '0') : String(n);
}

/** The values of one --matrix axis: lists as written, ranges kept as ranges until a value is asked for. */
export class AxisValues implements Iterable<string> {
  readonly size: number;
  private readonly starts: number[] = [];

  constructor(private readonly segments: readonly Segment[]) {
    let n = 0;
    for (const seg of segments) {
      this.starts.push(n);
      n += segmentSize(seg);
    }
    this.size = n;
  }

  /** the i-th value (0-based) */
  at(i: number): string {
    // the last segment that starts at or before i
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    const seg = this.segments[lo];
    const k = i - this.starts[lo];
    return 'values' in seg ? seg.values[k] : formatInRange(seg.from + k, seg.width);
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.size; i++) yield this.at(i);
  }

  toArray(): string[] {
    return [...this];
  }
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function checkKey(key: string, where: string): void {
  if (!KEY.test(key)) {
    throw new CliError(`${where}: "${key}" is not a valid meta key (letters, digits, _ . -; not starting with a digit)`);
  }
}

/** `--meta k=v` flags → a map; the value may itself contain `=`. */
export function parseMetaFlags(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i <= 0) throw new CliError(`--meta "${item}" is not key=value (e.g. --meta scenario=42)`);
    const key = item.slice(0, i);
    checkKey(key, `--meta ${item}`);
    if (key in out) throw new CliError(`--meta ${key} is given twice`);
    out[key] = item.slice(i + 1);
  }
  return out;
}

/** An inclusive range of integers; `01..10` keeps the zero padding of its start. */
function parseRange(a: string, b: string, flag: string): Segment {
  const from = Number(a);
  const to = Number(b);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw new CliError(`${flag}: range ${a}..${b} has numbers too large to count`);
  if (to < from) throw new CliError(`${flag}: range ${a}..${b} goes down; write ${b}..${a}`);
  if (to - from + 1 > MAX_RUNS) throw new CliError(`${flag}: range ${a}..${b} has more than ${MAX_RUNS.toLocaleString('en-US')} values`);
  return { from, to, width: a.length > 1 && a.startsWith('0') ? a.length : 0 };
}

/**
 * A value two segments both make, if any. Ranges are compared as ranges (a
 * million values are not listed to find a repeat): two overlapping ranges
 * make the same text for a number only when neither pads it, or both pad it
 * to the same width.
 */
function repeatedValue(segments: readonly Segment[]): string | undefined {
  const seen = new Set<string>();
  const ranges = segments.filter((s): s is Extract<Segment, { from: number }> => !('values' in s));
  for (const seg of segments) {
    if (!('values' in seg)) continue;
    for (const v of seg.values) {
      if (seen.has(v)) return v;
      seen.add(v);
      if (!/^-?\d+$/.test(v)) continue;
      const n = Number(v);
      if (ranges.some((r) => n >= r.from && n <= r.to && formatInRange(n, r.width) === v)) return v;
    }
  }
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const [a, b] = [ranges[i], ranges[j]];
      const lo = Math.max(a.from, b.from);
      const hi = Math.min(a.to, b.to);
      if (lo > hi) continue;
      // padded ranges start at 0 or more; a number at least as long as the wider padding is written alike by both
      const wide = Math.max(a.width, b.width);
      const first = a.width === b.width ? lo : Math.max(lo, 10 ** (wide - 1));
      if (first <= hi) return formatInRange(first, a.width);
    }
  }
  return undefined;
}

/** `1..50`, `1,2,3`, or both mixed: `1..3,7,10..12`. */
export function parseMatrixValues(spec: string, flag = `--matrix ${spec}`): AxisValues {
  const segments: Segment[] = [];
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    if (part === '') throw new CliError(`${flag}: empty value in "${spec}" (a stray comma?)`);
    const range = /^(-?\d+)\.\.(-?\d+)$/.exec(part);
    if (range) segments.push(parseRange(range[1], range[2], flag));
    else if (part.includes('..')) throw new CliError(`${flag}: "${part}" is not a range of integers like 1..50`);
    else {
      const last = segments[segments.length - 1];
      if (last && 'values' in last) last.values.push(part);
      else segments.push({ values: [part] });
    }
  }
  const dup = repeatedValue(segments);
  if (dup !== undefined) throw new CliError(`${flag}: value "${dup}" appears twice`);
  return new AxisValues(segments);
}

export function parseMatrixFlags(list: string[]): MatrixAxis[] {
  const axes: MatrixAxis[] = [];
  for (const item of list) {
    const i = item.indexOf('=');
    if (i <= 0) throw new CliError(`--matrix "${item}" is not key=values (e.g. --matrix scenario=1..50 or --matrix seed=1,2,3)`);
    const key = item.slice(0, i);
    checkKey(key, `--matrix ${item}`);
    if (axes.some((a) => a.key === key)) throw new CliError(`--matrix ${key} is given twice; list all its values in one flag`);
    axes.push({ key, values: parseMatrixValues(item.slice(i + 1), `--matrix ${item}`) });
  }
  return axes;
}

/**
 * All runs of one dispatch, by position: run i is made when asked for, so
 * the runs can be sent in parts without ever all being in memory.
 */
export interface RunPlan extends Iterable<PlannedRun> {
  readonly total: number;
  /** the i-th run (0-based) */
  at(i: number): PlannedRun;
}

function planOf(total: number, at: (i: number) => PlannedRun): RunPlan {
  return {
    total,
    at,
    *[Symbol.iterator]() {
      for (let i = 0; i < total; i++) yield at(i);
    },
  };
}

function countText(n: number): string {
  return n.toLocaleString('en-US');
}

/** How many combinations the axes make; refuses past MAX_RUNS before multiplying further. */
function combinations(axes: readonly MatrixAxis[]): number {
  let total = 1;
  for (const a of axes) {
    total *= a.values.size;
    if (total > MAX_RUNS) {
      throw new CliError(
        `--matrix makes ${total > 1e15 ? 'over a quadrillion' : countText(total)} runs or more; at most ${countText(MAX_RUNS)} go in one dispatch`,
      );
    }
  }
  return total;
}

/** Combination i of the axes, the last axis varying fastest: its meta and its `k=v k=v` origin. */
function combination(axes: readonly MatrixAxis[], i: number): { meta: Record<string, string>; origin: string } {
  const picks = new Array<string>(axes.length);
  let rest = i;
  for (let k = axes.length - 1; k >= 0; k--) {
    const size = axes[k].values.size;
    picks[k] = axes[k].values.at(rest % size);
    rest = Math.floor(rest / size);
  }
  const meta: Record<string, string> = {};
  axes.forEach((a, k) => (meta[a.key] = picks[k]));
  return { meta, origin: axes.map((a, k) => `${a.key}=${picks[k]}`).join(' ') };
}

/** The cartesian product of the axes, the last axis varying fastest. */
export function matrixRuns(axes: MatrixAxis[]): RunPlan {
  const total = combinations(axes);
  return planOf(total, (i) => {
    const c = combination(axes, i);
    return { meta: c.meta, origin: `--matrix ${c.origin}` };
  });
}

/** A CSV sweep: the header names the meta keys, each further record is a run. */
export function parseCsvSweep(text: string, file: string): PlannedRun[] {
  let records;
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvError) throw new CliError(`${file} line ${err.line}, column ${err.column}: ${err.reason}`);
    throw err;
  }
  if (records.length === 0) throw new CliError(`${file} is empty; its first line must name the meta keys, e.g. scenario,seed`);
  const [header, ...rows] = records;
  header.fields.forEach((key, c) => {
    const where = `${file} line ${header.line}, column ${c + 1}`;
    if (key === '') throw new CliError(`${where}: empty column name in the header`);
    checkKey(key, where);
    if (header.fields.indexOf(key) !== c) throw new CliError(`${where}: column "${key}" appears twice in the header`);
  });
  if (rows.length === 0) throw new CliError(`${file} has a header but no rows: nothing to dispatch`);
  return rows.map((rec, r) => {
    const where = `${file} row ${r + 1} (line ${rec.line})`;
    if (rec.fields.length !== header.fields.length) {
      throw new CliError(`${where}: ${rec.fields.length} fields, but the header has ${header.fields.length} columns (${header.fields.join(',')})`);
    }
    const meta: Record<string, string> = {};
    header.fields.forEach((k, c) => (meta[k] = rec.fields[c]));
    return { meta, origin: where };
  });
}

/** A meta value as written: `1.10` stays `1.10`, not the number 1.1. */
function scalarText(node: Scalar): string | undefined {
  const v = node.value;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') {
    return node.type === 'PLAIN' && typeof node.source === 'string' ? node.source : String(v);
  }
  return undefined;
}

/** A YAML or JSON sweep: a list of objects whose values are strings, numbers or booleans. */
export function parseListSweep(text: string, file: string): PlannedRun[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) throw new CliError(`${file}: ${doc.errors[0].message.split('\n')[0]}`);
  const list = doc.contents;
  if (!isSeq(list)) throw new CliError(`${file} must be a list of objects, one per run (e.g. - {scenario: 1, seed: 7})`);
  if (list.items.length === 0) throw new CliError(`${file} is an empty list: nothing to dispatch`);
  return list.items.map((item, n) => {
    const at = (node: unknown): string => {
      const range = (node as { range?: [number, number, number] | null } | null)?.range;
      return range ? ` (line ${lines.linePos(range[0]).line})` : '';
    };
    const where = `${file} item ${n + 1}${at(item)}`;
    if (!isMap(item)) throw new CliError(`${where}: is not an object of meta keys and values`);
    const meta: Record<string, string> = {};
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? scalarText(pair.key) : undefined;
      if (key === undefined) throw new CliError(`${where}: a key is not a plain name`);
      checkKey(key, `${where}`);
      const value = isScalar(pair.value) ? scalarText(pair.value) : undefined;
      if (value === undefined) {
        throw new CliError(`${file} item ${n + 1}${at(pair.value) || at(item)}: "${key}" must be a string, number or boolean`);
      }
      meta[key] = value;
    }
    return { meta, origin: where };
  });
}

/** Read a sweep by its extension: .csv, .yaml/.yml or .json. */
export function parseSweep(text: string, file: string): PlannedRun[] {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return parseCsvSweep(text, file);
  if (ext === '.yaml' || ext === '.yml' || ext === '.json') return parseListSweep(text, file);
  throw new CliError(`--sweep ${file}: unknown file type "${ext || '(none)'}"; use .csv, .yaml, .yml or .json`);
}

function clash(a: Record<string, string>, keys: Iterable<string>): string | undefined {
  for (const k of keys) if (k in a) return k;
  return undefined;
}

export interface RunSources {
  meta: Record<string, string>;
  sweep?: PlannedRun[];
  matrix?: MatrixAxis[];
}

/**
 * All runs of one dispatch: sweep rows × matrix combinations (either may be
 * absent), each with --meta added. With neither, one run of --meta alone.
 * A meta key set in two places is refused here, before any run is made.
 */
export function planRuns(src: RunSources): RunPlan {
  const axes = src.matrix ?? [];
  const base = src.sweep ?? [{ meta: {}, origin: '--meta' }];
  const combos = axes.length > 0 ? combinations(axes) : 1;
  const total = base.length * combos;
  if (total > MAX_RUNS) throw new CliError(`this dispatch makes ${countText(total)} runs; at most ${countText(MAX_RUNS)} go in one dispatch`);
  const axisKeys = axes.map((a) => a.key);
  const metaKeys = Object.keys(src.meta);
  const both = axisKeys.find((k) => k in src.meta);
  if (both !== undefined) throw new CliError(`--matrix ${both}: meta key "${both}" is also set by --meta; set it in one place`);
  for (const row of base) {
    const m = clash(row.meta, axisKeys);
    if (m !== undefined) throw new CliError(`${row.origin}: meta key "${m}" is also set by --matrix; set it in one place`);
    const k = clash(row.meta, metaKeys);
    if (k !== undefined) throw new CliError(`${row.origin}: meta key "${k}" is also set by --meta; set it in one place`);
  }
  return planOf(total, (i) => {
    const row = base[Math.floor(i / combos)];
    if (axes.length === 0) return { meta: { ...row.meta, ...src.meta }, origin: row.origin };
    const c = combination(axes, i % combos);
    const origin = src.sweep ? `${row.origin}, --matrix ${c.origin}` : `--matrix ${c.origin}`;
    return { meta: { ...row.meta, ...c.meta, ...src.meta }, origin };
  });
}

/**
 * The server names a bad run by its place in the request (`runs[12].meta.scenario`);
 * say where that run came from instead. `offset`: the row the request's
 * first run has in the whole dispatch (a later part of a sweep). Paths that
 * name no run are returned as is.
 */
export function describeRunPath(path: string, plan: Pick<RunPlan, 'total' | 'at'>, offset = 0): string {
  const m = /^runs\[(\d+)\](?:\.(.*))?$/.exec(path);
  if (!m) return path;
  const i = offset + Number(m[1]);
  if (i >= plan.total) return path;
  return `run ${countText(i + 1)}, from ${plan.at(i).origin}${m[2] ? `: ${m[2]}` : ''}`;
}
