import { describe, expect, it } from 'vitest';
import type { Alloc } from '../api/types.js';
import { Harness, type JobSpecInput } from './harness.js';
import { computeJobStatus } from './job-status.js';

function service(extra: JobSpecInput = {}): JobSpecInput {
  return { name: 'web', type: 'service', count: 3, restart: { attempts: 2, intervalMs: 60_000, delayMs: 1000, mode: 'fail' }, ...extra };
}

/** Two nodes; binpack puts every alloc of the job on the first (lower id on a tie). */
function onOneNode(spec: JobSpecInput) {
  const h = new Harness();
  const [a, b] = h.addNodes(2);
  const job = h.submit(spec);
  const placed = h.evaluate(job.id).placed;
  for (const x of placed) h.setClientStatus(x.id, 'running');
  expect(placed.every((x) => x.nodeId === a.id)).toBe(true);
  return { h, a, b, placed };
}

function replacementOf(h: Harness, old: Alloc): Alloc | undefined {
  return h.allocs.find((x) => x.previousAllocId === old.id && x.desiredStatus === 'run');
}

describe('drain: services', () => {
  it('migrates one alloc at a time: replacement first, the old one stopped once the replacement runs', () => {
    const { h, a, b, placed } = onOneNode(service());
    h.drainNode(a.id);

    for (const [i, old] of placed.entries()) {
      const r = h.evaluate('web');
      // the previous migration (if any) is finished in the same eval that starts this one
      if (i > 0) {
        const prev = placed[i - 1];
        expect(r.plan.stop).toEqual([{ allocId: prev.id, description: `node drain: migrated to ${b.name} as ${replacementOf(h, prev)!.id}` }]);
      } else {
        expect(r.plan.stop).toEqual([]);
      }
      expect(r.placed).toHaveLength(1);
      expect(r.placed[0]).toMatchObject({ index: old.index, nodeId: b.id, attempt: old.attempt, previousAllocId: old.id, name: old.name });

      // while the replacement is pending, nothing moves and the old alloc keeps running
      const waiting = h.evaluate('web');
      expect(waiting.plan).toMatchObject({ place: [], stop: [], queuedAllocs: 0 });
      expect(h.alloc(old.id).desiredStatus).toBe('run');
      h.setClientStatus(r.placed[0].id, 'running');
    }
    const last = h.evaluate('web');
    expect(last.plan.stop.map((s) => s.allocId)).toEqual([placed[2].id]);
    expect(last.plan.place).toEqual([]);
    h.settleStops();
    expect(h.liveAllocsOf('web').map((x) => x.nodeId)).toEqual([b.id, b.id, b.id]);
    expect(h.evaluate('web').plan).toMatchObject({ place: [], stop: [] });
  });

  it('waits for a replacement with checks to turn healthy, not just running', () => {
    const { h, a, placed } = onOneNode(service({ count: 1 }));
    h.drainNode(a.id);
    const [repl] = h.evaluate('web').placed;
    h.setClientStatus(repl.id, 'running');
    repl.healthy = false;
    expect(h.evaluate('web').plan.stop).toEqual([]);
    repl.healthy = true;
    expect(h.evaluate('web').plan.stop.map((s) => s.allocId)).toEqual([placed[0].id]);
  });

  it('moves update.maxParallel allocs at a time when the job sets it', () => {
    const { h, a, placed } = onOneNode(service({ count: 3, update: { maxParallel: 2 } } as JobSpecInput));
    h.drainNode(a.id);
    const r = h.evaluate('web');
    expect(r.placed.map((x) => x.previousAllocId)).toEqual([placed[0].id, placed[1].id]);
    h.setClientStatus(r.placed[0].id, 'running');
    const next = h.evaluate('web');
    expect(next.plan.stop.map((s) => s.allocId)).toEqual([placed[0].id]);
    expect(next.placed.map((x) => x.previousAllocId)).toEqual([placed[2].id]);
  });

  it('keeps the old alloc running while its replacement cannot be placed, and says why', () => {
    const h = new Harness();
    const [only] = h.addNodes(1);
    h.submit(service({ count: 1 }));
    const [old] = h.evaluate('web').placed;
    h.setClientStatus(old.id, 'running');
    h.drainNode(only.id);
    const r = h.evaluate('web');
    expect(r.plan.stop).toEqual([]);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures.map((f) => f.message)).toEqual(['1 node is ineligible']);
    expect(r.plan.followUpAt).toBe(Date.parse(only.drain!.deadline) + 1);
  });

  it('retries a failed replacement after restart.delayMs, the old alloc still serving', () => {
    const { h, a, placed } = onOneNode(service({ count: 1 }));
    h.drainNode(a.id);
    const [first] = h.evaluate('web').placed;
    h.setClientStatus(first.id, 'failed');
    const early = h.evaluate('web');
    expect(early.plan.place).toEqual([]);
    expect(early.plan.stop).toEqual([]);
    expect(early.plan.followUpAt).toBe(h.now + 1000);
    h.advance(1000);
    const [second] = h.evaluate('web').placed;
    expect(second).toMatchObject({ previousAllocId: placed[0].id, attempt: 0 });
  });

  it('past the deadline, what is left is stopped and requeued elsewhere', () => {
    const h = new Harness();
    const [a, b] = h.addNodes(2);
    h.submit(service({ count: 2 }));
    const placed = h.evaluate('web').placed;
    for (const x of placed) h.setClientStatus(x.id, 'running');
    h.drainNode(a.id, 10_000);
    const [repl0] = h.evaluate('web').placed;
    h.advance(10_001);
    const r = h.evaluate('web');
    expect(r.plan.stop).toEqual([
      { allocId: placed[0].id, description: 'node drain deadline passed' },
      { allocId: placed[1].id, description: 'node drain deadline passed', requeue: true },
    ]);
    // index 0 already has its (pending) replacement; index 1 gets one now, whatever maxParallel says
    expect(r.placed.map((x) => [x.index, x.nodeId, x.previousAllocId])).toEqual([[1, b.id, placed[1].id]]);
    expect(h.alloc(repl0.id).desiredStatus).toBe('run');
  });

  it('never places new allocs on a draining node', () => {
    const h = new Harness();
    const [a, b] = h.addNodes(2);
    h.drainNode(a.id);
    a.eligibility = 'eligible'; // even if the server left eligibility untouched
    h.submit(service({ name: 'new', count: 4 }));
    expect(h.evaluate('new').placed.map((x) => x.nodeId)).toEqual([b.id, b.id, b.id, b.id]);
  });

  it('leaves allocs on a node that is only ineligible, not draining', () => {
    const { h, a } = onOneNode(service());
    h.setEligibility(a.id, false);
    expect(h.evaluate('web').plan).toMatchObject({ place: [], stop: [] });
  });
});

