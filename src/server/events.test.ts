import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../api/types.js';
import { EventBuffer, formatSse, matches, SseConnection } from './events.js';

const ev = (index: number, topic: ClusterEvent['topic'] = 'job', namespace?: string): ClusterEvent => ({
  index,
  topic,
  type: 'X',
  key: `k${index}`,
  time: '2026-01-01T00:00:00.000Z',
  ...(namespace ? { namespace } : {}),
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

describe('SseConnection', () => {
  // a socket whose reader never reads: nothing written is ever flushed
  const stalled = () =>
    new Writable({
      highWaterMark: 1024,
      write: () => {
        /* never calls back */
      },
    });

  it('drops a reader that stops reading once its buffer passes the bound, and later writes are no-ops', () => {
    const sink = stalled();
    let closed = 0;
    const conn = new SseConnection(sink, 4096, () => closed++);
    for (let i = 0; i < 10 && conn.isOpen; i++) conn.write('x'.repeat(1000));
    expect(conn.isOpen).toBe(false);
    expect(sink.destroyed).toBe(true);
    expect(closed).toBe(1);
    // the next ordinary event and the keepalive: before, these wrote after end and crashed the server
    expect(() => conn.write('data: more\n\n')).not.toThrow();
    expect(() => conn.write(': keepalive\n\n')).not.toThrow();
    expect(closed).toBe(1);
  });

  it('closes when the peer goes away, without an unhandled error', async () => {
    const sink = stalled();
    let closed = 0;
    const conn = new SseConnection(sink, 1 << 20, () => closed++);
    sink.destroy(new Error('ECONNRESET'));
    await new Promise((r) => setImmediate(r));
    expect(conn.isOpen).toBe(false);
    expect(closed).toBe(1);
    expect(() => conn.write('data: x\n\n')).not.toThrow();
  });
});
