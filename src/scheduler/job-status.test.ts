import { describe, expect, it } from 'vitest';
import { Harness } from './harness.js';
import { allocCounts, computeJobStatus } from './job-status.js';

function status(h: Harness, id: string) {
  return computeJobStatus(h.jobs.get(id)!, h.allocsOf(id), h.now);
}

describe('job status', () => {
  it('counts allocs by client status', () => {
    const h = new Harness();
    h.addNode();
    h.submit({ name: 'j', count: 4 });
    const [a, b, c] = h.evaluate('j').placed;
    h.setClientStatus(a.id, 'running');
    h.setClientStatus(b.id, 'failed');
    h.setClientStatus(c.id, 'lost');
    expect(allocCounts(h.allocsOf('j'))).toEqual({ pending: 1, running: 1, complete: 0, failed: 1, lost: 1 });
  });

  it('batch: pending → running → complete', () => {
    const h = new Harness();
    h.addNode();
    h.submit({ name: 'b', count: 2 });
    expect(status(h, 'b')).toBe('pending');
    const [x, y] = h.evaluate('b').placed;
    expect(status(h, 'b')).toBe('pending');
    h.setClientStatus(x.id, 'running');
    expect(status(h, 'b')).toBe('running');
    h.setClientStatus(x.id, 'complete');
    h.setClientStatus(y.id, 'complete');
    expect(status(h, 'b')).toBe('complete');
  });

  it('batch: failed only once retries are used up and nothing runs', () => {
    const h = new Harness();
    h.addNode();
    h.submit({ name: 'f', count: 2, retry: { attempts: 1, delayMs: 0 } });
    const [x, y] = h.evaluate('f').placed;
    h.setClientStatus(x.id, 'complete');
    h.setClientStatus(y.id, 'failed');
    expect(status(h, 'f')).toBe('pending'); // a retry is due
    const [retry] = h.evaluate('f').placed;
    h.setClientStatus(retry.id, 'running');
    expect(status(h, 'f')).toBe('running');
    h.setClientStatus(retry.id, 'failed');
    expect(status(h, 'f')).toBe('failed');
  });

  it('service: running while any alloc runs; stopped once stopped', () => {
    const h = new Harness();
    h.addNode();
    h.submit({ name: 's', type: 'service', count: 2 });
    const [x] = h.evaluate('s').placed;
    expect(status(h, 's')).toBe('pending');
    h.setClientStatus(x.id, 'running');
    expect(status(h, 's')).toBe('running');
    h.stopJob('s');
    expect(status(h, 's')).toBe('stopped');
  });

  it('a complete alloc of an older version does not complete the new version', () => {
    const h = new Harness();
    h.addNode();
    h.submit({ name: 'v' });
    const [a] = h.evaluate('v').placed;
    h.setClientStatus(a.id, 'complete');
    expect(status(h, 'v')).toBe('complete');
    h.submit({ name: 'v', meta: { rev: '2' } });
    expect(status(h, 'v')).toBe('pending');
  });
});

describe('job status: parent jobs', () => {
  it('a parameterized or periodic job is running (a template) until stopped', () => {
    const h = new Harness();
    h.addNode();
    h.submit({ name: 'p', parameterized: { metaRequired: [], metaOptional: [], payload: 'forbidden' } });
    h.submit({ name: 'c', periodic: { cron: '* * * * *', timezone: 'UTC', overlap: 'allow' } });
    expect(status(h, 'p')).toBe('running');
    expect(status(h, 'c')).toBe('running');
    h.stopJob('c');
    expect(status(h, 'c')).toBe('stopped');
  });
});
