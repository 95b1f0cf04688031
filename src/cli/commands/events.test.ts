import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../../api/types.js';
import { SseParser } from '../../client/client.js';
import { formatEventLine, parseTopics } from './events.js';

describe('baton events', () => {
  it('prints one line per event: time, topic, type, key, summary', () => {
    const e: ClusterEvent = {
      index: 3,
      topic: 'alloc',
      type: 'AllocUpdated',
      key: 'abcdef0123456789',
      namespace: 'default',
      time: '2026-01-02T03:04:05.678Z',
      payload: { name: 'sim[0]', nodeName: 'n1', clientStatus: 'running', desiredStatus: 'run', clientDescription: 'tasks running' },
    };
    expect(formatEventLine(e)).toBe('2026-01-02 03:04:05Z  alloc      AllocUpdated       abcdef01   sim[0] on n1: running - tasks running');
  });

  it('checks topics', () => {
    expect(parseTopics('job, alloc')).toEqual(['job', 'alloc']);
    expect(parseTopics(undefined)).toBeUndefined();
    expect(() => parseTopics('job,nope')).toThrow(/unknown topic "nope"/);
  });
});

describe('SseParser', () => {
  it('splits a stream cut anywhere into events, skipping comments', () => {
    const text = ': hello\n\nid: 1\ndata: {"a":1}\n\n: keepalive\n\nid: 2\ndata: x\ndata: y\r\n\r\n';
    for (const cut of [1, 5, 17, 30, text.length - 1]) {
      const p = new SseParser();
      const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(got).toEqual([
        { id: '1', data: '{"a":1}' },
        { id: '2', data: 'x\ny' },
      ]);
    }
  });
});
