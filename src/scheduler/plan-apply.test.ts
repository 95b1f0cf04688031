import { describe, expect, it } from 'vitest';
import type { Alloc } from '../api/types.js';
import { nodeRequest } from '../server/server.fixture.js';
import { parseJobSource } from '../spec/parse.js';
import { openTestStore, storeDialects } from '../../test/support/stores.js';
import { Harness, makeNode } from './harness.js';
import { acceptPlan, allocFromPlacement, applyStop, evalOutcome } from './plan-apply.js';
import { schedule } from './schedule.js';
import type { Plan, PlannedAlloc } from './types.js';

const GiB = 1024 ** 3;
const placement = (jobId: string, index: number, nodeId: string, memory: number): PlannedAlloc => ({
  jobId,
  name: `${jobId}[${index}]`,
  index,
  nodeId,
  nodeName: nodeId,
  jobVersion: 1,
  resources: { cpu: 100, memory, disk: 0 },
  attempt: 0,
});
const plan = (place: PlannedAlloc[], extra: Partial<Plan> = {}): Plan => ({
  evalId: 'e1',
  namespace: 'default',
  jobId: 'p',
  place,
  stop: [],
  queuedAllocs: 0,
  failures: [],
  ...extra,
});

describe('acceptPlan', () => {
  it('keeps what still fits, and for a queue drops the rest of a run that lost a placement', () => {
    const node = makeNode({ id: 'n1', capacity: { cpu: 4000, memory: 2 * GiB, disk: 0 } });
    const place = [placement('p/r1', 0, 'n1', GiB), placement('p/r2', 0, 'n1', GiB), placement('p/r2', 1, 'n1', GiB)];
    // not a queue: placements are checked one by one
    expect(acceptPlan(plan(place), [node], []).accepted.map((p) => p.name)).toEqual(['p/r1[0]', 'p/r2[0]']);
    // a queue: run r2 lost one of its two, so it stays queued whole
    const q = acceptPlan(plan(place, { runs: { started: ['p/r1', 'p/r2'], ownEval: [], drained: true } }), [node], []);
    expect(q.accepted.map((p) => p.name)).toEqual(['p/r1[0]']);
    expect(q.rejected.map((p) => p.name)).toEqual(['p/r2[1]']);
  });
});

describe('applyStop', () => {
  const alloc = (over: Partial<Alloc>): Alloc => ({
    ...allocFromPlacement({ namespace: 'default', jobId: 'j' }, placement('j', 0, 'n1', GiB), { evalId: 'e', index: 1, now: 0, newId: () => 'a1' }),
    ...over,
  });

  it('ends an alloc that never reached its node, since no agent will report it', () => {
    const a = alloc({});
    expect(applyStop(a, { allocId: 'a1', description: 'job stopped' }, 7, 1000)).toBe(true);
    expect(a).toMatchObject({ desiredStatus: 'stop', clientStatus: 'complete', clientDescription: 'stopped before it started: job stopped', modifyIndex: 7 });
  });

  it('leaves a running alloc for its agent to stop, and a stopping one as it is', () => {
    const a = alloc({ clientStatus: 'running', taskStates: { main: { state: 'running', failed: false, restarts: 0, events: [] } } });
    expect(applyStop(a, { allocId: 'a1', description: 'count lowered', preemptedBy: 'big' }, 7, 1000)).toBe(true);
    expect(a).toMatchObject({ desiredStatus: 'stop', clientStatus: 'running', preemptedBy: 'big' });
    expect(applyStop(a, { allocId: 'a1', description: 'again' }, 8, 2000)).toBe(false);
    expect(a.modifyIndex).toBe(7);
  });
});

describe('evalOutcome', () => {
  it('evaluates again when placements stopped fitting, blocks when allocs wait, completes otherwise', () => {
    const rejected = { accepted: [], rejected: [placement('j', 0, 'n1', GiB)] };
    expect(evalOutcome(plan([]), rejected, 0)).toMatchObject({ status: 'complete', evaluateAgain: true, queuedAllocs: 1 });
    expect(evalOutcome(plan([], { queuedAllocs: 3 }), { accepted: [], rejected: [] }, 2)).toMatchObject({
      status: 'blocked',
      queuedAllocs: 3,
      description: '3 allocs wait for capacity',
    });
    expect(evalOutcome(plan([]), { accepted: [], rejected: [] }, 2)).toMatchObject({
      status: 'complete',
      description: 'placed 2, stopped 0',
      evaluateAgain: false,
    });
  });
});

describe.each(storeDialects())('the harness commits as the store does ($dialect)', ({ fresh }) => {
  it('makes the same allocs from the same plan', async () => {
    const source =
      'name: same\ntype: batch\ncount: 3\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 500m, memory: 1Gi }\n';
    const { spec } = parseJobSource(source);
    const store = await openTestStore(await fresh());
    const { id: nodeId } = await store.registerNode(nodeRequest('n1', { capacity: { cpu: 4000, memory: 2 * GiB, disk: 0 } }), 'secret', 30_000, Date.now());
    await store.heartbeat(nodeId, Date.now());
    await store.registerJob(spec, Date.now());
    const ev = (await store.nextEval(Date.now()))!;
    const snap = await store.snapshot(ev, Date.now());
    const p = schedule(snap);
    const fromStore = (await store.applyPlan(ev, p, Date.now())).placed;

    const h = new Harness();
    for (const n of snap.nodes) h.nodes.push(structuredClone(n));
    h.jobs.set(snap.job!.id, structuredClone(snap.job!));
    const fromHarness = h.apply(p, acceptPlan(p, h.nodes, h.usage()));
    // everything but the store's ids, indexes and clock
    const shape = (a: Alloc) => {
      const { id: _i, createIndex: _c, modifyIndex: _m, createdAt: _t, modifiedAt: _u, evalId: _e, ...rest } = a;
      return rest;
    };
    expect(fromHarness.map(shape)).toEqual(fromStore.map(shape));
    expect(fromStore).toHaveLength(2);
    await store.close();
  });
});
