import { describe, expect, it } from 'vitest';
import type { Alloc, JobDetail } from '../api/types.js';
import { etaMs, progressFromJob, renderProgressBar, renderProgressLine, type ProgressState } from './progress.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');

function state(over: Partial<ProgressState> = {}): ProgressState {
  return { label: 'sweep 3f2a9c1e', total: 500, queued: 240, running: 50, complete: 200, failed: 10, startedAt: T0, now: T0 + 200_000, ...over };
}

describe('etaMs', () => {
  it('extrapolates the completion rate seen so far', () => {
    // 210 done in 200 s: 290 left take 290 * 200/210 s
    expect(etaMs(state())).toBeCloseTo((290 * 200_000) / 210);
  });
  it('is unknown before anything finished and once everything did', () => {
    expect(etaMs(state({ complete: 0, failed: 0 }))).toBeUndefined();
    expect(etaMs(state({ complete: 490, failed: 10, queued: 0, running: 0 }))).toBeUndefined();
  });
});

describe('renderProgressBar', () => {
  it('shows bar, percent, counts, elapsed and ETA within the width', () => {
    const line = renderProgressBar(state(), 140);
    expect(line).toMatch(/^sweep 3f2a9c1e \[#+-+\] 42% 210\/500 {2}240 queued, 50 running, 200 complete, 10 failed {2}3m20s, ETA 4m36s$/);
    expect(line.length).toBeLessThanOrEqual(139);
    const bar = /\[(#*)(-*)\]/.exec(line)!;
    const width = bar[1].length + bar[2].length;
    expect(bar[1].length).toBe(Math.round((width * 210) / 500));
  });
  it('is full at the end, without an ETA', () => {
    const line = renderProgressBar(state({ queued: 0, running: 0, complete: 495, failed: 5 }), 140);
    expect(line).toContain('100% 500/500');
    expect(line).not.toContain('-]');
    expect(line).not.toContain('ETA');
  });
  it('drops the bar, then cuts the line, on a narrow terminal: it must never wrap', () => {
    const mid = renderProgressBar(state(), 100);
    expect(mid).not.toContain('[');
    expect(mid.length).toBeLessThanOrEqual(99);
    const narrow = renderProgressBar(state(), 40);
    expect(narrow.length).toBeLessThanOrEqual(39);
    expect(narrow.endsWith('…')).toBe(true);
    expect(narrow.startsWith('sweep 3f2a9c1e 42%')).toBe(true);
  });
  it('shows whole seconds, never milliseconds', () => {
    const line = renderProgressBar(state({ now: T0 + 300, complete: 499, failed: 0, queued: 1, running: 0 }), 140);
    expect(line).toMatch(/ 0s, ETA <1s$/);
  });
  it('handles an empty total', () => {
    expect(renderProgressBar(state({ total: 0, queued: 0, running: 0, complete: 0, failed: 0 }), 140)).toContain('100% 0/0');
  });
});

describe('renderProgressLine', () => {
  it('has the counts and no clock, so it changes only when they do', () => {
    expect(renderProgressLine(state())).toBe('sweep 3f2a9c1e: 240 queued, 50 running, 200 complete, 10 failed (210/500 done)');
    expect(renderProgressLine(state({ now: T0 + 999_999 }))).toBe(renderProgressLine(state()));
  });
  it('groups the digits of a large sweep', () => {
    const big = state({ total: 1_000_000, queued: 650_000, running: 20, complete: 340_000, failed: 9_980 });
    expect(renderProgressLine(big)).toBe('sweep 3f2a9c1e: 650,000 queued, 20 running, 340,000 complete, 9,980 failed (349,980/1,000,000 done)');
  });
});

describe('progressFromJob', () => {
  function alloc(index: number, attempt: number, clientStatus: Alloc['clientStatus'], jobVersion = 2): Alloc {
    return { index, attempt, clientStatus, jobVersion, createIndex: attempt } as Alloc;
  }
  function detail(allocs: Alloc[], status: JobDetail['job']['status'] = 'running'): JobDetail {
    return { job: { version: 2, status, spec: { count: 5 } }, allocs } as unknown as JobDetail;
  }
  it('uses the newest attempt of each index of the current version', () => {
    const d = detail([alloc(0, 0, 'failed'), alloc(0, 1, 'running'), alloc(1, 0, 'complete'), alloc(2, 0, 'failed'), alloc(3, 0, 'complete', 1)]);
    expect(progressFromJob(d)).toEqual({ total: 5, queued: 2, running: 1, complete: 1, failed: 1 });
  });
  it('counts a lost alloc as waiting for its replacement until the job failed', () => {
    expect(progressFromJob(detail([alloc(0, 0, 'lost')])).queued).toBe(5);
    expect(progressFromJob(detail([alloc(0, 0, 'lost')], 'failed')).failed).toBe(1);
  });
});
