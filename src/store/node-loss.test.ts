/**
 * What the store does when a node goes silent, through the real store and
 * scheduler: its runs' replacements go ahead of the queue, a completion that
 * arrives late is taken (and the replacement stopped), an agent that stopped
 * an alloc itself gets it replaced, and a job's replace_after makes the
 * server wait for the node before replacing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Alloc, AllocClientStatus } from '../api/types.js';
import { nodeRequest } from '../server/server.fixture.js';
import { parseJobSource } from '../spec/parse.js';
import { openTestStore, storeDialects, type StoreDialect } from '../../test/support/stores.js';
import { Store } from './store.js';
import { runEvals } from '../../test/support/play-store.js';

const MiB = 1024 ** 2;
const TTL = 1000;
let dialect: StoreDialect;

async function open(): Promise<Store> {
  return openTestStore(await dialect.fresh());
}

/** a node with room for two runs of 100Mi */
async function addNode(store: Store, name: string): Promise<string> {
  const { id } = await store.registerNode(nodeRequest(name, { capacity: { cpu: 4000, memory: 200 * MiB, disk: 0 } }), `secret-${name}`, TTL, Date.now());
  await store.heartbeat(id, Date.now());
  return id;
}

async function report(store: Store, a: Alloc, status: AllocClientStatus): Promise<void> {
  const t = new Date().toISOString();
  const dead = status !== 'running';
  await store.updateAllocs(
    a.nodeId,
    [
      {
        allocId: a.id,
        clientStatus: status,
        clientDescription: `task main ${status}`,
        taskStates: {
          main: {
            state: dead ? 'dead' : 'running',
            failed: status === 'failed',
            restarts: 0,
            events: [],
            startedAt: t,
            ...(dead ? { finishedAt: t, exitCode: 0 } : {}),
          },
        },
      },
    ],
    Date.now(),
  );
}

async function allocsOf(store: Store, nodeId: string): Promise<Alloc[]> {
  return (await store.allocPage({ nodeId, limit: 1000 })).allocs;
}

const live = (as: Alloc[]) => as.filter((a) => a.desiredStatus === 'run' && (a.clientStatus === 'pending' || a.clientStatus === 'running'));

async function sweep(store: Store, runs: number): Promise<void> {
  const parent = await store.registerJob(
    parseJobSource(
      'name: sim\ntype: batch\nparameterized:\n  meta_required: [i]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: 100Mi }\n',
    ).spec,
    Date.now(),
  );
  await store.dispatchJobs(
    parent.job,
    Array.from({ length: runs }, (_, i) => ({ meta: { i: String(i) } })),
    '00000001-0000-4000-8000-00000000000a',
    Date.now(),
  );
  await runEvals(store);
}

