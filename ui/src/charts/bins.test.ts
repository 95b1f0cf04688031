import { describe, expect, it } from 'vitest';
import type { RunOutcome, RunRow } from '../../../src/api/types.js';
import { durationHistogram, isFinal, memoryView, niceStep, NO_VALUE, outcomesByParam, quantile, sizingVerdict, stateOf } from './bins.js';

const MiB = 1024 * 1024;
let next = 0;
function run(p: Partial<RunRow> & { outcome?: RunOutcome } = {}): RunRow {
  return { jobId: 'sim/x', index: next++, meta: {}, outcome: 'complete', reason: '', attempt: 1, requestedMemory: 100 * MiB, ...p };
}

describe('niceStep and quantile', () => {
  it('picks 1, 2, 5 × 10^k', () => {
    expect(niceStep(100, 10)).toBe(10);
    expect(niceStep(101, 10)).toBe(20);
    expect(niceStep(7, 10)).toBe(1);
    expect(niceStep(0.7, 10)).toBe(0.1);
    expect(niceStep(0.7, 10, 1)).toBe(1);
    expect(niceStep(4000, 10)).toBe(500);
    expect(niceStep(0, 10)).toBe(1);
  });
  it('nearest rank', () => {
    expect(quantile([], 0.5)).toBeUndefined();
    expect(quantile([5], 0.9)).toBe(5);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
  });
  it('counts oom-killed, timed-out and lost as failed, preempted as queued', () => {
    expect(stateOf('oom-killed')).toBe('failed');
    expect(stateOf('lost')).toBe('failed');
    expect(stateOf('preempted')).toBe('queued');
    expect(isFinal('stopped')).toBe(true);
    expect(isFinal('running')).toBe(false);
  });
});

describe('durationHistogram', () => {
  it('is empty for no runs, and for runs that have not finished', () => {
    expect(durationHistogram([])).toEqual({ bins: [], n: 0 });
    expect(durationHistogram([run({ outcome: 'running', durationMs: 500 }), run({ outcome: 'queued' }), run({ outcome: 'stopped' })]).n).toBe(0);
  });
  it('puts one run in one bin around its value', () => {
    const h = durationHistogram([run({ durationMs: 300 })]);
    expect(h.n).toBe(1);
    expect(h.bins).toHaveLength(1);
    expect(h.bins[0].from).toBeLessThanOrEqual(300);
    expect(h.bins[0].to).toBeGreaterThan(300);
    expect(h.p50).toBe(300);
  });
  it('bins finished runs in round widths, split by how they ended, summing to the runs', () => {
    const runs = [
      ...Array.from({ length: 90 }, (_, i) => run({ durationMs: 1000 + i * 10 })),
      ...Array.from({ length: 10 }, () => run({ outcome: 'oom-killed', durationMs: 2500 })),
      run({ outcome: 'running', durationMs: 9999 }),
    ];
    const h = durationHistogram(runs, 20);
    expect(h.n).toBe(100);
    expect(h.bins.length).toBeLessThanOrEqual(20);
    expect(h.bins.reduce((s, b) => s + b.count, 0)).toBe(100);
    expect(h.bins.reduce((s, b) => s + b.byState.failed, 0)).toBe(10);
    const width = h.bins[0].to - h.bins[0].from;
    expect([50, 100, 200]).toContain(width);
    for (const b of h.bins) expect(b.to - b.from).toBe(width);
    expect(h.bins[0].from).toBeLessThanOrEqual(1000);
    expect(h.bins[h.bins.length - 1].to).toBeGreaterThan(2500);
    expect(h.min).toBe(1000);
    expect(h.max).toBe(2500);
    expect(h.p50).toBe(1490);
    expect(h.p90).toBe(1890);
  });
  it('keeps to the bin limit with a wide spread', () => {
    const runs = Array.from({ length: 20_000 }, (_, i) => run({ durationMs: (i * 7919) % 3_600_000 }));
    const h = durationHistogram(runs, 24);
    expect(h.bins.length).toBeLessThanOrEqual(24);
    expect(h.bins.reduce((s, b) => s + b.count, 0)).toBe(20_000);
  });
});

