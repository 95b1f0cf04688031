/**
 * A small parser of the Prometheus text exposition format (0.0.4), enough to
 * check what GET /metrics says: samples with their labels, types from # TYPE.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromScrape {
  types: Record<string, string>;
  samples: PromSample[];
  /** the value of the one sample with this name and (at least) these labels; undefined when none */
  get(name: string, labels?: Record<string, string>): number | undefined;
}

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new Error(`bad sample value "${s}"`);
  return v;
}

export function parsePromText(text: string): PromScrape {
  const types: Record<string, string> = {};
  const samples: PromSample[] = [];
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types[m[1]] = m[2];
      continue;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`line ${n + 1}: no metric name: ${line}`);
    const name = nameMatch[0];
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      for (;;) {
        while (line[i] === ' ' || line[i] === ',') i++;
        if (line[i] === '}') {
          i++;
          break;
        }
        const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(line.slice(i));
        if (!lm) throw new Error(`line ${n + 1}: bad label at ${i}: ${line}`);
        i += lm[0].length;
        let value = '';
        while (line[i] !== '"') {
          if (i >= line.length) throw new Error(`line ${n + 1}: unterminated label value: ${line}`);
          if (line[i] === '\\') {
            const c = line[i + 1];
            value += c === 'n' ? '\n' : c;
            i += 2;
          } else {
            value += line[i++];
          }
        }
        i++;
        labels[lm[1]] = value;
      }
    }
    const rest = line.slice(i).trim().split(/\s+/);
    samples.push({ name, labels, value: parseValue(rest[0] ?? '') });
  }
  return {
    types,
    samples,
    get(name, want = {}) {
      const found = samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(want)}`);
      return found[0]?.value;
    },
  };
}
