import { describe, expect, it } from 'vitest';
import { Harness } from './harness.js';
import { schedule } from './schedule.js';

const GiB = 1024 ** 3;
const mem = (g: number) => ({ cpu: 100, memory: g * GiB, disk: 0 });

/** Two 8 GiB nodes, each full with low-priority batch runs of 2 GiB. */
function fullCluster() {
  const h = new Harness();
  h.addNode({ id: 'a', capacity: { cpu: 8000, memory: 8 * GiB, disk: 0 } });
  h.addNode({ id: 'b', capacity: { cpu: 8000, memory: 8 * GiB, disk: 0 } });
  h.submit({ name: 'low', priority: 20, count: 6, tasks: [{ resources: mem(2) }] });
  h.submit({ name: 'mid', priority: 40, count: 2, tasks: [{ resources: mem(2) }] });
  for (const id of ['low', 'mid']) for (const a of h.evaluate(id).placed) h.setClientStatus(a.id, 'running');
  return h;
}

describe('preemption', () => {
  it('without preempt: true a higher-priority job only queues', () => {
    const h = fullCluster();
    h.submit({ name: 'urgent', priority: 90, tasks: [{ resources: mem(4) }] });
    const r = h.evaluate('urgent');
    expect(r.plan.stop).toEqual([]);
    expect(r.plan.queuedAllocs).toBe(1);
  });

  it('stops the fewest lowest-priority batch runs, does not place yet, and says it waits for them', () => {
    const h = fullCluster();
    h.submit({ name: 'urgent', priority: 90, preempt: true, tasks: [{ resources: mem(4) }] });
    const r = h.evaluate('urgent');
    expect(r.placed).toEqual([]);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.stop).toHaveLength(2);
    for (const s of r.plan.stop) {
      expect(s).toMatchObject({ description: 'preempted by urgent', preemptedBy: 'urgent' });
      const victim = h.alloc(s.allocId);
      expect(victim.jobId).toBe('low');
    }
    // both victims come from one node
    expect(new Set(r.plan.stop.map((s) => h.alloc(s.allocId).nodeId)).size).toBe(1);
    expect(r.plan.failures[0]).toMatchObject({ dimension: 'preemption', message: 'waiting for 2 preempted runs to stop', neverFits: false });
  });

  it('does not preempt again while the victims are stopping, then places once they are gone', () => {
    const h = fullCluster();
    h.submit({ name: 'urgent', priority: 90, preempt: true, tasks: [{ resources: mem(4) }] });
    const first = h.evaluate('urgent');
    const again = h.evaluate('urgent');
    expect(again.plan.stop).toEqual([]);
    expect(again.plan.failures[0].message).toBe('waiting for 2 preempted runs to stop');
    h.settleStops();
    const placed = h.evaluate('urgent');
    expect(placed.placed).toHaveLength(1);
    expect(placed.placed[0].nodeId).toBe(h.alloc(first.plan.stop[0].allocId).nodeId);
    expect(placed.plan.stop).toEqual([]);
  });

  it('a preempted run is replaced at once with the same attempt, without using a retry', () => {
    const h = fullCluster();
    h.submit({ name: 'urgent', priority: 90, preempt: true, tasks: [{ resources: mem(2) }] });
    const [s] = h.evaluate('urgent').plan.stop;
    const victim = h.alloc(s.allocId);
    expect(victim.preemptedBy).toBe('urgent');
    // the kill makes the task exit non-zero: still not the run's fault
    h.setClientStatus(victim.id, 'failed');
    h.addNode({ id: 'c', capacity: { cpu: 8000, memory: 8 * GiB, disk: 0 } });
    const r = h.evaluate('low');
    expect(r.plan.followUpAt).toBeUndefined();
    expect(r.placed).toHaveLength(1);
    expect(r.placed[0]).toMatchObject({ index: victim.index, attempt: victim.attempt, previousAllocId: victim.id });
  });

  it('never preempts equal or higher priority, service jobs, or its own runs', () => {
    const h = new Harness();
    h.addNode({ id: 'a', capacity: { cpu: 8000, memory: 4 * GiB, disk: 0 } });
    h.submit({ name: 'svc', type: 'service', priority: 10, count: 1, tasks: [{ resources: mem(2) }] });
    h.submit({ name: 'peer', priority: 60, count: 1, tasks: [{ resources: mem(2) }] });
    h.evaluate('svc');
    h.evaluate('peer');
    h.submit({ name: 'p', priority: 60, preempt: true, count: 1, tasks: [{ resources: mem(2) }] });
    const r = h.evaluate('p');
    expect(r.plan.stop).toEqual([]);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures.map((f) => f.dimension)).toEqual(['memory']);
  });

  it('prefers one bigger victim over two smaller ones, and lower priority among equals', () => {
    const h = new Harness();
    h.addNode({ id: 'a', capacity: { cpu: 8000, memory: 4 * GiB, disk: 0 } });
    h.addNode({ id: 'b', capacity: { cpu: 8000, memory: 4 * GiB, disk: 0 } });
    h.addNode({ id: 'c', capacity: { cpu: 8000, memory: 4 * GiB, disk: 0 } });
    h.submit({ name: 'smalls', priority: 10, count: 4, tasks: [{ resources: mem(1) }], constraints: [{ attribute: '${node.id}', operator: '=', value: 'a' }] });
    h.submit({ name: 'big30', priority: 30, count: 1, tasks: [{ resources: mem(4) }], constraints: [{ attribute: '${node.id}', operator: '=', value: 'b' }] });
    h.submit({ name: 'big20', priority: 20, count: 1, tasks: [{ resources: mem(4) }], constraints: [{ attribute: '${node.id}', operator: '=', value: 'c' }] });
    for (const id of ['smalls', 'big30', 'big20']) expect(h.evaluate(id).placed.length).toBeGreaterThan(0);
    h.submit({ name: 'p', priority: 90, preempt: true, tasks: [{ resources: mem(3) }] });
    const r = h.evaluate('p');
    expect(r.plan.stop.map((s) => h.alloc(s.allocId).jobId)).toEqual(['big20']);
  });

  it('preempts only on nodes the job may run on', () => {
    const h = fullCluster();
    h.submit({
      name: 'urgent',
      priority: 90,
      preempt: true,
      tasks: [{ resources: mem(2) }],
      constraints: [{ attribute: '${node.id}', operator: '=', value: 'b' }],
    });
    const r = h.evaluate('urgent');
    expect(r.plan.stop).toHaveLength(1);
    expect(h.alloc(r.plan.stop[0].allocId).nodeId).toBe('b');
  });

  it('several queued allocs get separate victims, and nothing when no node could ever fit', () => {
    const h = fullCluster();
    h.submit({ name: 'urgent', priority: 90, preempt: true, count: 3, tasks: [{ resources: mem(4) }] });
    const r = h.evaluate('urgent');
    expect(r.plan.queuedAllocs).toBe(3);
    // 3 × 4 GiB needs 12 of the 16 GiB: 6 victims, never the same alloc twice
    const ids = r.plan.stop.map((s) => s.allocId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(6);
    expect(r.plan.failures[0].message).toBe('waiting for 6 preempted runs to stop');

    h.submit({ name: 'huge', priority: 95, preempt: true, tasks: [{ resources: mem(32) }] });
    const huge = h.evaluate('huge');
    expect(huge.plan.stop).toEqual([]);
    expect(huge.plan.failures.map((f) => f.dimension)).toEqual(['memory']);
  });

  it('a job missing from jobPriorities is never a victim', () => {
    const h = fullCluster();
    h.submit({ name: 'urgent', priority: 90, preempt: true, tasks: [{ resources: mem(2) }] });
    const snap = h.snapshot('urgent');
    expect(schedule({ ...snap, jobPriorities: { 'default/mid': 40 } }).stop.map((s) => h.alloc(s.allocId).jobId)).toEqual(['mid']);
    expect(schedule({ ...snap, jobPriorities: undefined }).stop).toEqual([]);
  });
});
