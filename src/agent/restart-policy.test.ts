import { describe, expect, it } from 'vitest';
import type { RestartPolicy } from '../api/types.js';
import { decideRestart, exitSucceeded } from './restart-policy.js';

const NOW = 1_000_000_000;
const policy = (p: Partial<RestartPolicy> = {}): RestartPolicy => ({ attempts: 2, intervalMs: 60_000, delayMs: 1000, mode: 'fail', ...p });

describe('exitSucceeded', () => {
  it('is true only for exit 0 without OOM or error', () => {
    expect(exitSucceeded({ exitCode: 0 })).toBe(true);
    expect(exitSucceeded({ exitCode: 1 })).toBe(false);
    expect(exitSucceeded({ exitCode: 0, oomKilled: true })).toBe(false);
    expect(exitSucceeded({ exitCode: 0, error: 'image missing' })).toBe(false);
  });
});

describe('decideRestart', () => {
  it('never restarts a batch task that exited 0, whatever the policy', () => {
    const d = decideRestart(policy({ attempts: 5 }), 'batch', { exitCode: 0 }, [], NOW);
    expect(d).toEqual({ restart: false, delayMs: 0, reason: 'task completed' });
    expect(decideRestart(policy({ mode: 'delay' }), 'batch', { exitCode: 0 }, [], NOW).restart).toBe(false);
  });

  it('restarts a batch task that failed while attempts remain, after delayMs', () => {
    const d = decideRestart(policy(), 'batch', { exitCode: 3 }, [], NOW);
    expect(d.restart).toBe(true);
    expect(d.delayMs).toBe(1000);
    expect(d.reason).toBe('restart 1 of 2 within 1m');
  });

  it('fails a batch task with attempts 0 at once (the server retries it as a new alloc)', () => {
    const d = decideRestart(policy({ attempts: 0 }), 'batch', { exitCode: 1 }, [], NOW);
    expect(d.restart).toBe(false);
    expect(d.reason).toMatch(/no restarts/);
  });

  it('restarts a service task on a clean exit too', () => {
    const d = decideRestart(policy(), 'service', { exitCode: 0 }, [], NOW);
    expect(d.restart).toBe(true);
    expect(d.delayMs).toBe(1000);
  });

  it('counts OOM kills and driver errors as failures', () => {
    expect(decideRestart(policy({ attempts: 0 }), 'batch', { exitCode: 0, oomKilled: true }, [], NOW).restart).toBe(false);
    expect(decideRestart(policy({ attempts: 1 }), 'batch', { exitCode: -1, error: 'no such image' }, [], NOW).restart).toBe(true);
  });

  it('gives up in fail mode once attempts restarts happened within the interval', () => {
    const times = [NOW - 30_000, NOW - 10_000];
    const d = decideRestart(policy(), 'service', { exitCode: 1 }, times, NOW);
    expect(d.restart).toBe(false);
    expect(d.reason).toBe('restart limit reached: 2 restarts within 1m');
  });

  it('only counts restarts inside the interval', () => {
    const times = [NOW - 120_000, NOW - 61_000, NOW - 10_000];
    const d = decideRestart(policy(), 'service', { exitCode: 1 }, times, NOW);
    expect(d.restart).toBe(true);
    expect(d.reason).toBe('restart 2 of 2 within 1m');
  });

  it('treats a restart exactly intervalMs ago as outside the window', () => {
    const d = decideRestart(policy({ attempts: 1 }), 'service', { exitCode: 1 }, [NOW - 60_000], NOW);
    expect(d.restart).toBe(true);
  });

  it('in delay mode waits until the oldest restart leaves the interval', () => {
    const times = [NOW - 45_000, NOW - 5_000];
    const d = decideRestart(policy({ mode: 'delay' }), 'service', { exitCode: 1 }, times, NOW);
    expect(d.restart).toBe(true);
    expect(d.delayMs).toBe(15_000);
    expect(d.reason).toMatch(/used up: waiting 15s/);
  });

  it('in delay mode never waits less than delayMs', () => {
    const times = [NOW - 59_900, NOW - 5_000];
    const d = decideRestart(policy({ mode: 'delay', delayMs: 2000 }), 'service', { exitCode: 1 }, times, NOW);
    expect(d.delayMs).toBe(2000);
  });

  it('in delay mode with attempts 0 waits a whole interval', () => {
    const d = decideRestart(policy({ mode: 'delay', attempts: 0 }), 'batch', { exitCode: 2 }, [], NOW);
    expect(d).toMatchObject({ restart: true, delayMs: 60_000 });
  });

  it('ignores restart times in the future (clock went back)', () => {
    const d = decideRestart(policy({ attempts: 1 }), 'service', { exitCode: 1 }, [NOW + 5_000], NOW);
    expect(d.restart).toBe(true);
  });
});
