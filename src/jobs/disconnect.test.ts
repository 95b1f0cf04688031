import { describe, expect, it } from 'vitest';
import { defaultStopAfterMs, disconnectDeadline, mayRunTwice, replaceMarginMs } from './disconnect.js';

const bound = { ttlMs: 15_000, stopAfterMs: defaultStopAfterMs(15_000) };

describe('disconnectDeadline', () => {
  it("stops after the server's bound and kills before the TTL by default", () => {
    expect(bound.stopAfterMs).toBe(10_000);
    expect(disconnectDeadline(undefined, bound, 2_000)).toEqual({ stopAfterMs: 10_000, killAfterMs: 12_000 });
    // a long kill_timeout is cut short: the copy must be gone before the server may replace it
    expect(disconnectDeadline(undefined, bound, 30_000)).toEqual({ stopAfterMs: 10_000, killAfterMs: 15_000 - replaceMarginMs(15_000) });
  });

  it("gives a job's replace_after to its kill deadline, and honours its own stop_after", () => {
    expect(disconnectDeadline({ replaceAfterMs: 60_000 }, bound, 30_000)).toEqual({ stopAfterMs: 70_000, killAfterMs: 75_000 - replaceMarginMs(15_000) });
    expect(disconnectDeadline({ replaceAfterMs: 60_000 }, bound, 1_000)).toEqual({ stopAfterMs: 70_000, killAfterMs: 71_000 });
    expect(disconnectDeadline({ stopAfterMs: 3_000 }, bound, 1_000)).toEqual({ stopAfterMs: 3_000, killAfterMs: 4_000 });
    // past the replacement: what the job asked for, as written
    expect(disconnectDeadline({ stopAfterMs: 60_000 }, bound, 5_000)).toEqual({ stopAfterMs: 60_000, killAfterMs: 65_000 });
    expect(disconnectDeadline({ stopAfterMs: null }, bound, 5_000)).toBeUndefined();
  });

  it('says which policies may run two copies after a partition', () => {
    expect(mayRunTwice(undefined, bound)).toBe(false);
    expect(mayRunTwice({ replaceAfterMs: 60_000 }, bound)).toBe(false);
    expect(mayRunTwice({ stopAfterMs: null, replaceAfterMs: 60_000 }, bound)).toBe(true);
    expect(mayRunTwice({ stopAfterMs: 20_000 }, bound)).toBe(true);
    expect(mayRunTwice({ stopAfterMs: 20_000, replaceAfterMs: 60_000 }, bound)).toBe(false);
  });
});
