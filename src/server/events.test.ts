import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../api/types.js';
import { EventBuffer, formatSse, matches } from './events.js';

const ev = (index: number, topic: ClusterEvent['topic'] = 'job', namespace?: string): ClusterEvent => ({
  index, topic, type: 'X', key: `k${index}`, time: '2026-01-01T00:00:00.000Z', ...(namespace ? { namespace } : {}),
});

describe('EventBuffer', () => {
  it('hears the store, answers what came after an index, and keeps only the newest events', () => {
    const store = new EventEmitter();
    const b = new EventBuffer(store as never, 10);
    for (let i = 1; i <= 30; i++) store.emit('events', [ev(i), ev(i, 'alloc')]);
    const kept = b.since(0);
    expect(kept).toHaveLength(10);
    expect(kept[0].index).toBe(26);
    expect(b.oldestIndex()).toBeLessThanOrEqual(26);
    expect(b.since(28).map((e) => e.index)).toEqual([29, 29, 30, 30]);
    expect(b.since(28, { topics: new Set(['alloc']) }).map((e) => e.topic)).toEqual(['alloc', 'alloc']);
    b.close();
    store.emit('events', [ev(31)]);
    expect(b.since(30)).toEqual([]);
  });

  it('hands new events to subscribers until they unsubscribe', () => {
    const store = new EventEmitter();
    const b = new EventBuffer(store as never);
    const got: number[] = [];
    const off = b.subscribe((list) => got.push(...list.map((e) => e.index)));
    store.emit('events', [ev(1), ev(2)]);
    off();
    store.emit('events', [ev(3)]);
    expect(got).toEqual([1, 2]);
  });
});

describe('event filters and framing', () => {
  it('filters by namespace but lets cluster-wide (node) events through', () => {
    expect(matches(ev(1, 'job', 'a'), { namespace: 'a' })).toBe(true);
    expect(matches(ev(1, 'job', 'b'), { namespace: 'a' })).toBe(false);
    expect(matches(ev(1, 'node'), { namespace: 'a' })).toBe(true);
    expect(matches(ev(1, 'job', 'b'), { namespace: '*' })).toBe(true);
    expect(matches(ev(1, 'node'), { topics: new Set(['job']) })).toBe(false);
  });

  it('frames one event per SSE message with its index as id', () => {
    expect(formatSse(ev(7))).toBe(`id: 7\ndata: ${JSON.stringify(ev(7))}\n\n`);
  });
});