describe('drain: batch', () => {
  it('leaves a run on a draining node alone until the deadline, then stops and requeues it with the same attempt', () => {
    const h = new Harness();
    const [a, b] = h.addNodes(2);
    h.submit({ name: 'sim', retry: { attempts: 3, delayMs: 1000 } });
    const [first] = h.evaluate('sim').placed;
    h.setClientStatus(first.id, 'failed');
    h.advance(1000);
    const [retry] = h.evaluate('sim').placed;
    expect(retry).toMatchObject({ nodeId: a.id, attempt: 1 });
    h.setClientStatus(retry.id, 'running');

    const node = h.drainNode(a.id, 30_000);
    const deadline = Date.parse(node.drain!.deadline);
    const before = h.evaluate('sim');
    expect(before.plan).toMatchObject({ place: [], stop: [], queuedAllocs: 0 });
    // come back just after the deadline, when the answer changes
    expect(before.plan.followUpAt).toBe(deadline + 1);

    h.advance(30_000); // exactly at the deadline: not past it yet
    expect(h.evaluate('sim').plan).toMatchObject({ place: [], stop: [] });

    h.advance(1);
    const r = h.evaluate('sim');
    expect(r.plan.stop).toEqual([{ allocId: retry.id, description: 'node drain deadline passed', requeue: true }]);
    expect(r.placed).toHaveLength(1);
    expect(r.placed[0]).toMatchObject({ nodeId: b.id, attempt: 1, previousAllocId: retry.id, index: 0 });
    expect(r.plan.followUpAt).toBeUndefined();

    // the killed run reports failure: that was the drain, not the run, so no retry is used
    h.setClientStatus(retry.id, 'failed');
    expect(h.evaluate('sim').plan).toMatchObject({ place: [], stop: [] });
    expect(computeJobStatus(h.jobs.get('sim')!, h.allocsOf('sim'), h.now)).toBe('pending');
  });

  it('a run that finishes before the deadline is done: nothing is requeued', () => {
    const h = new Harness();
    const [a] = h.addNodes(2);
    h.submit({ name: 'sim', count: 2 });
    const placed = h.evaluate('sim').placed;
    for (const x of placed) h.setClientStatus(x.id, 'running');
    h.drainNode(a.id, 30_000);
    h.setClientStatus(placed[0].id, 'complete');
    h.setClientStatus(placed[1].id, 'complete');
    h.advance(60_000);
    const r = h.evaluate('sim');
    expect(r.plan).toMatchObject({ place: [], stop: [], queuedAllocs: 0 });
    expect(r.plan.followUpAt).toBeUndefined();
    expect(computeJobStatus(h.jobs.get('sim')!, h.allocsOf('sim'), h.now)).toBe('complete');
  });
});
