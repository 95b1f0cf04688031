import { describe, expect, it } from 'vitest';
import type { RunRow, RunStats } from '../api/types.js';
import { blockedLine, formatEnds, formatStates, percent, renderSweepSection, type SweepView } from './sweep-view.js';

const GiB = 1024 ** 3;
const now = Date.parse('2026-12-01T23:00:00Z');

/** a sweep of a million runs, a third of the way through */
function bigSweep(over: Partial<RunStats> = {}): RunStats {
  return {
    total: 1_000_000,
    finished: 340_000,
    states: { queued: 659_980, running: 20, complete: 330_000, failed: 9_980, stopped: 20 },
    outcomes: { queued: 659_900, preempted: 80, running: 20, complete: 330_000, failed: 9_000, 'oom-killed': 900, 'timed-out': 60, lost: 20, stopped: 20 },
    durationMs: { p50: 61_000, p90: 95_000, p95: 120_000, min: 1_200, max: 600_000, n: 339_980 },
    peakMemory: { p50: 9 * GiB, p90: 10.5 * GiB, p95: 11.2 * GiB, min: 1 * GiB, max: 32 * GiB, n: 339_980 },
    requestedMemory: 32 * GiB,
    oomLimit: { min: 32 * GiB, max: 32 * GiB },
    firstStartedAt: '2026-12-01T21:00:00.000Z',
    estimatedEnd: '2026-12-02T01:05:40.000Z',
    ...over,
  };
}

function failedRun(i: number): RunRow {
  return {
    jobId: `sim/3f2a9c1e-${i}`,
    index: i,
    meta: { scenario: String(i) },
    outcome: 'oom-killed',
    reason: 'OOM killed at 32 GiB (peak 32 GiB)',
    attempt: 0,
    node: 'n1',
    requestedMemory: 32 * GiB,
  };
}

function view(over: Partial<SweepView> = {}): SweepView {
  return {
    jobId: 'sim',
    now,
    stats: bigSweep(),
    blocked: [{ dimension: 'memory', message: 'memory: 0 of 2 nodes have 32 GiB free', nodesEvaluated: 2, nodesFiltered: 0, neverFits: false }],
    failed: Array.from({ length: 20 }, (_, i) => failedRun(i * 7)),
    ...over,
  };
}

