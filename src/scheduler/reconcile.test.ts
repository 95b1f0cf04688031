import { describe, expect, it } from 'vitest';
import { Harness } from './harness.js';
import { reconcile } from './reconcile.js';

function setup(spec: Parameters<Harness['submit']>[0]) {
  const h = new Harness();
  h.addNodes(3);
  const job = h.submit(spec);
  return { h, job };
}

describe('reconcile', () => {
  it('places attempt 0 for every index of a new job', () => {
    const { h, job } = setup({ name: 'j', count: 3 });
    expect(reconcile({ job, jobAllocs: [] })).toEqual({
      place: [
        { index: 0, attempt: 0 },
        { index: 1, attempt: 0 },
        { index: 2, attempt: 0 },
      ],
      stop: [],
    });
    h.evaluate('j');
    expect(reconcile({ job, jobAllocs: h.allocsOf('j') })).toEqual({ place: [], stop: [] });
  });

  it('batch: retries a failed index up to retry.attempts, after a delay that doubles', () => {
    const { h } = setup({ name: 'r', retry: { attempts: 2, delayMs: 5000 } });
    const [a0] = h.evaluate('r').placed;
    h.setClientStatus(a0.id, 'failed');
    const failedAt = h.now;

    const early = h.evaluate('r');
    expect(early.placed).toEqual([]);
    expect(early.plan.queuedAllocs).toBe(0);
    expect(early.plan.followUpAt).toBe(failedAt + 5000);

    h.advance(5000);
    const [a1] = h.evaluate('r').placed;
    expect(a1).toMatchObject({ index: 0, attempt: 1, previousAllocId: a0.id });
    h.setClientStatus(a1.id, 'failed');
    // the second retry waits twice the delay
    expect(h.evaluate('r').plan.followUpAt).toBe(h.now + 10_000);
    h.advance(10_000);
    const [a2] = h.evaluate('r').placed;
    expect(a2).toMatchObject({ attempt: 2, previousAllocId: a1.id });
    h.setClientStatus(a2.id, 'failed');
    h.advance(60_000);
    const done = h.evaluate('r');
    expect(done.placed).toEqual([]);
    expect(done.plan.followUpAt).toBeUndefined();
  });

  it('batch: a complete index is done; a failed one with no retries is done', () => {
    const { h } = setup({ name: 'b', count: 2 });
    const [x, y] = h.evaluate('b').placed;
    h.setClientStatus(x.id, 'complete');
    h.setClientStatus(y.id, 'failed');
    h.advance(600_000);
    expect(h.evaluate('b').plan).toMatchObject({ place: [], stop: [], queuedAllocs: 0 });
  });

  it('service: a failed or completed alloc is restarted with attempt+1 after restart.delayMs', () => {
    const { h } = setup({ name: 's', type: 'service', count: 2, restart: { attempts: 2, intervalMs: 1000, delayMs: 1000, mode: 'fail' } });
    const [x, y] = h.evaluate('s').placed;
    h.setClientStatus(x.id, 'failed');
    h.setClientStatus(y.id, 'complete');
    expect(h.evaluate('s').plan.followUpAt).toBe(h.now + 1000);
    h.advance(1000);
    const again = h.evaluate('s').placed;
    expect(again.map((a) => [a.index, a.attempt, a.previousAllocId])).toEqual([
      [0, 1, x.id],
      [1, 1, y.id],
    ]);
  });

  it('a lost alloc is replaced now with the same attempt', () => {
    const { h } = setup({ name: 'l', retry: { attempts: 3, delayMs: 5000 } });
    const [a0] = h.evaluate('l').placed;
    h.setClientStatus(a0.id, 'failed');
    h.advance(5000);
    const [a1] = h.evaluate('l').placed;
    h.setClientStatus(a1.id, 'running');
    h.loseNode(a1.nodeId);
    const r = h.evaluate('l');
    expect(r.plan.followUpAt).toBeUndefined();
    expect(r.placed).toHaveLength(1);
    expect(r.placed[0]).toMatchObject({ attempt: 1, previousAllocId: a1.id });
    expect(r.placed[0].nodeId).not.toBe(a1.nodeId);
  });

  it('a new version replaces live allocs of the old one', () => {
    const { h } = setup({ name: 'v', type: 'service', count: 2 });
    const old = h.evaluate('v').placed;
    for (const a of old) h.setClientStatus(a.id, 'running');
    h.submit({ name: 'v', type: 'service', count: 2, meta: { rev: '2' } });
    const r = h.evaluate('v');
    expect(r.plan.stop).toEqual(old.map((a) => ({ allocId: a.id, description: 'replaced by version 2' })));
    expect(r.placed.map((a) => [a.index, a.jobVersion, a.attempt, a.previousAllocId])).toEqual([
      [0, 2, 0, old[0].id],
      [1, 2, 0, old[1].id],
    ]);
    // the stopped old allocs still run until the agent reports them gone: no second replacement
    expect(h.evaluate('v').plan).toMatchObject({ place: [], stop: [] });
  });

  it('lowering count stops the allocs above it; raising it again places them', () => {
    const { h } = setup({ name: 'c', type: 'service', count: 3 });
    const placed = h.evaluate('c').placed;
    const job = h.jobs.get('c')!;
    job.spec.count = 1;
    const r = h.evaluate('c');
    expect(r.plan.stop).toEqual([
      { allocId: placed[1].id, description: 'count lowered to 1' },
      { allocId: placed[2].id, description: 'count lowered to 1' },
    ]);
    expect(r.placed).toEqual([]);
    h.settleStops();
    job.spec.count = 2;
    const up = h.evaluate('c');
    expect(up.placed.map((a) => [a.index, a.attempt])).toEqual([[1, 0]]);
  });

  it('stopping the job stops every live alloc and places nothing', () => {
    const { h } = setup({ name: 'x', count: 3 });
    const placed = h.evaluate('x').placed;
    h.setClientStatus(placed[2].id, 'complete');
    h.stopJob('x');
    const r = h.evaluate('x');
    expect(r.plan.stop).toEqual([
      { allocId: placed[0].id, description: 'job stopped' },
      { allocId: placed[1].id, description: 'job stopped' },
    ]);
    expect(r.plan.place).toEqual([]);
    expect(reconcile({ job: undefined, jobAllocs: h.allocsOf('x') }).stop).toEqual([]);
  });

  it('a deleted job stops its live allocs', () => {
    const { h } = setup({ name: 'gone', count: 2 });
    const placed = h.evaluate('gone').placed;
    h.jobs.delete('gone');
    const r = h.evaluate('gone');
    expect(r.plan.stop.map((s) => s.allocId)).toEqual(placed.map((a) => a.id));
    expect(r.plan.jobId).toBe('gone');
  });

  it('an alloc desired stop is not live even while it still runs', () => {
    const { h } = setup({ name: 'd', type: 'service', count: 1 });
    const [a] = h.evaluate('d').placed;
    h.setClientStatus(a.id, 'running');
    a.desiredStatus = 'stop';
    const r = reconcile({ job: h.jobs.get('d'), jobAllocs: h.allocsOf('d') });
    expect(r).toEqual({ place: [{ index: 0, attempt: 0, previousAllocId: a.id }], stop: [] });
  });

  it('keeps the newest of two live allocs for one index', () => {
    const { h, job } = setup({ name: 'dup', type: 'service' });
    const [a] = h.evaluate('dup').placed;
    const b = { ...a, id: 'alloc-copy', createIndex: a.createIndex + 1 };
    expect(reconcile({ job, jobAllocs: [a, b] })).toEqual({ place: [], stop: [{ allocId: a.id, description: 'duplicate of alloc-copy' }] });
  });
});

describe('reconcile: parent jobs', () => {
  const parameterized = { metaRequired: ['scenario'], metaOptional: [], payload: 'optional' as const };
  const periodic = { cron: '0 3 * * *', timezone: 'UTC', overlap: 'skip' as const };

  it('places nothing for a parameterized or periodic job, whatever its count', () => {
    for (const extra of [{ parameterized }, { periodic }]) {
      const { h } = setup({ name: 't', count: 5, ...extra });
      const r = h.evaluate('t');
      expect(r.plan).toMatchObject({ place: [], stop: [], queuedAllocs: 0, failures: [] });
      expect(r.plan.followUpAt).toBeUndefined();
    }
  });

  it('stops the runs of a version from before the job became a template', () => {
    const { h } = setup({ name: 't', count: 2 });
    expect(h.evaluate('t').placed).toHaveLength(2);
    h.submit({ name: 't', count: 2, parameterized });
    const r = h.evaluate('t');
    expect(r.plan.place).toEqual([]);
    expect(r.plan.stop.map((s) => s.description)).toEqual([
      'the job is a template now: its runs are dispatched as child jobs',
      'the job is a template now: its runs are dispatched as child jobs',
    ]);
  });
});
