import { describe, expect, it } from 'vitest';
import { Heap } from './heap.js';
import { makeNode } from './harness.js';
import { fullnessAfter, rankNodes, type NodeState } from './rank.js';
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
