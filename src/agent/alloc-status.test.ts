import { describe, expect, it } from 'vitest';
import type { TaskState } from '../api/types.js';
import { computeAllocStatus, describeFailure } from './alloc-status.js';

const T0 = '2024-01-01T00:00:00.000Z';
function task(p: Partial<TaskState> = {}): TaskState {
  return { state: 'pending', failed: false, restarts: 0, events: [], ...p };
}
const running = (): TaskState => task({ state: 'running', startedAt: T0 });
const done = (): TaskState => task({ state: 'dead', startedAt: T0, finishedAt: T0, exitCode: 0 });
const MiB = 1024 * 1024;

describe('computeAllocStatus', () => {
  describe('an alloc its agent stopped for a lost server', () => {
    const lostReason = 'its agent could not reach the server for 3s';
    const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();
    const ended = (s: number, p: Partial<TaskState> = {}) => task({ state: 'dead', startedAt: T0, finishedAt: at(s), exitCode: 0, ...p });

    it('is lost once its tasks are dead', () => {
      expect(
        computeAllocStatus({ tasks: { a: ended(5, { exitCode: 143, signal: 'SIGTERM' }) }, desiredStop: false, lostReason, lostAt: at(4), batch: true })
          .clientStatus,
      ).toBe('lost');
      // exit 0 on the stop signal, after the stop: it did not finish its work
      expect(computeAllocStatus({ tasks: { a: ended(5) }, desiredStop: false, lostReason, lostAt: at(4), batch: true }).clientStatus).toBe('lost');
      expect(computeAllocStatus({ tasks: { a: ended(4) }, desiredStop: false, lostReason, lostAt: at(4), batch: true }).clientStatus).toBe('lost');
    });

    it('a batch run whose every task had exited 0 before the stop completed on its own', () => {
      expect(computeAllocStatus({ tasks: { a: ended(3), b: ended(2) }, desiredStop: false, lostReason, lostAt: at(4), batch: true })).toEqual({
        clientStatus: 'complete',
        clientDescription: 'all tasks completed',
      });
      // not when one of them had not, not for a service, not without the time of the stop
      expect(computeAllocStatus({ tasks: { a: ended(3), b: ended(5) }, desiredStop: false, lostReason, lostAt: at(4), batch: true }).clientStatus).toBe('lost');
      expect(computeAllocStatus({ tasks: { a: ended(3) }, desiredStop: false, lostReason, lostAt: at(4), batch: false }).clientStatus).toBe('lost');
      expect(computeAllocStatus({ tasks: { a: ended(3) }, desiredStop: false, lostReason, batch: true }).clientStatus).toBe('lost');
      expect(
        computeAllocStatus({ tasks: { a: ended(3, { exitCode: 1, failed: true }) }, desiredStop: false, lostReason, lostAt: at(4), batch: true }).clientStatus,
      ).toBe('lost');
    });
  });

  it('is pending while some task has not started yet', () => {
    const s = computeAllocStatus({ tasks: { main: running(), side: task() }, desiredStop: false });
    expect(s.clientStatus).toBe('pending');
    expect(s.clientDescription).toBe('starting task side');
  });

  it('is pending for a fresh alloc', () => {
    expect(computeAllocStatus({ tasks: { main: task() }, desiredStop: false }).clientStatus).toBe('pending');
  });

  it('is running once every task started', () => {
    const s = computeAllocStatus({ tasks: { main: running(), side: running() }, desiredStop: false });
    expect(s).toEqual({ clientStatus: 'running', clientDescription: 'all tasks running' });
  });

  it('stays running while a started task waits for a restart', () => {
    const s = computeAllocStatus({ tasks: { main: task({ state: 'pending', startedAt: T0, restarts: 1 }) }, desiredStop: false });
    expect(s.clientStatus).toBe('running');
    expect(s.clientDescription).toBe('restarting task main');
  });

  it('stays running while one task finished and another still runs', () => {
    const s = computeAllocStatus({ tasks: { a: done(), b: running() }, desiredStop: false });
    expect(s).toEqual({ clientStatus: 'running', clientDescription: '1 of 2 tasks running' });
  });

  it('is complete when every task ended successfully', () => {
    expect(computeAllocStatus({ tasks: { a: done(), b: done() }, desiredStop: false })).toEqual({
      clientStatus: 'complete',
      clientDescription: 'all tasks completed',
    });
    expect(computeAllocStatus({ tasks: { main: done() }, desiredStop: false }).clientDescription).toBe('task main completed');
  });

  it('is complete when the server stopped it on purpose, even though tasks were killed', () => {
    const killed = task({ state: 'dead', startedAt: T0, exitCode: 143, signal: 'SIGTERM' });
    expect(computeAllocStatus({ tasks: { main: killed }, desiredStop: true })).toEqual({
      clientStatus: 'complete',
      clientDescription: 'stopped by the server',
    });
  });

  it('reports stopping while a desired stop is under way', () => {
    const s = computeAllocStatus({ tasks: { main: running() }, desiredStop: true });
    expect(s).toEqual({ clientStatus: 'running', clientDescription: 'stopping on request of the server' });
  });

  it('is failed when a task failed for good and every task is dead', () => {
    const bad = task({ state: 'dead', failed: true, startedAt: T0, exitCode: 3, events: [{ time: T0, type: 'Terminated', message: 'exit code 3' }] });
    const s = computeAllocStatus({ tasks: { main: bad, side: done() }, desiredStop: false });
    expect(s).toEqual({ clientStatus: 'failed', clientDescription: 'task main exited with code 3' });
  });

  it('a failure wins over a desired stop', () => {
    const bad = task({ state: 'dead', failed: true, startedAt: T0, exitCode: 1 });
    expect(computeAllocStatus({ tasks: { main: bad }, desiredStop: true }).clientStatus).toBe('failed');
  });

  it('is not terminal while the siblings of a failed task are still being stopped', () => {
    const bad = task({ state: 'dead', failed: true, startedAt: T0, exitCode: 3 });
    const s = computeAllocStatus({ tasks: { main: bad, side: running() }, desiredStop: false });
    expect(s.clientStatus).toBe('running');
    expect(s.clientDescription).toBe('task main exited with code 3; stopping the other tasks');
  });

  it('names OOM kills with the limit and the peak', () => {
    const oom = task({ state: 'dead', failed: true, startedAt: T0, exitCode: 137, oomKilled: true, peakMemory: 33 * MiB });
    const s = computeAllocStatus({ tasks: { main: oom }, desiredStop: false, memoryLimits: { main: 32 * MiB } });
    expect(s.clientStatus).toBe('failed');
    expect(s.clientDescription).toBe('task main OOM killed (limit 32 MiB, peak 33 MiB)');
    expect(s.clientDescription).toMatch(/OOM/);
  });

  it('is pending with no tasks at all', () => {
    expect(computeAllocStatus({ tasks: {}, desiredStop: false }).clientStatus).toBe('pending');
  });
});

