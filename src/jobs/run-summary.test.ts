import { describe, expect, it } from 'vitest';
import type { RunRow, RunStats } from '../api/types.js';
import { parseCsv } from '../cli/csv.js';
import {
  csvField,
  formatOutcomeCounts,
  oomWarning,
  quantile,
  quantiles,
  rightSizingHint,
  runsToCsv,
  statsHints,
  summarizeRuns,
  metaKeysOf,
} from './run-summary.js';

const GiB = 1024 ** 3;

function row(over: Partial<RunRow> = {}): RunRow {
  return {
    jobId: 'sim/dispatch-1',
    index: 0,
    meta: {},
    outcome: 'complete',
    reason: 'exit code 0',
    attempt: 0,
    requestedMemory: 32 * GiB,
    ...over,
  };
}

describe('quantiles', () => {
  it('uses the nearest rank, so every quantile is a value a run really had', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantiles(values)).toEqual({ p50: 50, p90: 90, p95: 95, max: 100, n: 100 });
    expect(quantile([7], 0.95)).toBe(7);
    expect(quantiles([3, 1, 2])).toEqual({ p50: 2, p90: 3, p95: 3, max: 3, n: 3 });
  });
  it('is undefined without values', () => {
    expect(quantiles([])).toBeUndefined();
  });
});

describe('summarizeRuns', () => {
  it('counts outcomes and takes quantiles over finished runs only', () => {
    const rows = [
      row({ durationMs: 1000, peakMemory: 1 * GiB }),
      row({ index: 1, durationMs: 3000, peakMemory: 3 * GiB }),
      row({ index: 2, outcome: 'failed', reason: 'exit code 2', durationMs: 2000, peakMemory: 2 * GiB }),
      row({ index: 3, outcome: 'running', durationMs: 99_000, peakMemory: 30 * GiB }),
      row({ index: 4, outcome: 'queued' }),
    ];
    const s = summarizeRuns(rows);
    expect(s.total).toBe(5);
    expect(s.finished).toBe(3);
    expect(s.counts).toEqual({ complete: 2, failed: 1, running: 1, queued: 1 });
    expect(s.duration).toEqual({ p50: 2000, p90: 3000, p95: 3000, max: 3000, n: 3 });
    expect(s.peakMemory?.max).toBe(3 * GiB);
    expect(s.failed.map((r) => r.index)).toEqual([2]);
    expect(s.failedTotal).toBe(1);
  });
  it('lists at most 20 failed runs but counts them all; every non-complete end is a failure', () => {
    const rows = Array.from({ length: 30 }, (_, i) => row({ index: i, outcome: i % 2 ? 'timed-out' : 'lost' }));
    rows.push(row({ index: 30, outcome: 'stopped' }), row({ index: 31, outcome: 'preempted' }));
    const s = summarizeRuns(rows);
    expect(s.failed).toHaveLength(20);
    expect(s.failedTotal).toBe(31);
    expect(s.finished).toBe(31);
  });
  it('formats counts in lifecycle order', () => {
    expect(formatOutcomeCounts({ failed: 2, queued: 1, complete: 5, 'oom-killed': 1 })).toBe('1 queued, 5 complete, 2 failed, 1 oom-killed');
    expect(formatOutcomeCounts({})).toBe('none');
  });
});

describe('rightSizingHint', () => {
  const peaks = (gib: number[]) => gib.map((g, i) => row({ index: i, peakMemory: g * GiB }));

  it('says how many more runs would fit when the p95 peak is far below the request', () => {
    const hint = rightSizingHint(peaks([8, 9, 10, 10.5, 11.2, 11.2]));
    expect(hint).toMatch(/^requested 32 GiB, p95 peak 11.2 GiB: 2.9x more runs would fit/);
    expect(hint).toContain('memory: 13.4Gi');
  });
  it('stays quiet below a ratio of 1.5, with fewer than 5 finished runs, or without peaks', () => {
    expect(rightSizingHint(peaks([22, 22, 22, 22, 22]))).toBeUndefined();
    expect(rightSizingHint(peaks([1, 1, 1, 1]))).toBeUndefined();
    expect(rightSizingHint(Array.from({ length: 5 }, (_, i) => row({ index: i })))).toBeUndefined();
    const running = peaks([1, 1, 1, 1, 1]).map((r) => ({ ...r, outcome: 'running' as const }));
    expect(rightSizingHint(running)).toBeUndefined();
  });
  it('suggests no smaller request when runs were OOM-killed', () => {
    const rows = [...peaks([2, 2, 2, 2, 2]), row({ index: 9, outcome: 'oom-killed', peakMemory: 2 * GiB })];
    expect(rightSizingHint(rows)).toBe('requested 32 GiB, p95 peak 2 GiB: 16.0x more runs would fit');
  });
  it('uses the request most runs had', () => {
    const rows = peaks([4, 4, 4, 4, 4]);
    rows[0] = { ...rows[0], requestedMemory: 48 * GiB };
    expect(rightSizingHint(rows)).toMatch(/^requested 32 GiB, p95 peak 4 GiB: 8.0x/);
  });
});

