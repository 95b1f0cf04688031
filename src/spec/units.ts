/**
 * Units users write in job files and flags, and how baton prints them back.
 * cpu is kept in millicores, memory and disk in bytes, durations in ms.
 * Every parser throws UnitError with a message that says what is accepted,
 * so a spec error can name the field and show the fix.
 */

export class UnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnitError';
  }
}

const BINARY: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  t: 1000 ** 4,
  tb: 1000 ** 4,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/** `512Mi`, `1.2Gi`, `2G`, `1024` (bytes) → bytes. */
export function parseMemory(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new UnitError(`expected a size such as 512Mi or 2Gi, got ${input}`);
    return Math.round(input);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const unit = m ? m[2].toLowerCase() : '';
  if (!m || !(unit in BINARY)) {
    throw new UnitError(
      `"${input}" is not a size: write a number with a unit such as 512Mi, 1.5Gi or 2G (Ki, Mi, Gi, Ti are powers of 1024; K, M, G, T of 1000)`,
    );
  }
  return Math.round(Number(m[1]) * BINARY[unit]);
}

/** `0.5`, `2`, `500m` → millicores. */
export function parseCpu(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new UnitError(`expected cores such as 0.5 or 2, or millicores such as 500m, got ${input}`);
    return Math.round(input * 1000);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(m?)\s*$/.exec(input);
  if (!m) throw new UnitError(`"${input}" is not a cpu amount: write cores (0.5, 2) or millicores (500m)`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'm' ? n : n * 1000);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `1s`, `250ms`, `1m30s`, `2h`, or a number of ms → ms. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new UnitError(`expected a duration such as 30s or 5m, got ${input}`);
    return Math.round(input);
  }
  const s = input.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) {
    throw new UnitError(`"${input}" is not a duration: write it like 500ms, 30s, 5m, 1h or 1m30s`);
  }
  return Math.round(total);
}

function trim(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1).replace(/\.0$/, '') : n.toFixed(2).replace(/\.?0+$/, '');
}

/** bytes → `512 MiB`, `20 GiB`, `1.5 GiB` */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${trim(v)} ${units[i]}`;
}

/** millicores → `500m`, `2 cores`, `1.5 cores` */
export function formatCpu(millicores: number): string {
  if (millicores % 1000 !== 0 && millicores < 1000) return `${millicores}m`;
  const cores = millicores / 1000;
  return `${trim(cores)} ${cores === 1 ? 'core' : 'cores'}`;
}

/** ms → `850ms`, `12s`, `3m20s`, `2h5m` */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ''}`;
}
