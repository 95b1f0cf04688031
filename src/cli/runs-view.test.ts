import { describe, expect, it } from 'vitest';
import type { JobStatus, JobSummary, RunRow } from '../api/types.js';
import { formatNextLaunch, jobListCounts } from './commands/job.js';
import { formatChildCounts, until } from './output.js';
import { renderRunSummary } from './runs-view.js';

const GiB = 1024 ** 3;

function run(i: number, over: Partial<RunRow> = {}): RunRow {
  return {
    jobId: `sim/dispatch-${i}`,
    index: i,
    meta: { scenario: String(i) },
    outcome: 'complete',
    reason: 'exit code 0',
    attempt: 0,
    requestedMemory: 32 * GiB,
    durationMs: 60_000 * (i + 1),
    peakMemory: (10 + i * 0.2) * GiB,
    node: 'n1',
    ...over,
  };
}

describe('renderRunSummary', () => {
  it('shows counts, quantiles, failed runs and hints', () => {
    const runs = [
      ...Array.from({ length: 6 }, (_, i) => run(i)),
      run(6, { outcome: 'oom-killed', reason: 'OOM killed at 32 GiB', memoryLimit: 32 * GiB, peakMemory: 32 * GiB }),
      run(7, { outcome: 'queued', durationMs: undefined, peakMemory: undefined }),
    ];
    const text = renderRunSummary({ job: {} as JobSummary, runs }).join('\n');
    expect(text).toContain('Runs: 8 (1 queued, 6 complete, 1 oom-killed)');
    expect(text).toMatch(/duration\s+4m\s+7m\s+7m\s+7m\s+7/);
    expect(text).toMatch(/peak memory\s+10.6 GiB\s+32 GiB\s+32 GiB\s+32 GiB\s+7/);
    expect(text).toContain('Failed runs (1)');
    expect(text).toMatch(/sim\/dispatch-6\s+6\s+scenario=6\s+n1\s+0\s+oom-killed\s+OOM killed at 32 GiB/);
    expect(text).toContain('1 run was OOM-killed at 32 GiB: raise memory or set retry.on_oom');
  });
  it('says how many failed runs it leaves out', () => {
    const runs = Array.from({ length: 25 }, (_, i) => run(i, { outcome: 'failed' }));
    expect(renderRunSummary({ job: {} as JobSummary, runs }).join('\n')).toContain('Failed runs (25, first 20 shown; -o csv lists all)');
  });
  it('is one line when there are no runs yet', () => {
    expect(renderRunSummary({ job: {} as JobSummary, runs: [] })).toEqual(['Runs: 0 (none)']);
  });
});

describe('job ls cells', () => {
  const children: Record<JobStatus, number> = { pending: 2, running: 1, complete: 10, failed: 0, stopped: 0 };
  it('shows a parent’s children instead of its (empty) allocs', () => {
    expect(jobListCounts({ allocs: { pending: 0, running: 0, complete: 0, failed: 0, lost: 0 }, children } as JobSummary)).toBe(
      'runs: 2 pending, 1 running, 10 complete',
    );
    expect(jobListCounts({ allocs: { pending: 0, running: 3, complete: 0, failed: 0, lost: 0 } } as JobSummary)).toBe('3 running');
    expect(formatChildCounts({})).toBe('runs: none');
  });
  it('shows the next launch as a time and a countdown', () => {
    const now = Date.parse('2025-01-01T22:00:00Z');
    expect(until('2025-01-02T03:00:00Z', now)).toBe('in 5h');
    expect(until('2025-01-01T22:00:30Z', now)).toBe('in 30s');
    expect(until('2025-01-01T21:00:00Z', now)).toBe('now');
    expect(until(undefined, now)).toBe('-');
    expect(formatNextLaunch('2025-01-02T03:00:00Z', now)).toBe('2025-01-02T03:00:00Z (in 5h)');
    expect(formatNextLaunch(undefined, now)).toBe('-');
  });
});
