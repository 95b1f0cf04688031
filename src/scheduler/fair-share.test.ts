import { describe, expect, it } from 'vitest';
import type { Resources } from '../api/types.js';
import { blockedToWake, dominantShare, pickNextEval, usageByNamespace, type EvalCandidate } from './fair-share.js';
import { Harness } from './harness.js';

const GiB = 1024 ** 3;
const TOTAL: Resources = { cpu: 100_000, memory: 1000 * GiB, disk: 0 };

function ev(id: string, namespace: string, priority = 50, createIndex = 1): EvalCandidate {
  return { id, namespace, priority, createIndex };
}

function use(entries: Record<string, [number, number]>): Map<string, Resources> {
  return new Map(Object.entries(entries).map(([ns, [cpu, memGiB]]) => [ns, { cpu, memory: memGiB * GiB, disk: 0 }]));
}

describe('dominantShare', () => {
  it('is the larger of the cpu and memory fractions', () => {
    expect(dominantShare({ cpu: 10_000, memory: 500 * GiB, disk: 0 }, TOTAL)).toBe(0.5);
    expect(dominantShare({ cpu: 80_000, memory: 1 * GiB, disk: 0 }, TOTAL)).toBe(0.8);
  });

  it('is 0 for a namespace with nothing running, and ignores disk and dimensions the cluster lacks', () => {
    expect(dominantShare(undefined, TOTAL)).toBe(0);
    expect(dominantShare({ cpu: 0, memory: 0, disk: 10 ** 12 }, TOTAL)).toBe(0);
    expect(dominantShare({ cpu: 500, memory: 0, disk: 0 }, { cpu: 1000, memory: 0, disk: 0 })).toBe(0.5);
  });
});

describe('pickNextEval', () => {
  it('returns undefined when nothing is queued', () => {
    expect(pickNextEval([], new Map(), TOTAL)).toBeUndefined();
  });

  it('takes the highest priority first, whatever the shares and ages', () => {
    const usage = use({ busy: [90_000, 900], idle: [0, 0] });
    expect(pickNextEval([ev('low', 'idle', 50, 1), ev('high', 'busy', 80, 99)], usage, TOTAL)).toBe('high');
  });

  it('among equal priorities, the namespace with the lowest dominant share wins even when queued later', () => {
    // A's sweep holds most of the memory; B queued its 5 runs after A's 500.
    const usage = use({ a: [10_000, 800], b: [20_000, 10] });
    const queue = [ev('a-1', 'a', 50, 1), ev('a-2', 'a', 50, 2), ev('b-1', 'b', 50, 500)];
    expect(pickNextEval(queue, usage, TOTAL)).toBe('b-1');
  });

  it('compares the dominant dimension: a cpu-heavy namespace can be the bigger one', () => {
    // cpu: 60% vs memory: 50% → cpu-heavy has the larger dominant share
    const usage = use({ cpuheavy: [60_000, 1], memheavy: [1_000, 500] });
    expect(pickNextEval([ev('c', 'cpuheavy', 50, 1), ev('m', 'memheavy', 50, 2)], usage, TOTAL)).toBe('m');
  });

  it('a namespace with no usage beats any with some', () => {
    const usage = use({ a: [1, 0] });
    expect(pickNextEval([ev('a', 'a', 50, 1), ev('new', 'fresh', 50, 2)], usage, TOTAL)).toBe('new');
  });

  it('ties go to the lowest createIndex, whatever the order given', () => {
    const usage = use({ a: [10_000, 100], b: [10_000, 100] });
    const queue = [ev('b-7', 'b', 50, 7), ev('a-3', 'a', 50, 3), ev('a-5', 'a', 50, 5)];
    expect(pickNextEval(queue, usage, TOTAL)).toBe('a-3');
    expect(pickNextEval([...queue].reverse(), usage, TOTAL)).toBe('a-3');
    // within one namespace: FIFO
    expect(pickNextEval([ev('x2', 'x', 50, 2), ev('x1', 'x', 50, 1)], new Map(), TOTAL)).toBe('x1');
  });

  it('priority beats share, share beats age, in one queue', () => {
    const usage = use({ big: [50_000, 500], small: [1_000, 10] });
    const queue = [ev('big-old', 'big', 60, 1), ev('small-new', 'small', 60, 9), ev('small-low', 'small', 40, 0)];
    expect(pickNextEval(queue, usage, TOTAL)).toBe('small-new');
  });

  it('an empty cluster (no ready nodes) falls back to priority then age', () => {
    const zero = { cpu: 0, memory: 0, disk: 0 };
    expect(pickNextEval([ev('b', 'b', 50, 2), ev('a', 'a', 50, 1)], use({ a: [5, 5] }), zero)).toBe('a');
  });

  it('drains two namespaces fairly when each pick is followed by its placement', () => {
    // Simulate the eval loop: A queued 100 runs, then B queued 5; every run takes 1 core.
    const total: Resources = { cpu: 20_000, memory: 100 * GiB, disk: 0 };
    const queue: EvalCandidate[] = [];
    for (let i = 0; i < 100; i++) queue.push(ev(`a${i}`, 'a', 50, i));
    for (let i = 0; i < 5; i++) queue.push(ev(`b${i}`, 'b', 50, 100 + i));
    const usage = new Map<string, Resources>();
    const started: string[] = [];
    for (let slot = 0; slot < 20; slot++) {
      const id = pickNextEval(queue, usage, total)!;
      const picked = queue.splice(
        queue.findIndex((c) => c.id === id),
        1,
      )[0];
      const u = usage.get(picked.namespace) ?? { cpu: 0, memory: 0, disk: 0 };
      u.cpu += 1000;
      usage.set(picked.namespace, u);
      started.push(id);
    }
    // B's 5 all start among the first 10 slots rather than after A's 100.
    expect(started.slice(0, 10).filter((id) => id.startsWith('b'))).toHaveLength(5);
    expect(started.filter((id) => id.startsWith('a')).slice(0, 3)).toEqual(['a0', 'a1', 'a2']);
  });
});

