import { describe, expect, it } from 'vitest';
import { Harness, type JobSpecInput } from './harness.js';
import { computeJobStatus } from './job-status.js';
import { reconcile } from './reconcile.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function systemJob(extra: JobSpecInput = {}): JobSpecInput {
  return { name: 'sys', type: 'system', restart: { attempts: 2, intervalMs: 60_000, delayMs: 1000, mode: 'fail' }, ...extra };
}

function runAll(h: Harness, jobId: string): void {
  for (const a of h.liveAllocsOf(jobId)) if (a.clientStatus === 'pending') h.setClientStatus(a.id, 'running');
}

describe('system jobs', () => {
  it('places one alloc on each of 5 nodes, named after the node, and nothing more on the next eval', () => {
    const h = new Harness();
    const nodes = h.addNodes(5, (i) => ({ name: `host-${i}` }));
    h.submit(systemJob({ count: 1 }));
    const r = h.evaluate('sys');
    expect(r.plan.queuedAllocs).toBe(0);
    expect(r.placed).toHaveLength(5);
    expect(r.placed.map((a) => [a.nodeId, a.name, a.index, a.attempt])).toEqual(nodes.map((n) => [n.id, `sys[${n.name}]`, 0, 0]));
    runAll(h, 'sys');
    expect(h.evaluate('sys').plan).toMatchObject({ place: [], stop: [], queuedAllocs: 0 });
  });

  it('a node that joins later gets one alloc, the others keep theirs', () => {
    const h = new Harness();
    h.addNodes(5);
    h.submit(systemJob());
    h.evaluate('sys');
    runAll(h, 'sys');
    const late = h.addNode({ name: 'late' });
    const r = h.evaluate('sys');
    expect(r.plan.stop).toEqual([]);
    expect(r.placed.map((a) => [a.nodeId, a.name])).toEqual([[late.id, 'sys[late]']]);
    expect(h.liveAllocsOf('sys')).toHaveLength(6);
  });

  it('only on nodes in its datacenters, with its drivers and meeting its constraints', () => {
    const h = new Harness();
    const ok = h.addNode({ datacenter: 'dc1', labels: { role: 'edge' } });
    h.addNode({ datacenter: 'dc2', labels: { role: 'edge' } });
    h.addNode({ datacenter: 'dc1', labels: { role: 'core' } });
    h.addNode({ datacenter: 'dc1', labels: { role: 'edge' }, drivers: { exec: { healthy: false, detail: 'no cgroups' } } });
    h.addNode({ datacenter: 'dc1', labels: { role: 'edge' }, status: 'initializing' });
    h.submit(systemJob({ datacenters: ['dc1'], constraints: [{ attribute: '${label.role}', operator: '=', value: 'edge' }] }));
    const r = h.evaluate('sys');
    expect(r.placed.map((a) => a.nodeId)).toEqual([ok.id]);
    expect(r.plan.queuedAllocs).toBe(0);
    expect(r.plan.failures).toEqual([]);
  });

  it('a node turned ineligible has its alloc stopped, and gets it back (same attempt) once eligible', () => {
    const h = new Harness();
    const nodes = h.addNodes(3);
    h.submit(systemJob());
    h.evaluate('sys');
    runAll(h, 'sys');
    const [onFirst] = h.liveAllocsOf('sys').filter((a) => a.nodeId === nodes[0].id);

    h.setEligibility(nodes[0].id, false);
    const r = h.evaluate('sys');
    expect(r.plan.stop).toEqual([{ allocId: onFirst.id, description: 'node no longer eligible' }]);
    // a system alloc belongs to its node: it is not moved elsewhere
    expect(r.plan.place).toEqual([]);
    expect(r.plan.queuedAllocs).toBe(0);
    h.settleStops();

    h.setEligibility(nodes[0].id, true);
    const back = h.evaluate('sys');
    expect(back.placed).toHaveLength(1);
    expect(back.placed[0]).toMatchObject({ nodeId: nodes[0].id, attempt: 0, previousAllocId: onFirst.id });
  });

  it('a draining node has its alloc stopped with "node draining"', () => {
    const h = new Harness();
    const nodes = h.addNodes(2);
    h.submit(systemJob());
    h.evaluate('sys');
    runAll(h, 'sys');
    const [onFirst] = h.liveAllocsOf('sys').filter((a) => a.nodeId === nodes[0].id);
    h.drainNode(nodes[0].id);
    const r = h.evaluate('sys');
    expect(r.plan.stop).toEqual([{ allocId: onFirst.id, description: 'node draining' }]);
    expect(r.plan.place).toEqual([]);
  });

  it('a down node is left to the heartbeat monitor: its alloc is lost, and returns when the node does', () => {
    const h = new Harness();
    const nodes = h.addNodes(2);
    h.submit(systemJob());
    h.evaluate('sys');
    runAll(h, 'sys');
    h.loseNode(nodes[1].id);
    expect(h.evaluate('sys').plan).toMatchObject({ place: [], stop: [], queuedAllocs: 0 });
    h.node(nodes[1].id).status = 'ready';
    const back = h.evaluate('sys');
    expect(back.placed.map((a) => [a.nodeId, a.attempt])).toEqual([[nodes[1].id, 0]]);
  });

  it('a failed alloc is replaced on the same node after restart.delayMs, with attempt+1', () => {
    const h = new Harness();
    const nodes = h.addNodes(3);
    h.submit(systemJob());
    h.evaluate('sys');
    runAll(h, 'sys');
    const [victim] = h.liveAllocsOf('sys').filter((a) => a.nodeId === nodes[1].id);
    h.setClientStatus(victim.id, 'failed');

    const early = h.evaluate('sys');
    expect(early.placed).toEqual([]);
    expect(early.plan.followUpAt).toBe(h.now + 1000);
    h.advance(1000);
    const r = h.evaluate('sys');
    expect(r.placed).toHaveLength(1);
    expect(r.placed[0]).toMatchObject({ nodeId: nodes[1].id, name: victim.name, attempt: 1, previousAllocId: victim.id });
  });

  it('an alloc that does not fit its node is reported for that node; the others are placed', () => {
    const h = new Harness();
    h.addNode({ name: 'big' });
    h.addNode({ name: 'small', capacity: { cpu: 4000, memory: 256 * MiB, disk: 10 * GiB } });
    h.addNode({ name: 'busy' });
    h.submit({
      name: 'hog',
      type: 'service',
      constraints: [{ attribute: '${node.name}', operator: '=', value: 'busy' }],
      tasks: [{ resources: { cpu: 3900, memory: GiB, disk: 0 } }],
    });
    h.evaluate('hog');
    h.submit(systemJob({ tasks: [{ resources: { cpu: 200, memory: 512 * MiB, disk: 0 } }] }));
    const r = h.evaluate('sys');
    expect(r.placed.map((a) => a.nodeName)).toEqual(['big']);
    expect(r.plan.queuedAllocs).toBe(2);
    expect(r.plan.failures).toEqual([
      { dimension: 'memory', message: 'memory: node small has 256 MiB free, 512 MiB needed', nodesEvaluated: 3, nodesFiltered: 1, neverFits: true },
      { dimension: 'cpu', message: expect.stringMatching(/^cpu: node busy has .* free, .* needed$/), nodesEvaluated: 3, nodesFiltered: 1, neverFits: false },
    ]);
  });

  it("a new version replaces each node's alloc on that same node", () => {
    const h = new Harness();
    h.addNodes(3);
    h.submit(systemJob());
    const old = h.evaluate('sys').placed;
    runAll(h, 'sys');
    h.submit(systemJob({ meta: { rev: '2' } }));
    const r = h.evaluate('sys');
    expect(r.plan.stop).toEqual(old.map((a) => ({ allocId: a.id, description: 'replaced by version 2' })));
    expect(r.placed.map((a) => [a.nodeId, a.jobVersion, a.previousAllocId])).toEqual(old.map((a) => [a.nodeId, 2, a.id]));
  });

  it("stopping the job stops every alloc; the job status is like a service's", () => {
    const h = new Harness();
    h.addNodes(2);
    const job = h.submit(systemJob());
    expect(computeJobStatus(job, [], h.now)).toBe('pending');
    const placed = h.evaluate('sys').placed;
    h.setClientStatus(placed[0].id, 'running');
    expect(computeJobStatus(job, h.allocsOf('sys'), h.now)).toBe('running');
    h.setClientStatus(placed[0].id, 'complete');
    h.setClientStatus(placed[1].id, 'complete');
    // a system job never completes: its allocs are restarted
    expect(computeJobStatus(job, h.allocsOf('sys'), h.now)).toBe('pending');
    h.advance(1000);
    h.evaluate('sys');
    runAll(h, 'sys');
    h.stopJob('sys');
    const r = h.evaluate('sys');
    expect(r.plan.stop.map((s) => s.description)).toEqual(['job stopped', 'job stopped']);
    expect(r.plan.place).toEqual([]);
  });

  it('stops allocs on nodes that left the snapshot and keeps one alloc per node', () => {
    const h = new Harness();
    const nodes = h.addNodes(2);
    const job = h.submit(systemJob());
    const [a, b] = h.evaluate('sys').placed;
    const dup = { ...a, id: 'alloc-dup', createIndex: a.createIndex + 1 };
    const r = reconcile({ job, jobAllocs: [a, b, dup], nodes: [nodes[0]] });
    expect(r.stop).toEqual([
      { allocId: b.id, description: 'node no longer registered' },
      { allocId: a.id, description: 'duplicate of alloc-dup' },
    ]);
    expect(r.place).toEqual([]);
  });
});