describe('renderSweepSection', () => {
  const text = renderSweepSection(view()).join('\n');

  it('shows counts by state and by outcome, and the progress', () => {
    expect(text).toMatch(/Runs\s+1,000,000/);
    expect(text).toMatch(/Progress\s+340,000 of 1,000,000 finished \(34\.0%\)/);
    expect(text).toMatch(/States\s+659,980 queued, 20 running, 330,000 complete, 9,980 failed, 20 stopped/);
    expect(text).toMatch(/Outcomes\s+80 preempted, 330,000 complete, 9,000 failed, 900 oom-killed, 60 timed-out, 20 lost, 20 stopped/);
  });
  it('gives the estimated end as a time and a countdown, marked approximate', () => {
    expect(text).toMatch(/Estimated end\s+≈2026-12-02T01:05:40Z \(in 2h 5m\), at the pace so far/);
    expect(text).toMatch(/First start\s+2026-12-01T21:00:00Z \(2h ago\)/);
  });
  it('says why the queue waits, per dimension', () => {
    expect(text).toContain('Why it waits (659,980 queued)\n  memory: 0 of 2 nodes have 32 GiB free (2 nodes evaluated, 0 filtered)');
    expect(text).not.toContain('No node can ever');
  });
  it('shows approximate quantiles of duration and peak memory', () => {
    expect(text).toMatch(/OF FINISHED RUNS\s+≈P50\s+≈P90\s+≈P95\s+MIN\s+MAX\s+RUNS/);
    expect(text).toMatch(/duration\s+1m1s\s+1m35s\s+2m\s+1s\s+10m\s+339,980/);
    expect(text).toMatch(/peak memory\s+9 GiB\s+10.5 GiB\s+11.2 GiB\s+1 GiB\s+32 GiB\s+339,980/);
    expect(text).toContain('≈: from a histogram');
  });
  it('lists the first failed runs and says how many there are in all', () => {
    expect(text).toContain('Failed runs (9,980, first 20 shown; `baton job status sim -o csv` lists every run)');
    expect(text).toMatch(/sim\/3f2a9c1e-7\s+7\s+scenario=7\s+n1\s+0\s+oom-killed\s+OOM killed at 32 GiB/);
  });
  it('gives the OOM and right-sizing hints from the totals', () => {
    expect(text).toContain(
      'Hints\n  900 runs were OOM-killed at 32 GiB: raise memory or set retry.on_oom\n  requested 32 GiB, p95 peak ≈11.2 GiB: 2.9x more runs would fit',
    );
    const clean = renderSweepSection(view({ stats: bigSweep({ outcomes: { complete: 340_000 }, oomLimit: undefined }) })).join('\n');
    expect(clean).toContain('requested 32 GiB, p95 peak ≈11.2 GiB: 2.9x more runs would fit (memory: 13.4Gi leaves 20% over the p95)');
    expect(clean).not.toContain('Failed runs');
  });
  it('says when waiting cannot help', () => {
    const never = renderSweepSection(
      view({ blocked: [{ dimension: 'memory', message: 'memory: no node has 64 GiB', nodesEvaluated: 2, nodesFiltered: 2, neverFits: true }] }),
    ).join('\n');
    expect(never).toContain('memory: no node has 64 GiB (2 nodes evaluated, 2 filtered): no node could ever fit this, waiting will not help');
    expect(never).toContain('No node can ever run these runs as the cluster is now');
  });
  it('tells a finished sweep, one not started, and an empty one apart', () => {
    const done = bigSweep({
      total: 10,
      finished: 10,
      states: { queued: 0, running: 0, complete: 10, failed: 0, stopped: 0 },
      estimatedEnd: undefined,
      lastFinishedAt: '2026-12-01T22:00:00Z',
    });
    expect(renderSweepSection(view({ stats: done, blocked: [] })).join('\n')).toMatch(/Finished\s+2026-12-01T22:00:00Z \(1h ago\)/);
    const waiting = bigSweep({
      finished: 0,
      states: { queued: 5, running: 0, complete: 0, failed: 0, stopped: 0 },
      estimatedEnd: undefined,
      durationMs: undefined,
      peakMemory: undefined,
    });
    const w = renderSweepSection(view({ stats: waiting, failed: [] })).join('\n');
    expect(w).toMatch(/Estimated end\s+- \(no run is running\)/);
    expect(w).toContain('Of finished runs: no duration or peak memory yet');
    const noPeaks = renderSweepSection(view({ stats: bigSweep({ peakMemory: undefined }) })).join('\n');
    expect(noPeaks).toMatch(/peak memory\s+-\s+-\s+-\s+-\s+-\s+0/);
    const empty = bigSweep({ total: 0, finished: 0, states: { queued: 0, running: 0, complete: 0, failed: 0, stopped: 0 }, outcomes: {} });
    expect(renderSweepSection(view({ stats: empty })).join('\n')).toMatch(/Progress\s+0 of 0 finished \(-\)/);
  });
});

describe('sweep cells', () => {
  it('formats percentages without claiming 100% early', () => {
    expect(percent(340_000, 1_000_000)).toBe('34.0%');
    expect(percent(999_999, 1_000_000)).toBe('99.9%');
    expect(percent(5, 5)).toBe('100.0%');
    expect(percent(0, 0)).toBe('-');
  });
  it('lists every state but only the outcomes that happened', () => {
    expect(formatStates({ queued: 1, running: 0, complete: 2, failed: 0, stopped: 0 })).toBe('1 queued, 0 running, 2 complete, 0 failed, 0 stopped');
    expect(formatEnds({ queued: 3, running: 1 })).toBe('-');
    expect(formatEnds({ complete: 1234, 'timed-out': 1 })).toBe('1,234 complete, 1 timed-out');
  });
  it('adds the dimension to a message that does not start with it', () => {
    expect(blockedLine({ dimension: 'cpu', message: 'no node has 8 cores free', nodesEvaluated: 1, nodesFiltered: 0, neverFits: false })).toBe(
      'cpu: no node has 8 cores free (1 node evaluated, 0 filtered)',
    );
  });
});
