import { describe, expect, it } from 'vitest';
import { schedule } from '../scheduler/schedule.js';
import { nodeRequest } from '../server/server.fixture.js';
import { parseJobSource } from '../spec/parse.js';
import { openTestStore, storeDialects } from '../../test/support/stores.js';
import { reportJob as report, runEvals } from '../../test/support/play-store.js';

const node = nodeRequest('n1');

const batch = (name: string) =>
  parseJobSource(
    `name: ${name}\ntype: batch\ncount: 3\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: 32Mi }\n`,
  ).spec;

describe.each(storeDialects())('Store job alloc cache ($dialect)', ({ fresh: freshDb }) => {
  it('answers like the database does through writes, reads inside a write and evictions', async () => {
    const where = await freshDb();
    // room for one job's allocs only: reading the other evicts it
    const store = await openTestStore(where, { jobCacheAllocs: 3 });
    const { id: nodeId } = await store.registerNode(node, 'secret', 30_000, Date.now());
    await store.heartbeat(nodeId, Date.now());
    await store.registerJob(batch('a'), Date.now());
    await store.registerJob(batch('b'), Date.now());
    await runEvals(store);

    const statuses = async (jobId: string) => (await store.listAllocs({ namespace: 'default', jobId })).map((a) => a.clientStatus);
    expect(await statuses('a')).toEqual(['pending', 'pending', 'pending']);
    expect(await statuses('b')).toEqual(['pending', 'pending', 'pending']);

    await report(store, nodeId, 'a', 'running');
    await report(store, nodeId, 'b', 'running');
    expect(await statuses('a')).toEqual(['running', 'running', 'running']);
    await report(store, nodeId, 'a', 'complete');
    // the job's status is worked out inside the write that completed its allocs
    expect((await store.getJob('default', 'a'))?.status).toBe('complete');
    expect((await store.getJob('default', 'b'))?.status).toBe('running');
    expect(await statuses('b')).toEqual(['running', 'running', 'running']);
    await report(store, nodeId, 'b', 'complete');
    expect((await store.getJob('default', 'b'))?.status).toBe('complete');

    // a second store on the same database reads everything from it: the same answers
    const fresh = await openTestStore(where);
    for (const jobId of ['a', 'b']) {
      expect(await store.listAllocs({ namespace: 'default', jobId })).toEqual(await fresh.listAllocs({ namespace: 'default', jobId }));
      expect(await fresh.listAllocs({ namespace: 'default', jobId, status: 'complete' })).toHaveLength(3);
    }
    await fresh.close();
    await store.close();
  });
});

describe.each(storeDialects())('Store.applyPlan against fresh state ($dialect)', ({ fresh }) => {
  const GiB = 1024 ** 3;
  const wide = (name: string, count: number) =>
    parseJobSource(
      `name: ${name}\ntype: batch\ncount: ${count}\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: 1Gi }\n`,
    ).spec;

  it('drops placements that stopped fitting after the snapshot and evaluates again', async () => {
    const store = await openTestStore(await fresh());
    const { id: nodeId } = await store.registerNode(nodeRequest('n1', { capacity: { cpu: 4000, memory: 4 * GiB, disk: 0 } }), 'secret', 30_000, Date.now());
    await store.heartbeat(nodeId, Date.now());
    await store.registerJob(wide('a', 3), Date.now());
    const ev = (await store.nextEval(Date.now()))!;
    const plan = schedule(await store.snapshot(ev, Date.now()));
    expect(plan.place).toHaveLength(3);
    // the node shrinks between the snapshot and the commit: only one 1 GiB alloc still fits
    await store.updateNode(nodeId, nodeRequest('n1', { capacity: { cpu: 4000, memory: 1 * GiB, disk: 0 } }), Date.now());
    const r = await store.applyPlan(ev, plan, Date.now());
    expect(r.placed).toHaveLength(1);
    expect(r.rejected).toBe(2);
    expect(await store.listAllocs({ namespace: 'default', jobId: 'a' })).toHaveLength(1);
    // the eval is retried, not lost: the next one finds no room and blocks with the two that wait
    await runEvals(store);
    expect((await store.listAllocs({ namespace: 'default', jobId: 'a' })).filter((a) => a.desiredStatus === 'run')).toHaveLength(1);
    expect((await store.listEvals({ namespace: 'default', jobId: 'a' })).some((e) => e.status === 'blocked')).toBe(true);
    await store.close();
  });

  it('drops placements whose room another commit took after the snapshot', async () => {
    const store = await openTestStore(await fresh());
    const { id: nodeId } = await store.registerNode(nodeRequest('n1', { capacity: { cpu: 4000, memory: 2 * GiB, disk: 0 } }), 'secret', 30_000, Date.now());
    await store.heartbeat(nodeId, Date.now());
    await store.registerJob(wide('a', 2), Date.now());
    await store.registerJob(wide('b', 2), Date.now());
    const evA = (await store.nextEval(Date.now()))!;
    const evB = (await store.nextEval(Date.now()))!;
    // both plans are made from snapshots that see the whole node free
    const planA = schedule(await store.snapshot(evA, Date.now()));
    const planB = schedule(await store.snapshot(evB, Date.now()));
    expect(planA.place).toHaveLength(2);
    expect(planB.place).toHaveLength(2);
    expect((await store.applyPlan(evA, planA, Date.now())).placed).toHaveLength(2);
    const b = await store.applyPlan(evB, planB, Date.now());
    expect(b.placed).toHaveLength(0);
    expect(b.rejected).toBe(2);
    const live = (await store.listAllocs({ namespace: 'default' })).filter((x) => x.desiredStatus === 'run');
    expect(live.reduce((sum, x) => sum + x.resources.memory, 0)).toBeLessThanOrEqual(2 * GiB);
    await store.close();
  });
});

describe.each(storeDialects())('id prefixes ($dialect)', ({ fresh }) => {
  it('finds an alloc, eval or deployment by a prefix of its id in either case, and says when it is too short or matches nothing', async () => {
    const store = await openTestStore(await fresh());
    const { id: nodeId } = await store.registerNode(node, 'secret', 30_000, Date.now());
    await store.heartbeat(nodeId, Date.now());
    await store.registerJob(batch('p'), Date.now());
    await runEvals(store);
    const [alloc] = await store.listAllocs({ namespace: 'default', jobId: 'p' });
    const [ev] = await store.listEvals({ namespace: 'default', jobId: 'p' });
    // ids are lower-case: a prefix typed in capitals finds the same, on PostgreSQL (case-sensitive LIKE) as on SQLite
    expect((await store.getAlloc(alloc.id.slice(0, 8).toUpperCase())).id).toBe(alloc.id);
    expect((await store.getAlloc(alloc.id.toUpperCase())).id).toBe(alloc.id);
    expect((await store.getEval(ev.id.slice(0, 6).toUpperCase())).id).toBe(ev.id);
    // wildcards are dropped, never matched
    await expect(store.getAlloc('%%%%')).rejects.toThrow();
    await expect(store.getAlloc('zzzzzzzz')).rejects.toThrow(/not found/);
    await store.close();
  });
});