describe('usageByNamespace', () => {
  it('sums allocs holding capacity per namespace', () => {
    const h = new Harness();
    h.addNodes(2);
    h.submit({ name: 'x', namespace: 'a', count: 2, tasks: [{ resources: { cpu: 500, memory: 1 * GiB, disk: 0 } }] });
    h.submit({ name: 'y', namespace: 'b', count: 1, tasks: [{ resources: { cpu: 100, memory: 2 * GiB, disk: 0 } }] });
    h.evaluate('x');
    const [y] = h.evaluate('y').placed;
    expect(usageByNamespace(h.allocs).get('a')).toEqual({ cpu: 1000, memory: 2 * GiB, disk: 0 });
    h.setClientStatus(y.id, 'complete');
    expect(usageByNamespace(h.allocs).has('b')).toBe(false);
  });
});

describe('blockedToWake', () => {
  const ask = (memory: number) => ({ cpu: 100, memory, disk: 0 });
  const room = (freeMemory: number[], usage: Array<[string, number]> = []) => ({
    total: { cpu: 100_000, memory: 8 * GiB, disk: 0 },
    free: new Map(freeMemory.map((m, i) => [`n${i}`, { cpu: 100_000, memory: m, disk: 0 }])),
    usage: new Map(usage.map(([ns, m]) => [ns, { cpu: 0, memory: m, disk: 0 }])),
  });
  const ev = (
    id: string,
    namespace: string,
    memory: number | undefined,
    over: Partial<{ priority: number; createIndex: number; replacement: boolean }> = {},
  ) => ({
    id,
    namespace,
    priority: 50,
    createIndex: Number(id.replace(/\D/g, '')) || 0,
    replacement: false,
    ask: memory === undefined ? undefined : ask(memory),
    ...over,
  });

  it('wakes only what fits the freed room, each taking its share of it', () => {
    expect(blockedToWake([ev('e1', 'a', GiB), ev('e2', 'a', GiB), ev('e3', 'a', GiB)], room([2 * GiB]))).toEqual(['e1', 'e2']);
    // one that asks nothing particular wakes whenever room frees
    expect(blockedToWake([ev('e1', 'a', 4 * GiB), ev('e2', 'a', undefined)], room([GiB]))).toEqual(['e2']);
  });

  it('gives freed room to replacements of lost work before the queue, and to higher priorities first', () => {
    expect(blockedToWake([ev('e1', 'a', GiB), ev('e2', 'a', GiB, { replacement: true })], room([GiB]))).toEqual(['e2']);
    expect(blockedToWake([ev('e1', 'a', GiB), ev('e2', 'a', GiB, { priority: 90 })], room([GiB]))).toEqual(['e2']);
  });

  it('shares room between namespaces: the one holding less goes first', () => {
    const blocked = [ev('e1', 'big', GiB), ev('e2', 'big', GiB), ev('e3', 'small', GiB)];
    expect(blockedToWake(blocked, room([2 * GiB], [['big', 4 * GiB]]))).toEqual(['e3', 'e1']);
  });
});
