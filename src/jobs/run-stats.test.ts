import { describe, expect, it } from 'vitest';
import { quantiles } from './run-summary.js';
import { applyRunChange, bucketOf, emptyStats, histQuantiles, mergeStats, publicStats, runFacts, subtractStats, type Histogram } from './run-stats.js';

function hist(values: number[]): Histogram {
  const s = emptyStats();
  for (const v of values) applyRunChange(s, undefined, { state: 'complete', outcome: 'complete', durationMs: v });
  return s.duration;
}

describe('run stats histograms', () => {
  it('give quantiles within 2.2% of the exact nearest-rank ones, and the exact min and max', () => {
    // a skewed spread of durations, 1 ms to about 3 hours
    const values = Array.from({ length: 5000 }, (_, i) => Math.round(1 + ((i * 7919) % 10_000_000) / (1 + (i % 13))));
    const exact = quantiles(values)!;
    const approx = histQuantiles(hist(values))!;
    for (const k of ['p50', 'p90', 'p95'] as const) {
      expect(Math.abs(approx[k] - exact[k]) / exact[k]).toBeLessThan(0.022);
    }
    expect(approx.min).toBe(Math.min(...values));
    expect(approx.max).toBe(exact.max);
    expect(approx.n).toBe(5000);
  });

  it('puts zero in a bucket of its own and answers nothing for no values', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(1)).toBe(1);
    expect(histQuantiles({ buckets: {}, n: 0 })).toBeUndefined();
    expect(histQuantiles(hist([0, 0, 0]))).toMatchObject({ p50: 0, max: 0, n: 3 });
  });
});

describe('applyRunChange', () => {
  it('moves a run between states and counts its duration once it ends', () => {
    const s = emptyStats();
    s.total = 1;
    const queued = runFacts('pending', { outcome: 'queued' });
    applyRunChange(s, undefined, queued);
    const running = runFacts('running', { outcome: 'running', startedAt: '2026-01-01T00:00:00.000Z' });
    applyRunChange(s, queued, running);
    expect(s.states).toMatchObject({ queued: 0, running: 1 });
    // a running run's duration so far is not a duration
    expect(s.duration.n).toBe(0);
    const done = runFacts('complete', {
      outcome: 'complete',
      durationMs: 1500,
      peakMemory: 1 << 20,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.500Z',
    });
    applyRunChange(s, running, done);
    expect(s.states).toEqual({ queued: 0, running: 0, complete: 1, failed: 0, stopped: 0 });
    expect(s.outcomes).toEqual({ complete: 1 });
    expect(s.duration.n).toBe(1);
    expect(s.durationSum).toBe(1500);
    expect(s.lastFinishedAt).toBe('2026-01-01T00:00:01.500Z');
    // started again (a stopped run restarted, say): its duration leaves the totals
    applyRunChange(s, done, queued);
    expect(s.duration.n).toBe(0);
    expect(s.durationSum).toBe(0);
    expect(s.outcomes).toEqual({ queued: 1 });
  });

  it('tells a run waiting for its retry (queued) from one that failed for good', () => {
    expect(runFacts('pending', { outcome: 'failed' })).toEqual({ state: 'queued', outcome: 'queued' });
    expect(runFacts('pending', { outcome: 'preempted' })).toEqual({ state: 'queued', outcome: 'preempted' });
    expect(runFacts('failed', { outcome: 'oom-killed', memoryLimit: 64 })).toMatchObject({ state: 'failed', outcome: 'oom-killed', memoryLimit: 64 });
    // an alloc outcome that is no failure cannot make a failed run anything but failed
    expect(runFacts('failed', { outcome: 'queued' })).toEqual({ state: 'failed', outcome: 'failed' });
  });

  it('adds and takes away whole sweeps', () => {
    const a = emptyStats();
    const b = emptyStats();
    for (const [s, d] of [
      [a, 100],
      [b, 200],
      [b, 300],
    ] as const) {
      s.total++;
      applyRunChange(s, undefined, { state: 'complete', outcome: 'complete', durationMs: d });
    }
    const both = mergeStats(a, b);
    expect(both.total).toBe(3);
    expect(both.states.complete).toBe(3);
    expect(both.duration.n).toBe(3);
    const back = subtractStats(both, b);
    expect(back.total).toBe(1);
    expect(back.states.complete).toBe(1);
    expect(back.duration.n).toBe(1);
    expect(back.durationSum).toBe(100);
  });
});

describe('publicStats', () => {
  it('estimates the end from the runs left, the mean duration and the runs running now', () => {
    const s = emptyStats();
    s.total = 12;
    s.states = { queued: 8, running: 2, complete: 2, failed: 0, stopped: 0 };
    s.outcomes = { queued: 8, running: 2, complete: 2 };
    for (const d of [1000, 3000]) {
      s.duration.buckets[String(bucketOf(d))] = (s.duration.buckets[String(bucketOf(d))] ?? 0) + 1;
      s.duration.n++;
      s.durationSum += d;
    }
    s.duration.min = 1000;
    s.duration.max = 3000;
    const p = publicStats(s, 1024, 0);
    expect(p.finished).toBe(2);
    // 10 runs left × 2 s mean ÷ 2 at a time = 10 s
    expect(p.estimatedEnd).toBe(new Date(10_000).toISOString());
    expect(p.requestedMemory).toBe(1024);
  });

  it('gives no estimate before a run has finished, or when nothing runs', () => {
    const s = emptyStats();
    s.states.queued = 5;
    expect(publicStats(s, 0, 0).estimatedEnd).toBeUndefined();
  });
});
