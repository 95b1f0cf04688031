/**
 * Docker log timestamps (RFC3339Nano). Docker trims trailing zeros of the
 * fraction, so they do not sort as strings: compare them as nanoseconds.
 */

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Nanoseconds since the epoch, or undefined for text that is not a timestamp. */
export function timestampNanos(ts: string): bigint | undefined {
  const m = RFC3339.exec(ts);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms / 1000) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** true when `a` is strictly later than `b`; an unparsable `b` lets everything through */
export function timestampAfter(a: string, b: string): boolean {
  const na = timestampNanos(a);
  const nb = timestampNanos(b);
  if (nb === undefined) return true;
  if (na === undefined) return false;
  return na > nb;
}

/** Docker's `since` query: unix seconds with a nanosecond fraction. */
export function timestampToSince(ts: string): string {
  const n = timestampNanos(ts);
  if (n === undefined) return '0';
  const s = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0');
  return `${s}.${frac}`;
}

/** Splits `"<timestamp> <data>"` as docker writes each message with timestamps=true. */
export function splitTimestamp(frame: Buffer): { timestamp?: string; data: Buffer } {
  const sp = frame.indexOf(0x20);
  if (sp > 0 && sp <= 40) {
    const ts = frame.subarray(0, sp).toString('latin1');
    if (timestampNanos(ts) !== undefined) return { timestamp: ts, data: frame.subarray(sp + 1) };
  }
  return { data: frame };
}
