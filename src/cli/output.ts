/**
 * How the CLI prints: compact tables for people, JSON for scripts, and the
 * short forms (ages, ids, resources) every listing shares so they read alike.
 */
import { createRequire } from 'node:module';
import type TableType from 'cli-table3';
import { BatonApiError } from '../client/http.js';
import type { AllocCounts, JobStatus, Resources } from '../api/types.js';
import { formatBytes, formatCpu } from '../spec/units.js';

/** csv is for listings of runs only (`baton job status JOB -o csv`) */
export type OutputFormat = 'table' | 'json' | 'csv';

/** An error meant for the user as is: printed without a stack, exit code 1 unless told. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

// Every border character blank: the table lines up like `docker ps`, and
// copies cleanly into chat or a terminal that lacks box-drawing glyphs.
const NO_BORDERS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '',
};

/**
 * Text from the server made safe for a terminal: names, labels and messages
 * are whatever an agent or submitter sent, and an escape sequence in one
 * could rewrite the screen, hide rows or retitle the window. Control
 * characters (C0, DEL, C1) become visible `\xNN`; in a table cell a newline
 * or tab becomes a space so the row stays one line.
 */
export function escapeControl(text: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (c === '\n') return keepNewlines ? c : ' ';
    if (c === '\t') return keepNewlines ? c : ' ';
    if (c === '\r' && !keepNewlines) return '';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

// loaded by the first table: a command that prints JSON, or nothing, starts without it
let TableClass: typeof TableType | undefined;

export function renderTable(headers: string[], rows: Array<Array<string | number>>): string {
  TableClass ??= createRequire(import.meta.url)('cli-table3') as typeof TableType;
  const table = new TableClass({
    head: headers,
    chars: NO_BORDERS,
    // no colours: output is often piped, and colour codes break `grep`/`awk`
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 3 },
  });
  for (const row of rows) table.push(row.map((c) => escapeControl(String(c))));
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

export function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  process.stdout.write(renderTable(headers, rows) + '\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** `key  value` lines with the values aligned, for object headers in `status` commands. */
export function renderFields(fields: Array<[string, string | number]>): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(width)}  ${escapeControl(String(v), true)}`).join('\n');
}

/** Time since `iso` in its largest unit: `12s`, `3m`, `5h`, `2d`. */
export function age(iso: string | undefined, now: number = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  // clocks of server and client differ a little; a future time reads as "now"
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** Time until `iso` in its largest unit: `in 12s`, `in 5h`; `now` once it has passed. */
export function until(iso: string | undefined, now: number = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  if (t <= now) return 'now';
  // age() of the mirror time gives the same units
  return `in ${age(new Date(now - (t - now)).toISOString(), now)}`;
}

/** UUIDs are unique in their first 8 characters for any cluster a person reads a table of. */
export function shortId(id: string | undefined): string {
  return id ? id.slice(0, 8) : '-';
}

export function formatResources(r: Resources): string {
  // the request is a share of contended cores; a limit, when set, is the hard cap beside it
  const parts = [`cpu ${formatCpu(r.cpu)}${r.cpuLimit ? ` (limit ${formatCpu(r.cpuLimit)})` : ''}`, `memory ${formatBytes(r.memory)}`];
  if (r.disk > 0) parts.push(`disk ${formatBytes(r.disk)}`);
  return parts.join(', ');
}

export function cpuUsage(used: number, total: number): string {
  return `${formatCpu(used)} / ${formatCpu(total)}`;
}

export function bytesUsage(used: number, total: number): string {
  return `${formatBytes(used)} / ${formatBytes(total)}`;
}

/** `2 running, 1 failed`: only the non-zero counts, in lifecycle order; `-` when none. */
export function formatAllocCounts(c: AllocCounts): string {
  const order: Array<keyof AllocCounts> = ['pending', 'running', 'complete', 'failed', 'lost'];
  const parts = order.filter((k) => c[k] > 0).map((k) => `${formatCount(c[k])} ${k}`);
  return parts.length ? parts.join(', ') : '-';
}

/** A parent's children by status: `runs: 3 running, 10 complete`; `runs: none` before the first. */
export function formatChildCounts(c: Partial<Record<JobStatus, number>>): string {
  const order: JobStatus[] = ['pending', 'running', 'complete', 'failed', 'stopped'];
  const parts = order.filter((k) => (c[k] ?? 0) > 0).map((k) => `${formatCount(c[k]!)} ${k}`);
  return `runs: ${parts.length ? parts.join(', ') : 'none'}`;
}

/** `1,000,000`: counts of runs get large enough that digits need grouping. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

const NATURAL = new Intl.Collator('en', { numeric: true });

/** Names compared with their numbers as numbers: `sim[2]` before `sim[10]`. */
export function naturalCompare(a: string, b: string): number {
  return NATURAL.compare(a, b);
}

/** `a=1, b=2`, or `-` when empty. */
export function formatMap(m: Record<string, string>): string {
  const entries = Object.entries(m);
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(', ') : '-';
}

/** The lines printed for an error at the top level. */
export function formatError(err: unknown): string[] {
  // a server's message may quote what a client sent (a name, a key): shown, never interpreted
  if (err instanceof BatonApiError) {
    // the message's first line may quote the first detail, for callers that show one line: the details follow here anyway
    const [headline, ...more] = err.message.split('\n');
    const first = err.details[0];
    const quote = first ? headline.indexOf(`: ${first.path}: ${first.message}`) : -1;
    const lines = [`Error: ${escapeControl(quote > 0 ? `${headline.slice(0, quote)}:` : headline, true)}`];
    for (const d of err.details) {
      lines.push(escapeControl(`  ${d.path}${d.line !== undefined ? ` (line ${d.line})` : ''}: ${d.message}`, true));
    }
    for (const line of more) lines.push(escapeControl(line, true));
    return lines;
  }
  if (err instanceof Error) return [`Error: ${escapeControl(err.message, true)}`];
  return [`Error: ${escapeControl(String(err), true)}`];
}
