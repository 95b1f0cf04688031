import { describe, expect, it } from 'vitest';
import { formatEstimatedEnd, formatSpan, shortIso } from './eta.js';

describe('formatSpan', () => {
  it('gives the two largest units, rounded down', () => {
    expect(formatSpan((2 * 3600 + 5 * 60 + 40) * 1000)).toBe('2h 5m');
    expect(formatSpan(200_000)).toBe('3m 20s');
    expect(formatSpan(45_000)).toBe('45s');
    expect(formatSpan(3 * 86_400_000 + 4 * 3_600_000 + 59_000)).toBe('3d 4h');
    expect(formatSpan(2 * 86_400_000 + 30_000)).toBe('2d');
    expect(formatSpan(3_600_000)).toBe('1h');
  });
  it('says <1s below a second and for nonsense', () => {
    expect(formatSpan(999)).toBe('<1s');
    expect(formatSpan(-5)).toBe('<1s');
    expect(formatSpan(Number.NaN)).toBe('<1s');
  });
});

describe('formatEstimatedEnd', () => {
  const now = Date.parse('2026-12-01T23:00:00.000Z');
  it('shows the time and how long until it', () => {
    expect(formatEstimatedEnd('2026-12-02T01:05:00.123Z', now)).toBe('2026-12-02T01:05:00Z (in 2h 5m)');
    expect(formatEstimatedEnd('2026-12-01T22:59:00Z', now)).toBe('2026-12-01T22:59:00Z (now)');
  });
  it('is undefined without a time', () => {
    expect(formatEstimatedEnd(undefined, now)).toBeUndefined();
    expect(formatEstimatedEnd('soon', now)).toBeUndefined();
    expect(shortIso('soon')).toBe('soon');
  });
});
