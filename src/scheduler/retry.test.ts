import { describe, expect, it } from 'vitest';
import type { TaskState } from '../api/types.js';
import { Harness } from './harness.js';
import { retryDelay } from './retry.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function dead(oomKilled: boolean): TaskState {
  return { state: 'dead', failed: true, exitCode: 137, oomKilled, restarts: 0, events: [] };
}

/** The agent reports the alloc failed, with the given tasks killed for OOM. */
function fail(h: Harness, allocId: string, oom: string[] = [], ok: string[] = []): void {
  const a = h.alloc(allocId);
  for (const t of oom) a.taskStates[t] = dead(true);
  for (const t of ok) a.taskStates[t] = dead(false);
  h.setClientStatus(allocId, 'failed');
}

describe('retryDelay', () => {
  it('doubles per retry from delayMs, capped at maxDelayMs', () => {
    const r = { attempts: 10, delayMs: 1000, maxDelayMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(r, n))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('stays at the cap for very large attempt numbers, and a zero delay stays zero', () => {
    expect(retryDelay({ attempts: 5000, delayMs: 1000, maxDelayMs: 60_000 }, 3000)).toBe(60_000);
    expect(retryDelay({ attempts: 3, delayMs: 0, maxDelayMs: 60_000 }, 3)).toBe(0);
  });
});

describe('retry with backoff through the scheduler', () => {
  it('waits delay, 2·delay, 4·delay, then the cap', () => {
    const h = new Harness();
    h.addNode();
    h.submit({ name: 'b', retry: { attempts: 5, delayMs: 1000, maxDelayMs: 5000 } });
    let [a] = h.evaluate('b').placed;
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      h.setClientStatus(a.id, 'failed');
      const due = h.evaluate('b').plan.followUpAt!;
      waits.push(due - h.now);
      h.advance(due - h.now);
      [a] = h.evaluate('b').placed;
      expect(a.attempt).toBe(i + 1);
    }
    expect(waits).toEqual([1000, 2000, 4000, 5000]);
  });
});

describe('OOM retry', () => {
  const oomJob = {
    name: 'sim',
    retry: { attempts: 3, delayMs: 0, onOom: { grow: 1.5, max: 3 * GiB } },
    tasks: [
      { name: 'sim', resources: { cpu: 1000, memory: 1 * GiB, disk: 0 } },
      { name: 'sidecar', resources: { cpu: 100, memory: 100 * MiB, disk: 0 } },
    ],
  };

  it('grows the memory of the OOM-killed task only, and places by the grown size', () => {
    const h = new Harness();
    h.addNode({ id: 'small', capacity: { cpu: 8000, memory: 1.2 * GiB, disk: 0 } });
    h.addNode({ id: 'big', capacity: { cpu: 8000, memory: 8 * GiB, disk: 0 } });
    h.submit(oomJob);
    const [a0] = h.evaluate('sim').placed;
    // binpack: the small node is the fuller fit for 1.1 GiB
    expect(a0.nodeId).toBe('small');
    fail(h, a0.id, ['sim'], ['sidecar']);

    const r = h.evaluate('sim');
    const [a1] = r.placed;
    expect(a1).toMatchObject({ attempt: 1, previousAllocId: a0.id, nodeId: 'big' });
    expect(a1.taskResources).toEqual({ sim: { cpu: 1000, memory: 1.5 * GiB, disk: 0 } });
    expect(a1.resources).toEqual({ cpu: 1100, memory: 1.5 * GiB + 100 * MiB, disk: 0 });
  });

  it('grows from the previous grown size, up to max, and still retries at max', () => {
    const h = new Harness();
    h.addNode({ capacity: { cpu: 8000, memory: 16 * GiB, disk: 0 } });
    h.submit(oomJob);
    let [a] = h.evaluate('sim').placed;
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      fail(h, a.id, ['sim']);
      [a] = h.evaluate('sim').placed;
      sizes.push(a.taskResources!.sim.memory);
    }
    expect(sizes).toEqual([1.5 * GiB, 2.25 * GiB, 3 * GiB]);
    expect(a.attempt).toBe(3);
    fail(h, a.id, ['sim']);
    // attempts used up even though the last ran at max
    expect(h.evaluate('sim').placed).toEqual([]);
  });

  it('retries at max when the previous run already had max', () => {
    const h = new Harness();
    h.addNode({ capacity: { cpu: 8000, memory: 16 * GiB, disk: 0 } });
    h.submit({ ...oomJob, retry: { attempts: 2, delayMs: 0, onOom: { grow: 4, max: 2 * GiB } } });
    let [a] = h.evaluate('sim').placed;
    fail(h, a.id, ['sim']);
    [a] = h.evaluate('sim').placed;
    expect(a.taskResources!.sim.memory).toBe(2 * GiB);
    fail(h, a.id, ['sim']);
    [a] = h.evaluate('sim').placed;
    expect(a).toMatchObject({ attempt: 2 });
    expect(a.taskResources!.sim.memory).toBe(2 * GiB);
  });

  it('a failure that is not an OOM kill keeps the grown size but does not grow it', () => {
    const h = new Harness();
    h.addNode({ capacity: { cpu: 8000, memory: 16 * GiB, disk: 0 } });
    h.submit(oomJob);
    let [a] = h.evaluate('sim').placed;
    fail(h, a.id, ['sim']);
    [a] = h.evaluate('sim').placed;
    fail(h, a.id, [], ['sim']);
    [a] = h.evaluate('sim').placed;
    expect(a.taskResources).toEqual({ sim: { cpu: 1000, memory: 1.5 * GiB, disk: 0 } });
  });

  it('a lost grown run is replaced with its grown size, same attempt', () => {
    const h = new Harness();
    h.addNodes(2, () => ({ capacity: { cpu: 8000, memory: 16 * GiB, disk: 0 } }));
    h.submit(oomJob);
    let [a] = h.evaluate('sim').placed;
    fail(h, a.id, ['sim']);
    [a] = h.evaluate('sim').placed;
    h.loseNode(a.nodeId);
    const [b] = h.evaluate('sim').placed;
    expect(b).toMatchObject({ attempt: 1, previousAllocId: a.id });
    expect(b.taskResources!.sim.memory).toBe(1.5 * GiB);
  });

  it('without on_oom an OOM-killed run retries at the same size', () => {
    const h = new Harness();
    h.addNode();
    h.submit({ name: 'plain', retry: { attempts: 1, delayMs: 0 } });
    const [a] = h.evaluate('plain').placed;
    fail(h, a.id, ['main']);
    const [b] = h.evaluate('plain').placed;
    expect(b.taskResources).toBeUndefined();
    expect(b.resources.memory).toBe(128 * MiB);
  });

  it('a grown retry waits for a node with room, explained with its grown size', () => {
    const h = new Harness();
    h.addNode({ capacity: { cpu: 8000, memory: 2 * GiB, disk: 0 } });
    h.submit({ ...oomJob, retry: { attempts: 1, delayMs: 0, onOom: { grow: 2, max: 4 * GiB } } });
    const [a] = h.evaluate('sim').placed;
    fail(h, a.id, ['sim']);
    const r = h.evaluate('sim');
    expect(r.placed).toEqual([]);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures[0]).toMatchObject({ dimension: 'memory', neverFits: true });
    expect(r.plan.failures[0].message).toMatch(/2\.1 GiB free/);
  });

  it('places grown retries and first runs of one job together without overcommitting', () => {
    const h = new Harness();
    h.addNodes(4, () => ({ capacity: { cpu: 8000, memory: 4 * GiB, disk: 0 } }));
    h.submit({ ...oomJob, count: 8 });
    const first = h.evaluate('sim').placed;
    expect(first).toHaveLength(8);
    for (const a of first.slice(0, 3)) fail(h, a.id, ['sim']);
    const r = h.evaluate('sim');
    expect(r.check.rejected).toEqual([]);
    expect(r.placed.map((a) => a.taskResources?.sim.memory)).toEqual([1.5 * GiB, 1.5 * GiB, 1.5 * GiB]);
    for (const [id, used] of h.usedByNode()) expect(used.memory).toBeLessThanOrEqual(h.node(id).capacity.memory);
  });
});
