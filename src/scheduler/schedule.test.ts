import { describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('schedule: placement', () => {
  it('places 5000 allocs of mixed jobs on 1000 nodes without overcommitting any dimension', () => {
    const h = new Harness();
    h.addNodes(1000, (i) => ({
      capacity: { cpu: 4000 + (i % 4) * 1000, memory: (6 + (i % 3) * 2) * GiB, disk: 40 * GiB },
    }));
    const shapes = [
      { cpu: 500, memory: 512 * MiB, disk: 1 * GiB },
      { cpu: 700, memory: 256 * MiB, disk: 0 },
      { cpu: 250, memory: 768 * MiB, disk: 2 * GiB },
      { cpu: 1000, memory: 1 * GiB, disk: 5 * GiB },
      { cpu: 100, memory: 128 * MiB, disk: 0 },
    ];
    let placed = 0;
    for (let j = 0; j < 10; j++) {
      h.submit({
        name: `job-${j}`,
        count: 500,
        scheduling: j % 2 ? 'spread' : 'binpack',
        tasks: [{ resources: shapes[j % shapes.length] }],
      });
      const r = h.evaluate(`job-${j}`);
      expect(r.check.rejected).toEqual([]);
      placed += r.placed.length;
      expect(r.plan.queuedAllocs + r.placed.length).toBe(500);
    }
    expect(placed).toBe(5000);
    // Overflow the cluster: whatever is placed must still fit, the rest is queued.
    h.submit({ name: 'flood', count: 5000, tasks: [{ resources: { cpu: 1000, memory: 2 * GiB, disk: 0 } }] });
    const flood = h.evaluate('flood');
    expect(flood.check.rejected).toEqual([]);
    expect(flood.plan.queuedAllocs).toBeGreaterThan(0);
    expect(flood.plan.queuedAllocs + flood.placed.length).toBe(5000);
    for (const [nodeId, used] of h.usedByNode()) {
      const cap = h.node(nodeId).capacity;
      expect(used.cpu).toBeLessThanOrEqual(cap.cpu);
      expect(used.memory).toBeLessThanOrEqual(cap.memory);
      expect(used.disk).toBeLessThanOrEqual(cap.disk);
    }
  });

  it('queues what does not fit once the cluster is full, and never overcommits', () => {
    const h = new Harness();
    h.addNodes(3, () => ({ capacity: { cpu: 1000, memory: 1 * GiB, disk: 0 } }));
    h.submit({ name: 'big', count: 10, tasks: [{ resources: { cpu: 100, memory: 300 * MiB, disk: 0 } }] });
    const r = h.evaluate('big');
    expect(r.placed).toHaveLength(9);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures.map((f) => f.dimension)).toEqual(['memory']);
    expect(r.plan.failures[0].message).toBe('memory: 0 of 3 nodes have 300 MiB free');
    expect(r.plan.failures[0].neverFits).toBe(false);
  });

  it('binpack fills one node before using the next', () => {
    const h = new Harness();
    h.addNode({ id: 'a', capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } });
    h.addNode({ id: 'b', capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } });
    h.submit({ name: 'web', count: 5, tasks: [{ resources: { cpu: 1000, memory: 1 * GiB, disk: 0 } }] });
    const r = h.evaluate('web');
    expect(r.placed.map((a) => a.nodeId)).toEqual(['a', 'a', 'a', 'a', 'b']);
  });

  it('binpack prefers the node that is already fuller', () => {
    const h = new Harness();
    h.addNode({ id: 'a', capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } });
    h.addNode({ id: 'b', capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } });
    h.submit({ name: 'other', count: 1, tasks: [{ resources: { cpu: 2000, memory: 2 * GiB, disk: 0 } }] });
    h.nodes[0].eligibility = 'ineligible';
    expect(h.evaluate('other').placed[0].nodeId).toBe('b');
    h.nodes[0].eligibility = 'eligible';
    h.submit({ name: 'web', count: 1, tasks: [{ resources: { cpu: 500, memory: 512 * MiB, disk: 0 } }] });
    expect(h.evaluate('web').placed[0].nodeId).toBe('b');
  });

  it('spread puts 3 replicas on 3 nodes', () => {
    const h = new Harness();
    h.addNodes(4, () => ({ capacity: { cpu: 8000, memory: 16 * GiB, disk: 0 } }));
    h.submit({ name: 'api', type: 'service', count: 3, scheduling: 'spread' });
    const r = h.evaluate('api');
    expect(new Set(r.placed.map((a) => a.nodeId)).size).toBe(3);
  });

  it('spread counts allocs the job already has', () => {
    const h = new Harness();
    h.addNode({ id: 'a' });
    h.addNode({ id: 'b' });
    h.submit({ name: 'api', type: 'service', count: 1, scheduling: 'spread' });
    expect(h.evaluate('api').placed[0].nodeId).toBe('a');
    h.submit({ name: 'api', type: 'service', count: 2, scheduling: 'spread' });
    // version 2 replaces index 0 while the old alloc still holds node a
    const r = h.evaluate('api');
    expect(r.plan.stop).toHaveLength(1);
    expect(r.placed.map((a) => a.nodeId)).toEqual(['b', 'a']);
  });

  it('names allocs job[index] and carries version and summed task resources', () => {
    const h = new Harness();
    h.addNode();
    h.submit({
      name: 'sim',
      count: 2,
      tasks: [
        { name: 'a', resources: { cpu: 200, memory: 100 * MiB, disk: 1 } },
        { name: 'b', resources: { cpu: 300, memory: 50 * MiB, disk: 2 } },
      ],
    });
    const r = h.evaluate('sim');
    expect(r.plan.place.map((p) => [p.name, p.jobVersion, p.resources])).toEqual([
      ['sim[0]', 1, { cpu: 500, memory: 150 * MiB, disk: 3 }],
      ['sim[1]', 1, { cpu: 500, memory: 150 * MiB, disk: 3 }],
    ]);
  });

  it('is deterministic', () => {
    const build = () => {
      const h = new Harness();
      h.addNodes(20, (i) => ({ id: `n${String(i).padStart(2, '0')}`, capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } }));
      h.submit({ name: 'x', count: 30, scheduling: 'spread' });
      return h.evaluate('x').plan.place.map((p) => p.nodeId);
    };
    expect(build()).toEqual(build());
  });
});

