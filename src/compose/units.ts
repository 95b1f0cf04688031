/**
 * The small languages inside a compose file: Go-style durations, docker byte
 * sizes, shell-like command strings, `${VAR}` interpolation and env files.
 * Each parser throws ComposeValueError with a message saying what is accepted,
 * so the translator can attach the line.
 */

export class ComposeValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComposeValueError';
  }
}

const GO_DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Compose durations are Go durations (`1m30s`, `500ms`, `10s`); a bare number is seconds in old files. → ms */
export function parseComposeDuration(input: unknown): number {
  if (typeof input === 'number' && Number.isFinite(input) && input >= 0) return Math.round(input * 1000);
  if (typeof input !== 'string') throw new ComposeValueError(`expected a duration such as 10s or 1m30s, got ${describe(input)}`);
  const s = input.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * GO_DURATION_UNITS[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) throw new ComposeValueError(`"${input}" is not a duration: write it like 500ms, 10s, 1m30s or 2h`);
  return Math.round(total);
}

/** ms → the shortest exact text baton's job format reads back (`1m30s`, `250ms`). */
export function formatMs(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 1000 !== 0) return `${ms}ms`;
  let s = ms / 1000;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker sizes (`512m`, `1g`, `50M`, `2gb`) are powers of 1024 whatever the case; a number is bytes. */
export function parseComposeBytes(input: unknown): number {
  if (typeof input === 'number' && Number.isFinite(input) && input >= 0) return Math.round(input);
  if (typeof input !== 'string') throw new ComposeValueError(`expected a size such as 512m or 1g, got ${describe(input)}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtb]?)(?:i?b)?\s*$/i.exec(input);
  if (!m) throw new ComposeValueError(`"${input}" is not a size: write a number with b, k, m or g (e.g. 512m, 1g)`);
  return Math.round(Number(m[1]) * BYTE_UNITS[m[2].toLowerCase()]);
}

/** bytes → `512Mi`, `1Gi`, or plain bytes when no binary unit divides it. */
export function formatBytesExact(bytes: number): string | number {
  for (const [unit, size] of [
    ['Ti', 1024 ** 4],
    ['Gi', 1024 ** 3],
    ['Mi', 1024 ** 2],
    ['Ki', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return bytes;
}

/** `cpus: 0.5` or `"1.5"` → millicores */
export function parseComposeCpus(input: unknown): number {
  const n = typeof input === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(input) ? Number(input) : input;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new ComposeValueError(`expected a number of cores such as 0.5 or 2, got ${describe(input)}`);
  return Math.round(n * 1000);
}

/**
 * A command given as one string is split like a shell would split words
 * (quotes and backslashes), but not run through a shell: that is what compose does.
 */
export function splitCommand(input: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < input.length && '"\\$`'.includes(input[i + 1])) cur += input[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < input.length) {
      cur += input[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
    }
  }
  if (quote) throw new ComposeValueError(`unterminated ${quote} quote in "${input}"`);
  if (has || cur) out.push(cur);
  return out;
}

export interface InterpolationResult {
  value: string;
  /** variables used that are not set (they became empty text, as compose does) */
  unset: string[];
}

/**
 * Compose interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`; `$$` is a literal `$`.
 * Defaults may themselves hold variables.
 */
export function interpolate(input: string, env: Readonly<Record<string, string | undefined>>): InterpolationResult {
  const unset: string[] = [];
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      // find the matching brace, allowing nested ${...} in defaults
      let depth = 1;
      let j = i + 2;
      for (; j < input.length && depth > 0; j++) {
        if (input[j] === '{') depth++;
        else if (input[j] === '}') depth--;
      }
      if (depth !== 0) throw new ComposeValueError(`"${input}" has an unclosed \${`);
      const body = input.slice(i + 2, j - 1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
      if (!m) throw new ComposeValueError(`"\${${body}}" is not a valid variable reference: write \${NAME}, \${NAME:-default} or \${NAME:?message}`);
      const [, name, op, arg = ''] = m;
      const v = env[name];
      const isSet = v !== undefined;
      const nonEmpty = isSet && v !== '';
      const sub = (): string => {
        const r = interpolate(arg, env);
        unset.push(...r.unset);
        return r.value;
      };
      if (!op) {
        if (!isSet) unset.push(name);
        out += v ?? '';
      } else if (op === ':-') out += nonEmpty ? v : sub();
      else if (op === '-') out += isSet ? v : sub();
      else if (op === ':+') out += nonEmpty ? sub() : '';
      else if (op === '+') out += isSet ? sub() : '';
      else if (op === ':?' || op === '?') {
        if (op === ':?' ? !nonEmpty : !isSet)
          throw new ComposeValueError(`required variable ${name} is ${isSet ? 'empty' : 'not set'}${arg ? `: ${sub()}` : ''}`);
        out += v;
      }
      i = j;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(i + 1));
      if (!m) {
        // a lone $ stays as it is, like compose
        out += '$';
        i++;
        continue;
      }
      const v = env[m[0]];
      if (v === undefined) unset.push(m[0]);
      out += v ?? '';
      i += 1 + m[0].length;
    }
  }
  return { value: out, unset };
}

/**
 * An env file: `KEY=value` lines, `#` comments, optional `export `, values in
 * single quotes (literal) or double quotes (with \n escapes). A line that is
 * only `KEY` takes the value from `lookup` (the shell), or is left out.
 */
export function parseEnvFile(
  text: string,
  lookup: (name: string) => string | undefined = () => undefined,
): { env: Record<string, string>; errors: Array<{ line: number; message: string }> } {
  const env: Record<string, string> = {};
  const errors: Array<{ line: number; message: string }> = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=(.*))?$/.exec(line);
    if (!m) {
      errors.push({ line: idx + 1, message: `"${raw}" is not KEY=value` });
      return;
    }
    const [, key, rest] = m;
    if (rest === undefined) {
      const v = lookup(key);
      if (v !== undefined) env[key] = v;
      return;
    }
    let value = rest.trim();
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      value = end < 0 ? value.slice(1) : value.slice(1, end);
    } else if (value.startsWith('"')) {
      const end = value.lastIndexOf('"');
      value = (end <= 0 ? value.slice(1) : value.slice(1, end)).replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch === 't' ? '\t' : ch));
    } else {
      // an unquoted value ends at " #" (an inline comment)
      const hash = value.search(/\s#/);
      if (hash >= 0) value = value.slice(0, hash).trimEnd();
    }
    env[key] = value;
  });
  return { env, errors };
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
