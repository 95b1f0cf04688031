import { describe, expect, it } from 'vitest';
import { Heap } from './heap.js';
import { Harness, makeNode } from './harness.js';
import { fullnessAfter, rankNodes, SpreadScore, type NodeState } from './rank.js';
import { fits, subResources, addResources, sumTaskResources, ZERO } from './resources.js';
import { makeSpec } from './harness.js';

const GiB = 1024 ** 3;
const state = (id: string, cpu: number, memory: number, jobAllocs = 0): NodeState => ({
  node: makeNode({ id, capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } }),
  used: { cpu, memory, disk: 0 },
  jobAllocs,
});

describe('ranking', () => {
  const ask = { cpu: 1000, memory: 1 * GiB, disk: 0 };

  it('binpack ranks the fullest-after-placement first, ties by id', () => {
    const order = rankNodes([state('c', 0, 0), state('b', 2000, 2 * GiB), state('a', 0, 0), state('d', 3000, 0)], 'binpack', ask);
    expect(order.map((s) => s.node.id)).toEqual(['b', 'd', 'a', 'c']);
    expect(fullnessAfter(state('x', 1000, 1 * GiB), ask)).toBe(0.5);
  });

  it('spread ranks fewest allocs of the job first, then the emptiest', () => {
    const order = rankNodes([state('a', 0, 0, 2), state('b', 3000, 3 * GiB, 0), state('c', 1000, 0, 0)], 'spread', ask);
    expect(order.map((s) => s.node.id)).toEqual(['c', 'b', 'a']);
  });

  it('the heap yields items in comparator order and re-sinks an updated top', () => {
    const h = new Heap([5, 3, 9, 1, 7], (a, b) => a - b);
    expect(h.pop()).toBe(1);
    expect(h.pop()).toBe(3);
    const items = [{ v: 2 }, { v: 4 }, { v: 6 }];
    const hh = new Heap(items, (a, b) => a.v - b.v);
    hh.peek()!.v = 5;
    hh.updateTop();
    expect([hh.pop()!.v, hh.pop()!.v, hh.pop()!.v, hh.pop()]).toEqual([4, 5, 6, undefined]);
  });
});

describe('resources', () => {
  it('adds, subtracts, reports the first short dimension and sums tasks', () => {
    const a = { cpu: 100, memory: 10, disk: 1 };
    expect(addResources(a, a)).toEqual({ cpu: 200, memory: 20, disk: 2 });
    expect(subResources(a, a)).toEqual(ZERO);
    expect(fits(a, a)).toBeUndefined();
    expect(fits({ cpu: 200, memory: 20, disk: 0 }, a)).toBe('memory');
    expect(fits({ cpu: 200, memory: 5, disk: 0 }, a)).toBe('cpu');
    expect(fits({ cpu: 0, memory: 0, disk: 2 }, a)).toBe('disk');
    const spec = makeSpec({ tasks: [{ resources: a }, { resources: { cpu: 1, memory: 2, disk: 3 } }] });
    expect(sumTaskResources(spec)).toEqual({ cpu: 101, memory: 12, disk: 4 });
  });
});

describe('spread over node attributes', () => {
  const zones = (h: Harness, list: string[]) => list.forEach((z, i) => h.addNode({ id: `n${i}-${z}`, labels: { zone: z } }));
  const zoneOf = (h: Harness, nodeId: string) => h.node(nodeId).labels.zone;

  it('3 replicas over zones a, a, b cover both zones before doubling up (binpack and spread)', () => {
    for (const scheduling of ['binpack', 'spread'] as const) {
      const h = new Harness();
      zones(h, ['a', 'a', 'b']);
      h.submit({ name: 'web', type: 'service', count: 3, scheduling, spread: [{ attribute: '${label.zone}', weight: 50 }] });
      const placed = h.evaluate('web').placed;
      expect(
        placed
          .slice(0, 2)
          .map((a) => zoneOf(h, a.nodeId))
          .sort(),
      ).toEqual(['a', 'b']);
      expect(placed).toHaveLength(3);
    }
  });

  it('without spread, binpack stacks everything on one node', () => {
    const h = new Harness();
    zones(h, ['a', 'a', 'b']);
    h.submit({ name: 'web', type: 'service', count: 3 });
    expect(new Set(h.evaluate('web').placed.map((a) => a.nodeId)).size).toBe(1);
  });

  it('counts live allocs: a lost alloc comes back in the zone left empty, not on the fuller nodes', () => {
    const h = new Harness();
    zones(h, ['a', 'a', 'b', 'c']);
    h.submit({ name: 'web', type: 'service', count: 3, spread: [{ attribute: '${label.zone}', weight: 50 }] });
    const first = h.evaluate('web').placed;
    expect(first.map((a) => zoneOf(h, a.nodeId)).sort()).toEqual(['a', 'b', 'c']);
    const inA = first.find((a) => zoneOf(h, a.nodeId) === 'a')!.nodeId;
    h.loseNode(inA);
    const again = h.evaluate('web').placed;
    expect(again.map((a) => a.nodeId)).toEqual([inA === 'n0-a' ? 'n1-a' : 'n0-a']);
  });

  it('plans are deterministic', () => {
    const run = () => {
      const h = new Harness();
      zones(h, ['b', 'a', 'c', 'a', 'b']);
      h.submit({ name: 'web', type: 'service', count: 7, spread: [{ attribute: '${label.zone}', weight: 80 }] });
      return h.evaluate('web').placed.map((a) => a.nodeId);
    };
    const first = run();
    expect(run()).toEqual(first);
    const per = new Map<string, number>();
    for (const id of first) per.set(id.split('-')[1], (per.get(id.split('-')[1]) ?? 0) + 1);
    expect([...per.values()].sort()).toEqual([2, 2, 3]);
  });

  it('a low weight lets packing win when the zone with fewer allocs is much emptier', () => {
    const h = new Harness();
    h.addNode({ id: 'a', labels: { zone: 'a' }, capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } });
    h.addNode({ id: 'b', labels: { zone: 'b' }, capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } });
    h.submit({
      name: 'web',
      type: 'service',
      count: 2,
      spread: [{ attribute: '${label.zone}', weight: 5 }],
      tasks: [{ resources: { cpu: 1000, memory: 1 * GiB, disk: 0 } }],
    });
    expect(h.evaluate('web').placed.map((a) => a.nodeId)).toEqual(['a', 'a']);
    h.submit({
      name: 'web2',
      type: 'service',
      count: 2,
      spread: [{ attribute: '${label.zone}', weight: 50 }],
      tasks: [{ resources: { cpu: 1000, memory: 1 * GiB, disk: 0 } }],
    });
    expect(
      h
        .evaluate('web2')
        .placed.map((a) => a.nodeId)
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('SpreadScore: 0 for the least used value, -1·weight/50 for the most, and for nodes without the attribute', () => {
    const a = makeNode({ id: 'a', labels: { zone: 'a' } });
    const b = makeNode({ id: 'b', labels: { zone: 'b' } });
    const c = makeNode({ id: 'c', labels: { zone: 'c' } });
    const none = makeNode({ id: 'x' });
    const s = new SpreadScore([{ attribute: '${label.zone}', weight: 100 }], [a, b, c, none], [a, a, b]);
    expect([s.score(a), s.score(b), s.score(c), s.score(none)].map((x) => x + 0)).toEqual([-2, -1, 0, -2]);
    s.add(c);
    s.add(c);
    expect([s.score(a), s.score(b), s.score(c)].map((x) => x + 0)).toEqual([-2, 0, -2]);
  });
});
