import { describe, expect, it } from 'vitest';
import { checkPlan } from './check-plan.js';
import { Harness } from './harness.js';
import { schedule } from './schedule.js';

const GiB = 1024 ** 3;

describe('checkPlan', () => {
  it('rejects a placement that no longer fits fresh state and accepts the rest', () => {
    const h = new Harness();
    h.addNode({ id: 'a', capacity: { cpu: 4000, memory: 2 * GiB, disk: 0 } });
    h.addNode({ id: 'b', capacity: { cpu: 4000, memory: 2 * GiB, disk: 0 } });
    h.submit({ name: 'j', count: 2, tasks: [{ resources: { cpu: 100, memory: 2 * GiB, disk: 0 } }] });
    const plan = schedule(h.snapshot('j'));
    expect(plan.place.map((p) => p.nodeId)).toEqual(['a', 'b']);

    // Meanwhile another job took node b.
    h.submit({ name: 'other', tasks: [{ resources: { cpu: 100, memory: 1 * GiB, disk: 0 } }] });
    h.node('a').eligibility = 'ineligible';
    expect(h.evaluate('other').placed[0].nodeId).toBe('b');
    h.node('a').eligibility = 'eligible';

    const check = checkPlan(plan, h.nodes, h.usage());
    expect(check.accepted.map((p) => p.nodeId)).toEqual(['a']);
    expect(check.rejected.map((p) => p.nodeId)).toEqual(['b']);
  });

  it('counts placements accepted earlier in the same plan', () => {
    const h = new Harness();
    h.addNode({ id: 'a', capacity: { cpu: 1000, memory: 1 * GiB, disk: 0 } });
    h.submit({ name: 'j', tasks: [{ resources: { cpu: 600, memory: 1, disk: 0 } }] });
    const plan = schedule(h.snapshot('j'));
    const doubled = { ...plan, place: [plan.place[0], { ...plan.place[0], index: 1, name: 'j[1]' }] };
    const check = checkPlan(doubled, h.nodes, []);
    expect(check.accepted).toHaveLength(1);
    expect(check.rejected.map((p) => p.index)).toEqual([1]);
  });

  it('rejects placements on nodes that went down, became ineligible or vanished', () => {
    const h = new Harness();
    h.addNodes(3, (i) => ({ id: `n${i}` }));
    h.submit({ name: 'j', count: 3, scheduling: 'spread' });
    const plan = schedule(h.snapshot('j'));
    expect(plan.place.map((p) => p.nodeId)).toEqual(['n0', 'n1', 'n2']);
    const nodes = [
      { ...h.nodes[0], status: 'down' as const },
      { ...h.nodes[1], eligibility: 'ineligible' as const },
    ];
    expect(checkPlan(plan, nodes, []).rejected).toHaveLength(3);
  });

  it('allocs the plan stops still hold their node', () => {
    const h = new Harness();
    h.addNode({ id: 'a', capacity: { cpu: 1000, memory: 1 * GiB, disk: 0 } });
    h.submit({ name: 's', type: 'service', tasks: [{ resources: { cpu: 100, memory: 1 * GiB, disk: 0 } }] });
    h.evaluate('s');
    h.submit({ name: 's', type: 'service', tasks: [{ resources: { cpu: 200, memory: 1 * GiB, disk: 0 } }] });
    const r = h.evaluate('s');
    expect(r.plan.stop).toHaveLength(1);
    expect(r.plan.queuedAllocs).toBe(1);
    h.settleStops();
    expect(h.evaluate('s').placed).toHaveLength(1);
  });
});