describe('schedule: filtering and failures', () => {
  it('skips nodes without a healthy driver and explains when none has it', () => {
    const h = new Harness();
    h.addNode({ id: 'a', drivers: { exec: { healthy: true, detail: '' } } });
    h.addNode({ id: 'b', drivers: { docker: { healthy: false, detail: 'daemon down' }, exec: { healthy: true, detail: '' } } });
    h.addNode({ id: 'c', drivers: { docker: { healthy: true, detail: '' } } });
    h.submit({ name: 'd', count: 2, tasks: [{ driver: 'docker', image: 'busybox' }] });
    const r = h.evaluate('d');
    expect(r.placed.map((a) => a.nodeId)).toEqual(['c', 'c']);

    h.node('c').drivers.docker.healthy = false;
    h.submit({ name: 'e', count: 1, tasks: [{ driver: 'docker', image: 'busybox' }] });
    const r2 = h.evaluate('e');
    expect(r2.plan.queuedAllocs).toBe(1);
    expect(r2.plan.failures).toEqual([
      {
        dimension: 'driver',
        message: 'driver docker: missing or unhealthy on 3 of 3 nodes',
        nodesEvaluated: 3,
        nodesFiltered: 3,
        neverFits: false,
      },
    ]);
  });

  it('filters by constraint and names the constraint', () => {
    const h = new Harness();
    h.addNodes(5, () => ({ nodeClass: 'cpu' }));
    h.addNode({ id: 'gpu-1', nodeClass: 'gpu' });
    h.submit({ name: 'train', constraints: [{ attribute: '${node.class}', operator: '=', value: 'gpu' }] });
    expect(h.evaluate('train').placed[0].nodeId).toBe('gpu-1');

    h.node('gpu-1').status = 'down';
    h.submit({ name: 'train2', constraints: [{ attribute: '${node.class}', operator: '=', value: 'gpu' }] });
    const r = h.evaluate('train2');
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures.map((f) => [f.dimension, f.message, f.nodesFiltered])).toEqual([
      ['node-status', '1 node is down', 1],
      ['constraint', 'constraint ${node.class} = gpu filtered 5 nodes', 5],
    ]);
  });

  it('explains down and ineligible nodes, and the absence of nodes', () => {
    const h = new Harness();
    h.submit({ name: 'j' });
    expect(h.evaluate('j').plan.failures).toEqual([
      { dimension: 'nodes', message: 'no nodes have registered', nodesEvaluated: 0, nodesFiltered: 0, neverFits: false },
    ]);
    h.addNodes(2, () => ({ status: 'down' }));
    h.addNode({ eligibility: 'ineligible' });
    const r = h.evaluate('j');
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures.map((f) => [f.dimension, f.message, f.nodesEvaluated, f.nodesFiltered])).toEqual([
      ['node-status', '2 nodes are down', 3, 2],
      ['eligibility', '1 node is ineligible', 3, 1],
    ]);
  });

  it('a 20 GiB job on two 1 GiB nodes is queued and will never fit', () => {
    const h = new Harness();
    h.addNodes(2, () => ({ capacity: { cpu: 4000, memory: 1 * GiB, disk: 0 } }));
    h.submit({ name: 'sim', tasks: [{ resources: { cpu: 1000, memory: 20 * GiB, disk: 0 } }] });
    const r = h.evaluate('sim');
    expect(r.placed).toEqual([]);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures).toEqual([
      { dimension: 'memory', message: 'memory: 0 of 2 nodes have 20 GiB free', nodesEvaluated: 2, nodesFiltered: 2, neverFits: true },
    ]);
  });

  it('explains cpu with cores', () => {
    const h = new Harness();
    h.addNode({ capacity: { cpu: 2000, memory: 8 * GiB, disk: 0 } });
    h.submit({ name: 'c', tasks: [{ resources: { cpu: 4000, memory: 1 * GiB, disk: 0 } }] });
    const r = h.evaluate('c');
    expect(r.plan.failures.map((f) => [f.dimension, f.message, f.neverFits])).toEqual([['cpu', 'cpu: 0 of 1 node has 4 cores free', true]]);
  });

  it('a 600 MiB job waits for a 600 MiB alloc on a 1 GiB node and is placed once it completes', () => {
    const h = new Harness();
    h.addNode({ id: 'only', capacity: { cpu: 4000, memory: 1 * GiB, disk: 0 } });
    const ask = { cpu: 100, memory: 600 * MiB, disk: 0 };
    h.submit({ name: 'first', tasks: [{ resources: ask }] });
    const [first] = h.evaluate('first').placed;
    h.setClientStatus(first.id, 'running');

    h.submit({ name: 'second', tasks: [{ resources: ask }] });
    const r = h.evaluate('second');
    expect(r.placed).toEqual([]);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures).toEqual([
      { dimension: 'memory', message: 'memory: 0 of 1 node has 600 MiB free', nodesEvaluated: 1, nodesFiltered: 1, neverFits: false },
    ]);

    h.setClientStatus(first.id, 'complete');
    const r2 = h.evaluate('second');
    expect(r2.plan.queuedAllocs).toBe(0);
    expect(r2.placed.map((a) => a.nodeId)).toEqual(['only']);
  });

  it('counts what this plan already placed when explaining', () => {
    const h = new Harness();
    h.addNodes(2, () => ({ capacity: { cpu: 4000, memory: 1 * GiB, disk: 0 } }));
    h.submit({ name: 'j', count: 3, tasks: [{ resources: { cpu: 100, memory: 1 * GiB, disk: 0 } }] });
    const r = h.evaluate('j');
    expect(r.placed).toHaveLength(2);
    expect(r.plan.failures[0]).toMatchObject({ dimension: 'memory', message: 'memory: 0 of 2 nodes have 1 GiB free', neverFits: false });
  });
});
