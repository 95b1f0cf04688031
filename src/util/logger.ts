/**
 * One structured logger (pino) for server and agent, on stderr: JSON lines
 * for machines (a pipe, a file, journald), or readable lines on a terminal:
 *
 *   18:53:02.117 INFO  server: listening url=http://127.0.0.1:4780 leader=true
 *
 * (time, level, name, message, then every other field as key=value; an
 * error's stack on the lines after). `--log-format` or `$BATON_LOG_FORMAT`
 * forces either. The readable form is baton's own few lines below, not
 * pino-pretty: no transport thread, no dependencies, and fields on one line.
 */
import { destination, pino, type DestinationStream, type Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** --log-format, else $BATON_LOG_FORMAT, else pretty on a terminal and JSON otherwise */
export function resolveLogFormat(flag?: string, env: NodeJS.ProcessEnv = process.env, isTTY = process.stderr.isTTY === true): LogFormat {
  for (const [value, from] of [
    [flag, '--log-format'],
    [env.BATON_LOG_FORMAT, 'BATON_LOG_FORMAT'],
  ] as const) {
    if (value === undefined || value === '') continue;
    if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
    throw new Error(`${from} is pretty or json, not ${JSON.stringify(value)}`);
  }
  return isTTY ? 'pretty' : 'json';
}

export function createLogger(level: string, name: string, format?: LogFormat): Logger {
  const dest = destination({ dest: 2, sync: true });
  const fmt = format ?? resolveLogFormat();
  if (fmt === 'json') return pino({ name, level }, dest);
  const color = process.stderr.isTTY === true && !process.env.NO_COLOR;
  return pino({ name, level }, prettyDestination(dest, { color }));
}

/** a pino destination that writes each JSON line as a readable one */
export function prettyDestination(out: DestinationStream, opts: PrettyOptions = {}): DestinationStream {
  return { write: (line: string) => out.write(formatLogLine(line, opts)) };
}

export interface PrettyOptions {
  /** ANSI colours for the level (a terminal) */
  color?: boolean;
  /** local time of day (default); false: UTC, for tests */
  localTime?: boolean;
}

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '36' },
  30: { label: 'INFO ', color: '32' },
  40: { label: 'WARN ', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '35' },
};
// pino's own fields, shown in the line's head or not at all
const HEAD = new Set(['level', 'time', 'name', 'msg', 'pid', 'hostname', 'v']);

/** One pino JSON line (with or without its newline) as a readable line; a line that is not JSON passes as it is. */
export function formatLogLine(line: string, opts: PrettyOptions = {}): string {
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line.endsWith('\n') ? line : `${line}\n`;
    rec = parsed as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof rec.level === 'number' ? LEVELS[rec.level] : undefined;
  const label = level ? level.label : typeof rec.level === 'string' ? rec.level.toUpperCase().padEnd(5) : 'LOG  ';
  const head = [timeOfDay(rec.time, opts.localTime !== false), opts.color && level ? `\x1b[${level.color}m${label}\x1b[0m` : label];
  const name = typeof rec.name === 'string' && rec.name ? `${rec.name}:` : '';
  const parts = [...head, ...(name ? [name] : []), ...(typeof rec.msg === 'string' ? [rec.msg] : [])];
  const stacks: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (HEAD.has(k) || v === undefined) continue;
    if (isErrorObject(v)) {
      parts.push(`${k}=${quote(v.message)}`);
      if (typeof v.stack === 'string') stacks.push(...v.stack.split('\n').slice(1));
    } else parts.push(`${k}=${value(v)}`);
  }
  return `${[parts.join(' '), ...stacks.map((s) => `    ${s.trim()}`)].join('\n')}\n`;
}

function timeOfDay(t: unknown, local: boolean): string {
  if (typeof t !== 'number' && typeof t !== 'string') return '--:--:--.---';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return local
    ? `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
    : `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

function isErrorObject(v: unknown): v is { message: string; stack?: unknown } {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string' && 'stack' in v;
}

/** a string bare when it is one plain word, else quoted; anything else as JSON */
function value(v: unknown): string {
  return typeof v === 'string' ? quote(v) : (JSON.stringify(v) ?? String(v));
}

function quote(s: string): string {
  return /^[\w.:/@%+,-]+$/.test(s) ? s : JSON.stringify(s);
}
