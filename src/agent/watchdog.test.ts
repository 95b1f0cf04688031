import { describe, expect, it } from 'vitest';
import type { AgentLease, LeaseTask } from './lease.js';
import { decide, taskKey, type TaskProgress } from './watchdog.js';

function task(allocId: string, over: Partial<LeaseTask> = {}): LeaseTask {
  return {
    allocId,
    taskName: 'main',
    driver: 'exec',
    handle: { driver: 'exec', id: `${allocId}-pid`, data: {} },
    stopAfterMs: 4000,
    killAfterMs: 5000,
    killSignal: 'SIGTERM',
    ...over,
  };
}

function lease(tasks: LeaseTask[], contactAt = 10_000): AgentLease {
  return { version: 1, agentPid: 4242, agentStart: '123', contactAt, tasks };
}

const none = new Map<string, TaskProgress>();

describe('watchdog decision', () => {
  it('does nothing while the agent is alive, however long it has not reached the server', () => {
    const d = decide(lease([task('a')]), { agentAlive: true, now: 10_000 + 60_000, progress: none });
    expect(d).toEqual({ signal: [], kill: [], finished: false });
  });

  it('before stopAfter: nothing yet, and says when the first task falls due', () => {
    const l = lease([task('a'), task('b', { stopAfterMs: 2500, killAfterMs: 3000 })]);
    const d = decide(l, { agentAlive: false, now: 11_000, progress: none });
    expect(d.signal).toEqual([]);
    expect(d.kill).toEqual([]);
    expect(d.finished).toBe(false);
    expect(d.nextInMs).toBe(1500);
  });

  it('at stopAfter: the kill signal, once; SIGKILL due at killAfter', () => {
    const l = lease([task('a')]);
    const d = decide(l, { agentAlive: false, now: 14_000, progress: none });
    expect(d.signal.map((t) => t.allocId)).toEqual(['a']);
    expect(d.kill).toEqual([]);
    expect(d.nextInMs).toBe(1000);
    const again = decide(l, { agentAlive: false, now: 14_200, progress: new Map([[taskKey(l.tasks[0]), 'signalled' as const]]) });
    expect(again.signal).toEqual([]);
    expect(again.kill).toEqual([]);
    expect(again.nextInMs).toBe(800);
    expect(again.finished).toBe(false);
  });

  it('at killAfter: SIGKILL, signalled or not (a watchdog that learns late kills at once)', () => {
    const l = lease([task('a'), task('b')]);
    const d = decide(l, { agentAlive: false, now: 15_000, progress: new Map([[taskKey(l.tasks[0]), 'signalled' as const]]) });
    expect(d.signal).toEqual([]);
    expect(d.kill.map((t) => t.allocId)).toEqual(['a', 'b']);
    expect(d.nextInMs).toBeUndefined();
  });

  it('a kill timeout of zero goes straight to SIGKILL', () => {
    const d = decide(lease([task('a', { stopAfterMs: 4000, killAfterMs: 4000 })]), { agentAlive: false, now: 14_000, progress: none });
    expect(d.signal).toEqual([]);
    expect(d.kill).toHaveLength(1);
  });

  it('does not kill twice, and is finished only once every task is gone', () => {
    const l = lease([task('a'), task('b')]);
    const [a, b] = l.tasks.map(taskKey);
    const killed = decide(l, {
      agentAlive: false,
      now: 20_000,
      progress: new Map([
        [a, 'killed'],
        [b, 'gone'],
      ]),
    });
    expect(killed.kill).toEqual([]);
    expect(killed.finished).toBe(false);
    const gone = decide(l, {
      agentAlive: false,
      now: 20_000,
      progress: new Map([
        [a, 'gone'],
        [b, 'gone'],
      ]),
    });
    expect(gone.finished).toBe(true);
  });

  it('a dead agent with no tasks in its lease, or no lease at all, leaves nothing to watch', () => {
    expect(decide(lease([]), { agentAlive: false, now: 0, progress: none }).finished).toBe(true);
    expect(decide(undefined, { agentAlive: false, now: 0, progress: none }).finished).toBe(true);
    expect(decide(lease([]), { agentAlive: true, now: 0, progress: none }).finished).toBe(false);
  });

  it('counts from the last contact, not from when the agent died', () => {
    // the agent reached the server at 10 s and died at 13 s: the bound still runs from 10 s
    const d = decide(lease([task('a')]), { agentAlive: false, now: 14_000, progress: none });
    expect(d.signal).toHaveLength(1);
  });

  it('tells two runs of one task apart by their handle', () => {
    const one = task('a');
    const two = task('a', { handle: { driver: 'exec', id: 'other-pid', data: {} } });
    expect(taskKey(one)).not.toBe(taskKey(two));
    const d = decide(lease([two]), { agentAlive: false, now: 14_000, progress: new Map([[taskKey(one), 'gone' as const]]) });
    expect(d.signal).toHaveLength(1);
  });
});
