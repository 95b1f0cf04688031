/**
 * The runs of `baton dispatch`: from --meta alone, from a sweep file (CSV, or a
 * YAML/JSON list of objects), from --matrix axes (their cartesian product), or
 * a sweep file times a matrix. --meta is added to every run.
 *
 * Every run remembers where it came from (`params.csv row 12 (line 13)`), so
 * an error the server reports for `runs[11]` can point back into the file.
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
  values: string[];
}

/** One request carries every run; past this, a typo in a range is far more likely than intent. */
export const MAX_RUNS = 100_000;

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

/** Integers of an inclusive range; `01..10` keeps the zero padding of its start. */
function expandRange(a: string, b: string, flag: string): string[] {
  const from = Number(a);
  const to = Number(b);
  if (to < from) throw new CliError(`${flag}: range ${a}..${b} goes down; write ${b}..${a}`);
  if (to - from + 1 > MAX_RUNS) throw new CliError(`${flag}: range ${a}..${b} has more than ${MAX_RUNS} values`);
  const width = a.length > 1 && a.startsWith('0') ? a.length : 0;
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(width ? String(n).padStart(width, '0') : String(n));
  return out;
}

/** `1..50`, `1,2,3`, or both mixed: `1..3,7,10..12`. */
export function parseMatrixValues(spec: string, flag = `--matrix ${spec}`): string[] {
  const values: string[] = [];
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    if (part === '') throw new CliError(`${flag}: empty value in "${spec}" (a stray comma?)`);
    const range = /^(-?\d+)\.\.(-?\d+)$/.exec(part);
    if (range) values.push(...expandRange(range[1], range[2], flag));
    else if (part.includes('..')) throw new CliError(`${flag}: "${part}" is not a range of integers like 1..50`);
    else values.push(part);
  }
  const dup = values.find((v, i) => values.indexOf(v) !== i);
  if (dup !== undefined) throw new CliError(`${flag}: value "${dup}" appears twice`);
  return values;
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

/** The cartesian product of the axes, the last axis varying fastest. */
export function matrixRuns(axes: MatrixAxis[]): PlannedRun[] {
  const total = axes.reduce((n, a) => n * a.values.length, 1);
  if (total > MAX_RUNS) throw new CliError(`--matrix makes ${total} runs; at most ${MAX_RUNS} go in one dispatch`);
  let runs: PlannedRun[] = [{ meta: {}, origin: '' }];
  for (const axis of axes) {
    const next: PlannedRun[] = [];
    for (const r of runs) {
      for (const v of axis.values) {
        const origin = `${r.origin}${r.origin ? ' ' : ''}${axis.key}=${v}`;
        next.push({ meta: { ...r.meta, [axis.key]: v }, origin });
      }
    }
    runs = next;
  }
  return runs.map((r) => ({ meta: r.meta, origin: `--matrix ${r.origin}` }));
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

function merge(a: PlannedRun, b: Record<string, string>, bWhere: string): Record<string, string> {
  for (const k of Object.keys(b)) {
    if (k in a.meta) throw new CliError(`${a.origin}: meta key "${k}" is also set by ${bWhere}; set it in one place`);
  }
  return { ...a.meta, ...b };
}

export interface RunSources {
  meta: Record<string, string>;
  sweep?: PlannedRun[];
  matrix?: MatrixAxis[];
}

/**
 * All runs of one dispatch: sweep rows × matrix combinations (either may be
 * absent), each with --meta added. With neither, one run of --meta alone.
 */
export function planRuns(src: RunSources): PlannedRun[] {
  const axes = src.matrix ?? [];
  const base = src.sweep ?? [{ meta: {}, origin: '--meta' }];
  const combos = axes.length > 0 ? matrixRuns(axes) : [];
  const total = base.length * Math.max(1, combos.length);
  if (total > MAX_RUNS) throw new CliError(`this dispatch makes ${total} runs; at most ${MAX_RUNS} go in one request`);
  const runs: PlannedRun[] = [];
  for (const row of base) {
    if (combos.length === 0) {
      runs.push({ meta: merge(row, src.meta, '--meta'), origin: row.origin });
      continue;
    }
    for (const c of combos) {
      const origin = src.sweep ? `${row.origin}, ${c.origin}` : c.origin;
      const withMatrix = merge(row, c.meta, '--matrix');
      runs.push({ meta: merge({ meta: withMatrix, origin }, src.meta, '--meta'), origin });
    }
  }
  return runs;
}

/**
 * The server names a bad run by its place in the request (`runs[12].meta.scenario`);
 * say where that run came from instead. Paths that name no run are returned as is.
 */
export function describeRunPath(path: string, runs: PlannedRun[]): string {
  const m = /^runs\[(\d+)\](?:\.(.*))?$/.exec(path);
  if (!m) return path;
  const run = runs[Number(m[1])];
  if (!run) return path;
  return `run ${Number(m[1]) + 1}, from ${run.origin}${m[2] ? `: ${m[2]}` : ''}`;
}