describe('describeFailure', () => {
  it('says OOM even when limit and peak are unknown', () => {
    expect(describeFailure('main', task({ oomKilled: true }))).toBe('task main OOM killed');
  });

  it('quotes a driver failure', () => {
    const t = task({ state: 'dead', failed: true, events: [{ time: T0, type: 'DriverFailure', message: 'no such image: nope:1' }] });
    expect(describeFailure('web', t)).toBe('task web: driver failure: no such image: nope:1');
  });

  it('explains a task lost while the agent was down', () => {
    const t = task({ state: 'dead', failed: true, events: [{ time: T0, type: 'TaskLost', message: 'task lost while the agent was down' }] });
    expect(describeFailure('main', t)).toBe('task main: task lost while the agent was down');
  });

  it('uses the latest event: an exit after an earlier driver failure', () => {
    const t = task({
      state: 'dead',
      failed: true,
      exitCode: 2,
      events: [
        { time: T0, type: 'DriverFailure', message: 'boom' },
        { time: T0, type: 'Restarting', message: 'restart 1 of 1' },
        { time: T0, type: 'Terminated', message: 'exit code 2' },
      ],
    });
    expect(describeFailure('main', t)).toBe('task main exited with code 2');
  });

  it('names the signal when there is one', () => {
    expect(describeFailure('main', task({ exitCode: 137, signal: 'SIGKILL' }))).toBe('task main exited with code 137 (SIGKILL)');
  });
});