describe('oomWarning', () => {
  it('counts OOM kills and names the limit they ran under', () => {
    const rows = [
      row({ outcome: 'oom-killed', memoryLimit: 32 * GiB }),
      row({ index: 1, outcome: 'oom-killed', memoryLimit: 32 * GiB }),
      row({ index: 2, outcome: 'oom-killed' }),
      row({ index: 3 }),
    ];
    expect(oomWarning(rows)).toBe('3 runs were OOM-killed at 32 GiB: raise memory or set retry.on_oom');
    expect(oomWarning([row({ outcome: 'oom-killed', memoryLimit: 1 * GiB })])).toBe('1 run was OOM-killed at 1 GiB: raise memory or set retry.on_oom');
    expect(oomWarning([row({ outcome: 'oom-killed', memoryLimit: GiB }), row({ outcome: 'oom-killed', memoryLimit: 2 * GiB })])).toContain('at 1 GiB to 2 GiB');
    expect(oomWarning([row()])).toBeUndefined();
  });
  it('is part of the summary hints', () => {
    expect(summarizeRuns([row({ outcome: 'oom-killed' })]).hints).toEqual(['1 run was OOM-killed at 32 GiB: raise memory or set retry.on_oom']);
  });
});

describe('runsToCsv', () => {
  it('writes one row per run with a column per meta key (union over runs)', () => {
    const csv = runsToCsv([
      row({ meta: { scenario: '1' }, node: 'n1', durationMs: 61_500, peakMemory: 1000, exitCode: 0 }),
      row({
        jobId: 'sim/dispatch-2',
        index: 1,
        meta: { seed: '7', scenario: '2' },
        outcome: 'failed',
        reason: 'exit code 3, "bad input"',
        exitCode: 3,
        attempt: 2,
      }),
    ]);
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe('job,index,scenario,seed,node,attempt,outcome,exit_code,reason,duration_s,peak_memory_bytes,requested_memory_bytes');
    expect(lines[1]).toBe(`sim/dispatch-1,0,1,,n1,0,complete,0,exit code 0,61.5,1000,${32 * GiB}`);
    expect(lines[2]).toBe(`sim/dispatch-2,1,2,7,,2,failed,3,"exit code 3, ""bad input""",,,${32 * GiB}`);
  });
  it('round-trips through a CSV reader, newlines in values included', () => {
    const csv = runsToCsv([row({ meta: { note: 'a\nb', node: 'x' } })]);
    const recs = parseCsv(csv);
    expect(recs[0].fields.slice(0, 4)).toEqual(['job', 'index', 'note', 'meta.node']);
    expect(recs[1].fields.slice(2, 4)).toEqual(['a\nb', 'x']);
  });
  it('quotes only when needed', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField(' edge')).toBe('" edge"');
    expect(csvField('a"b')).toBe('"a""b"');
  });
});

describe("statsHints (from a sweep's totals)", () => {
  function stats(over: Partial<RunStats> = {}): RunStats {
    return {
      total: 100,
      finished: 100,
      states: { queued: 0, running: 0, complete: 100, failed: 0, stopped: 0 },
      outcomes: { complete: 100 },
      requestedMemory: 32 * GiB,
      peakMemory: { p50: 8 * GiB, p90: 10 * GiB, p95: 11.2 * GiB, min: GiB, max: 12 * GiB, n: 100 },
      ...over,
    };
  }
  it('gives the right-sizing hint with an approximate p95', () => {
    expect(statsHints(stats())).toEqual(['requested 32 GiB, p95 peak ≈11.2 GiB: 2.9x more runs would fit (memory: 13.4Gi leaves 20% over the p95)']);
  });
  it('warns of OOM kills with the limits they ran under, and then suggests no smaller request', () => {
    const s = stats({ outcomes: { complete: 90, 'oom-killed': 1200 }, oomLimit: { min: 16 * GiB, max: 32 * GiB } });
    expect(statsHints(s)).toEqual([
      '1,200 runs were OOM-killed at 16 GiB to 32 GiB: raise memory or set retry.on_oom',
      'requested 32 GiB, p95 peak ≈11.2 GiB: 2.9x more runs would fit',
    ]);
  });
  it('stays quiet with few peaks or a request close to use', () => {
    expect(statsHints(stats({ peakMemory: { p50: 1, p90: 1, p95: GiB, min: 1, max: GiB, n: 4 } }))).toEqual([]);
    expect(statsHints(stats({ peakMemory: { p50: 1, p90: 1, p95: 30 * GiB, min: 1, max: 31 * GiB, n: 100 } }))).toEqual([]);
    expect(statsHints(stats({ peakMemory: undefined }))).toEqual([]);
  });
});

describe('metaKeysOf', () => {
  it('keeps the declared keys first, then the others in the order first seen', () => {
    expect(metaKeysOf([row({ meta: { b: '1', z: '2' } }), row({ meta: { y: '3' } })], ['a', 'b'])).toEqual(['a', 'b', 'z', 'y']);
  });
});