describe('memoryView', () => {
  it('handles no runs and runs without a peak', () => {
    const empty = memoryView([]);
    expect(empty.columns).toEqual([]);
    expect(sizingVerdict(empty)).toMatch(/No run has reported/);
    const v = memoryView([run({ outcome: 'queued' }), run({ outcome: 'complete' })]);
    expect(v.n).toBe(0);
    expect(v.withoutPeak).toBe(2);
  });
  it('one column per run, with the fraction of the request used', () => {
    const v = memoryView([
      run({ peakMemory: 10 * MiB }),
      run({ peakMemory: 20 * MiB }),
      run({ peakMemory: 30 * MiB, memoryLimit: 100 * MiB }),
      run({ outcome: 'queued' }),
    ]);
    expect(v.columns).toHaveLength(3);
    expect(v.columns.map((c) => c.max)).toEqual([10 * MiB, 20 * MiB, 30 * MiB]);
    expect(v.withoutPeak).toBe(1);
    expect(v.used).toEqual({ p50: 0.2, p95: 0.3, max: 0.3 });
    expect(v.top).toBe(100 * MiB);
    expect(sizingVerdict(v)).toMatch(/could be smaller/);
  });
  it('groups many runs into columns and marks OOM kills, even without a peak', () => {
    const runs = Array.from({ length: 10_000 }, (_, i) => run({ peakMemory: (i % 100) * MiB }));
    runs[5000] = run({ outcome: 'oom-killed', memoryLimit: 100 * MiB });
    const v = memoryView(runs, 100);
    expect(v.columns).toHaveLength(100);
    expect(v.columns.reduce((s, c) => s + c.n, 0)).toBe(10_000);
    expect(v.columns[0]).toMatchObject({ n: 100, min: 0, max: 99 * MiB, median: 49 * MiB });
    expect(v.oom).toBe(1);
    expect(v.columns[50].oom).toBe(1);
    expect(v.columns[50].max).toBe(100 * MiB);
    expect(sizingVerdict(v)).toMatch(/1 run was OOM-killed/);
  });
});

describe('outcomesByParam', () => {
  it('counts each value of a key by state, numbers in numeric order', () => {
    const runs = [
      run({ meta: { mode: 'ok', n: '10' } }),
      run({ meta: { mode: 'fail', n: '2' }, outcome: 'failed' }),
      run({ meta: { mode: 'fail', n: '10' }, outcome: 'oom-killed' }),
      run({ meta: { mode: 'ok', n: '2' }, outcome: 'running' }),
      run({ meta: { mode: 'ok' }, outcome: 'queued' }),
    ];
    const { charts, skipped } = outcomesByParam(runs, ['mode']);
    expect(skipped).toEqual([]);
    expect(charts.map((c) => c.key)).toEqual(['mode', 'n']);
    const mode = charts[0];
    expect(mode.groups.map((g) => g.label)).toEqual(['fail', 'ok']);
    expect(mode.groups[0].counts).toEqual({ complete: 0, failed: 2, stopped: 0, running: 0, queued: 0 });
    expect(mode.groups[1].counts).toMatchObject({ complete: 1, running: 1, queued: 1 });
    const n = charts[1];
    expect(n.groups.map((g) => g.label)).toEqual(['2', '10', NO_VALUE]);
    expect(n.groups.reduce((s, g) => s + g.total, 0)).toBe(5);
  });
  it('bins a key with many numeric values, and skips one with many words', () => {
    const runs = Array.from({ length: 1000 }, (_, i) =>
      run({ meta: { i: String(i), id: `run-${i}`, x: String(i / 10) }, outcome: i % 100 === 7 ? 'failed' : 'complete' }),
    );
    const { charts, skipped } = outcomesByParam(runs, [], 12);
    expect(skipped).toEqual([{ key: 'id', distinct: 1000 }]);
    const i = charts.find((c) => c.key === 'i')!;
    expect(i.binned).toBe(true);
    expect(i.groups.length).toBeLessThanOrEqual(12);
    expect(i.groups[0].label).toBe('0–99');
    expect(i.groups[9].label).toBe('900–999');
    expect(i.groups.every((g) => g.total === 100 && g.counts.failed === 1)).toBe(true);
    const x = charts.find((c) => c.key === 'x')!;
    expect(x.groups.reduce((s, g) => s + g.total, 0)).toBe(1000);
    expect(x.groups[0].label).toBe('0–10');
  });
  it('nothing for no runs', () => {
    expect(outcomesByParam([], ['mode'])).toEqual({ charts: [], skipped: [] });
  });
});
