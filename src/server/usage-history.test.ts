import { describe, expect, it } from 'vitest';
import { UsageHistory } from './usage-history.js';

const MIN = 60_000;

describe('UsageHistory', () => {
  it('keeps an hour of samples per node, per alloc and per task', () => {
    const h = new UsageHistory();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (let m = 0; m <= 90; m += 10) {
      h.record('n1', { node: { cpu: m, memory: m * 10 }, allocs: { a1: { web: { cpu: m, memory: 1 }, side: { cpu: 1, memory: 2 } } } }, t0 + m * MIN);
    }
    const now = t0 + 90 * MIN;
    // 30..90: points older than an hour are gone
    expect(h.nodeSamples('n1', now).map((s) => s.cpu)).toEqual([30, 40, 50, 60, 70, 80, 90]);
    expect(h.nodeSamples('n1', now)[0].time).toBe('2026-01-01T00:30:00.000Z');
    const a = h.allocSamples('a1', now);
    expect(a.samples.at(-1)).toMatchObject({ cpu: 91, memory: 3 });
    expect(a.tasks.web.map((s) => s.cpu)).toEqual([30, 40, 50, 60, 70, 80, 90]);
    expect(h.nodeLatest('n1', now)).toEqual({ cpu: 90, memory: 900 });
    expect(h.allocSamples('other', now)).toEqual({ samples: [], tasks: {} });
  });

  it('forgets allocs not reported for over an hour, and ignores another node writing to an alloc', () => {
    const h = new UsageHistory();
    const t0 = 1_000_000_000_000;
    h.record('n1', { node: { cpu: 1, memory: 1 }, allocs: { gone: { t: { cpu: 1, memory: 1 } } } }, t0);
    h.record('n2', { node: { cpu: 1, memory: 1 }, allocs: { gone: { t: { cpu: 999, memory: 999 } } } }, t0 + 1);
    expect(h.allocSamples('gone', t0 + 2).samples).toHaveLength(1);
    h.record('n1', { node: { cpu: 1, memory: 1 }, allocs: {} }, t0 + 61 * MIN);
    expect(h.allocCount).toBe(0);
  });
});