describe.each(storeDialects())('a node that goes silent ($dialect)', (d) => {
  beforeAll(() => {
    dialect = d;
  });
  it('has its runs replaced before the queue takes the room that frees', async () => {
    const store = await open();
    const n1 = await addNode(store, 'n1');
    const n2 = await addNode(store, 'n2');
    await sweep(store, 10);
    const onN1 = live(await allocsOf(store, n1));
    const onN2 = live(await allocsOf(store, n2));
    expect([onN1.length, onN2.length]).toEqual([2, 2]);
    for (const a of [...onN1, ...onN2]) await report(store, a, 'running');

    expect((await store.markNodeDown(n1, Date.now() + 2 * TTL)).lost).toBe(2);
    await runEvals(store);
    // n2 is full: the replacements wait, and so does the queue
    expect(live(await allocsOf(store, n2))).toHaveLength(2);

    // one run on n2 ends: its room goes to a lost run, not to the next run of the queue
    await report(store, onN2[0], 'complete');
    await runEvals(store);
    const now = live(await allocsOf(store, n2)).filter((a) => a.id !== onN2[1].id);
    expect(now).toHaveLength(1);
    expect(onN1.map((a) => a.id)).toContain(now[0].previousAllocId);
    await report(store, onN2[1], 'complete');
    await runEvals(store);
    const second = live(await allocsOf(store, n2)).filter((a) => a.id !== now[0].id);
    expect(second).toHaveLength(1);
    expect(onN1.map((a) => a.id)).toContain(second[0].previousAllocId);
    await store.close();
  });

  it('takes a completion reported after the node was marked lost, stops the replacement and never runs the run again', async () => {
    const store = await open();
    const n1 = await addNode(store, 'n1');
    const n2 = await addNode(store, 'n2');
    await sweep(store, 2);
    const [a] = live(await allocsOf(store, n1)).length > 0 ? live(await allocsOf(store, n1)) : live(await allocsOf(store, n2));
    const other = a.nodeId === n1 ? n2 : n1;
    await report(store, a, 'running');
    await store.markNodeDown(a.nodeId, Date.now() + 2 * TTL);
    await runEvals(store);
    const [replacement] = live(await allocsOf(store, other)).filter((x) => x.jobId === a.jobId);
    expect(replacement.previousAllocId).toBe(a.id);
    await report(store, replacement, 'running');

    // the silent node's agent was only cut off: its run completed, and the report gets through now
    await report(store, a, 'complete');
    const late = await store.getAlloc(a.id);
    expect(late).toMatchObject({ clientStatus: 'complete', desiredStatus: 'run' });
    expect(late.clientDescription).toMatch(/reported after its node was marked lost/);
    const stopped = await store.getAlloc(replacement.id);
    expect(stopped.desiredStatus).toBe('stop');
    expect(stopped.desiredDescription).toMatch(new RegExp(`alloc ${a.id.slice(0, 8)} it replaced completed after all`));
    const run = await store.getJob('default', a.jobId);
    expect(run?.status).toBe('complete');

    // the replacement goes down as asked: nothing places the run a third time
    await report(store, stopped, 'complete');
    await runEvals(store);
    const all = [...(await allocsOf(store, n1)), ...(await allocsOf(store, n2))].filter((x) => x.jobId === a.jobId);
    expect(all.map((x) => x.id).sort()).toEqual([a.id, replacement.id].sort());
    expect((await store.getJob('default', a.jobId))?.status).toBe('complete');
    await store.close();
  });

  it("replaces an alloc its agent stopped itself (it lost the server), the same attempt, and drops it from the agent's list", async () => {
    const store = await open();
    const n1 = await addNode(store, 'n1');
    await store.registerJob(
      parseJobSource(
        'name: svc\ntype: service\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    resources: { cpu: 100m, memory: 50Mi }\n',
      ).spec,
      Date.now(),
    );
    await runEvals(store);
    const [a] = live(await allocsOf(store, n1));
    await report(store, a, 'running');
    await report(store, a, 'lost');
    expect(await store.getAlloc(a.id)).toMatchObject({ clientStatus: 'lost', desiredStatus: 'stop' });
    const ev = await store.nextEval(Date.now());
    expect(ev?.triggeredBy).toBe('alloc-lost');
    await runEvals(store);
    const [b] = live(await allocsOf(store, n1));
    expect(b).toMatchObject({ previousAllocId: a.id, attempt: a.attempt });
    expect((await store.agentAllocs(n1)).map((x) => x.alloc.id)).toEqual([b.id]);
    await store.close();
  });

  it("waits out a job's replace_after before replacing, and keeps the alloc when the node comes back", async () => {
    const store = await open();
    const n1 = await addNode(store, 'n1');
    const n2 = await addNode(store, 'n2');
    await store.registerJob(
      parseJobSource(
        'name: svc\ntype: service\ndisconnect: { replace_after: 30s }\nconstraints:\n  - { attribute: "${node.name}", value: n1 }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    resources: { cpu: 100m, memory: 50Mi }\n',
      ).spec,
      Date.now(),
    );
    await runEvals(store);
    const [a] = live(await allocsOf(store, n1));
    await report(store, a, 'running');
    const t0 = Date.now() + 2 * TTL;

    expect((await store.markNodeDown(n1, t0)).lost).toBe(0);
    expect(await store.getAlloc(a.id)).toMatchObject({ clientStatus: 'running', desiredStatus: 'run', disconnectedAt: new Date(t0).toISOString() });
    expect(await store.replaceDisconnected(t0 + 10_000)).toBe(0);
    // the node is back in time: the alloc carries on, nothing was placed
    await store.heartbeat(n1, Date.now());
    expect((await store.getAlloc(a.id)).disconnectedAt).toBeUndefined();
    await runEvals(store);
    expect(live(await allocsOf(store, n2))).toHaveLength(0);

    // silent again, and this time for longer than replace_after
    const t1 = Date.now() + 2 * TTL;
    await store.markNodeDown(n1, t1);
    expect(await store.replaceDisconnected(t1 + 29_000)).toBe(0);
    expect(await store.replaceDisconnected(t1 + 30_000)).toBe(1);
    expect(await store.getAlloc(a.id)).toMatchObject({ clientStatus: 'lost', desiredStatus: 'stop' });
    await store.close();
  });
});
