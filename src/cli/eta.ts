/**
 * How long until something, in words a person reads at a glance: the two
 * largest units (`2h 5m`, `3d 4h`), since a sweep's end estimated to the
 * second is false precision.
 */

const UNITS: Array<[string, number]> = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
];

/** ms → `2h 5m`, `3m 20s`, `45s`, `2d`; `<1s` below a second */
export function formatSpan(ms: number): string {
  if (!Number.isFinite(ms) || ms < 1000) return '<1s';
  const total = Math.floor(ms / 1000);
  const i = UNITS.findIndex(([, secs]) => total >= secs);
  const [unit, secs] = UNITS[i];
  const first = Math.floor(total / secs);
  const next = UNITS[i + 1];
  const rest = next ? Math.floor((total - first * secs) / next[1]) : 0;
  return rest > 0 ? `${first}${unit} ${rest}${next[0]}` : `${first}${unit}`;
}

/** `2026-12-02T01:05:00Z` (no milliseconds: nobody plans to the millisecond) */
export function shortIso(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `2026-12-02T01:05:00Z (in 2h 5m)`, `... (now)` once passed; undefined without a time */
export function formatEstimatedEnd(iso: string | undefined, now: number = Date.now()): string | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return undefined;
  return `${shortIso(iso)} (${t <= now ? 'now' : `in ${formatSpan(t - now)}`})`;
}
