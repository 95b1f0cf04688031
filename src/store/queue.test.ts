/**
 * A parent's queue through the real store on SQLite: runs are rows, one eval
 * serves them all, they start in submission order, the totals follow every
 * change, pages return each run once while runs change state, a stop of a big
 * sweep and garbage collection.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alloc, AllocClientStatus, Job } from '../api/types.js';
import { nodeRequest } from '../server/server.fixture.js';
import { parseJobSource } from '../spec/parse.js';
import { openTestStore, storeDialects } from '../../test/support/stores.js';
import { Store } from './store.js';
import { runEvals } from '../../test/support/play-store.js';

const MiB = 1024 ** 2;

function parentSpec(name = 'sim', memory = '100Mi', namespace = 'default') {
  return parseJobSource(
    `name: ${name}\nnamespace: ${namespace}\ntype: batch\nparameterized:\n  meta_required: [i]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: ${memory} }\n`,
  ).spec;
}

/** the allocs of the node still pending or running */
async function live(store: Store, nodeId: string): Promise<Alloc[]> {
  return (await store.allocPage({ nodeId, limit: 1000 })).allocs.filter((a) => a.clientStatus === 'pending' || a.clientStatus === 'running');
}

async function finish(store: Store, nodeId: string, allocs: Alloc[], status: AllocClientStatus = 'complete'): Promise<void> {
  const t = new Date().toISOString();
  await store.updateAllocs(
    nodeId,
    allocs.map((a) => ({
      allocId: a.id,
      clientStatus: status,
      clientDescription: status,
      taskStates: {
        main: { state: 'dead', failed: status === 'failed', restarts: 0, events: [], exitCode: status === 'failed' ? 1 : 0, startedAt: t, finishedAt: t },
      },
    })),
    Date.now(),
  );
}

const meta = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ meta: { i: String(from + i + 1) } }));

describe.each(storeDialects())("a parent's queue ($dialect)", ({ fresh }) => {
  let store: Store;
  let nodeId: string;
  let parent: Job;
  beforeEach(async () => {
    store = await openTestStore(await fresh());
    // 300 MiB: three 100 MiB runs at a time
    ({ id: nodeId } = await store.registerNode({ ...nodeRequest('n1'), capacity: { cpu: 4000, memory: 300 * MiB, disk: 0 } }, 'secret', 30_000, Date.now()));
    ({ job: parent } = await store.registerJob(parentSpec(), Date.now()));
    await runEvals(store);
  });
  afterEach(async () => store.close());

  it('stores a dispatch as rows with one eval for all of them, and starts them in submission order', async () => {
    const r = await store.dispatchJobs(parent, meta(1000), '00000001-0000-4000-8000-000000000000', Date.now());
    expect(r.ids).toHaveLength(1000);
    expect(r.total).toBe(1000);
    const pending = (await store.evalPage({ status: 'pending' })).evals;
    expect(pending.map((e) => e.jobId)).toEqual(['sim']);
    expect(await runEvals(store)).toBe(1);
    const first = await live(store, nodeId);
    // i=1, 2, 3 first: submission order, not newest first
    // one plan places them all (one create index): which ones, not their order in the table, is the point
    const metaOf = async (allocs: Alloc[]) =>
      (await Promise.all(allocs.map(async (a) => Number((await store.getJob('default', a.jobId))!.dispatch!.meta.i)))).sort((a, b) => a - b);
    expect(await metaOf(first)).toEqual([1, 2, 3]);
    // one blocked eval waits for the other 997, with why
    const blocked = (await store.evalPage({ status: 'blocked' })).evals;
    expect(blocked).toHaveLength(1);
    expect(blocked[0].jobId).toBe('sim');
    expect(blocked[0].queuedAllocs).toBe(997);
    expect(blocked[0].failures[0].dimension).toBe('memory');
    const summary = await store.jobSummary(parent);
    expect(summary.runs?.states).toEqual({ queued: 997, running: 3, complete: 0, failed: 0, stopped: 0 });
    expect(summary.blocked?.[0].dimension).toBe('memory');

    // each run that ends makes room for exactly the next one, in order
    await finish(store, nodeId, first);
    await runEvals(store);
    const next = await live(store, nodeId);
    expect(await metaOf(next)).toEqual([4, 5, 6]);
    const s = (await store.jobSummary(parent)).runs!;
    expect(s.states).toMatchObject({ queued: 994, complete: 3 });
    expect(s.finished).toBe(3);
    expect(s.durationMs?.n).toBe(3);
  });

  it('takes a sweep in parts: continues at the right row, answers a repeated part without storing it twice', async () => {
    const sweep = '00000002-0000-4000-8000-000000000000';
    await store.dispatchJobs(parent, meta(500), sweep, Date.now());
    const second = await store.dispatchJobs(parent, meta(500, 500), sweep, Date.now(), { offset: 500 });
    expect(second.total).toBe(1000);
    expect(second.ids[0]).toBe('sim/00000002-500');
    const again = await store.dispatchJobs(parent, meta(500, 500), sweep, Date.now(), { offset: 500 });
    expect(again).toMatchObject({ repeated: true, total: 1000 });
    expect(again.ids).toEqual(second.ids);
    await expect(store.dispatchJobs(parent, meta(10), sweep, Date.now(), { offset: 1200 })).rejects.toMatchObject({
      status: 409,
      message: /starts at row 1000/,
    });
    // a first part that names its sweep (offset 0) makes it, and is known when it comes again
    const named = '0000000c-0000-4000-8000-000000000000';
    const first = await store.dispatchJobs(parent, meta(10), named, Date.now(), { offset: 0 });
    expect(first).toMatchObject({ total: 10, repeated: false });
    expect(await store.dispatchJobs(parent, meta(10), named, Date.now(), { offset: 0 })).toMatchObject({ total: 10, repeated: true });
    await expect(store.dispatchJobs(parent, meta(10), '00000009-0000-4000-8000-000000000000', Date.now(), { offset: 10 })).rejects.toMatchObject({
      status: 404,
    });
    expect((await store.jobSummary(parent)).runs?.total).toBe(1010);
    expect((await store.runStats(parent, sweep))?.total).toBe(1000);
  });

  it('pages through every run exactly once while runs change state', async () => {
    await store.dispatchJobs(parent, meta(120), '00000003-0000-4000-8000-000000000000', Date.now());
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listRuns(parent, { limit: 7, cursor });
      seen.push(...page.runs.map((r) => r.jobId));
      cursor = page.next;
      // between pages, runs start and end
      await runEvals(store);
      await finish(store, nodeId, await live(store, nodeId));
    } while (cursor);
    expect(seen).toHaveLength(120);
    expect(new Set(seen).size).toBe(120);
    // and a filter pages on the server: only complete rows
    const done = await store.listRuns(parent, { outcome: 'complete', limit: 1000 });
    expect(done.runs.length).toBeGreaterThan(0);
    expect(done.runs.every((r) => r.outcome === 'complete')).toBe(true);
  });

  it('stops a sweep of thousands in chunks: none is placed after the stop, every one counts as stopped', async () => {
    await store.dispatchJobs(parent, meta(5000), '00000004-0000-4000-8000-000000000000', Date.now());
    await runEvals(store);
    const running = await live(store, nodeId);
    expect(running).toHaveLength(3);
    const { stopping } = await store.stopJob('default', 'sim', Date.now());
    // nothing more is placed even before the queued runs are all marked stopped
    await runEvals(store);
    expect((await store.allocPage({ nodeId, limit: 10 })).allocs).toHaveLength(3);
    expect(await stopping).toBe(4997);
    await runEvals(store);
    const s = (await store.jobSummary((await store.getJob('default', 'sim'))!)).runs!;
    expect(s.states.queued).toBe(0);
    // the 3 placed ones were stopped before their agent started them: all 5,000 are stopped
    expect(s.states).toEqual({ queued: 0, running: 0, complete: 0, failed: 0, stopped: 5000 });
    // the placed ones are told to stop
    const after = (await store.allocPage({ nodeId, limit: 10 })).allocs;
    expect(after.every((a) => a.desiredStatus === 'stop')).toBe(true);
    // started again, the parent does not revive the old queue
    const { job: again } = await store.registerJob(parentSpec(), Date.now());
    await finish(store, nodeId, after);
    await runEvals(store);
    expect(await live(store, nodeId)).toHaveLength(0);
    // but runs dispatched after the new start are placed
    await store.dispatchJobs(again, meta(2), '00000005-0000-4000-8000-000000000000', Date.now());
    await runEvals(store);
    expect(await live(store, nodeId)).toHaveLength(2);
  });

  it("shares room between namespaces: a later namespace's few runs do not wait for an earlier one's queue", async () => {
    const { job: other } = await store.registerJob(parentSpec('sim', '100Mi', 'team-b'), Date.now());
    await store.dispatchJobs(parent, meta(1000), '0000000a-0000-4000-8000-000000000000', Date.now());
    await runEvals(store);
    await store.dispatchJobs(other, meta(5), '0000000b-0000-4000-8000-000000000000', Date.now());
    await runEvals(store);
    const order: string[] = [];
    // one run ends at a time, the oldest first, and the freed room goes to someone
    for (let k = 0; k < 12; k++) {
      const running = (await live(store, nodeId)).sort((a, b) => a.createIndex - b.createIndex);
      await finish(store, nodeId, running.slice(0, 1));
      await runEvals(store);
      const now = (await live(store, nodeId)).sort((a, b) => b.createIndex - a.createIndex);
      order.push(now[0].namespace);
    }
    expect(await store.namespaces()).toEqual(['default', 'team-b']);
    // newest first pages backwards through the same allocs
    const asc = (await store.allocPage({ nodeId, limit: 1000 })).allocs.map((a) => a.id);
    const desc: string[] = [];
    let c: string | undefined;
    do {
      const p = await store.allocPage({ nodeId, limit: 4, cursor: c, newestFirst: true });
      desc.push(...p.allocs.map((a) => a.id));
      c = p.next;
    } while (c);
    expect(desc).toEqual([...asc].reverse());
    // each freed slot goes to whoever holds less: team-b every other one, until its 5 are done
    expect(order.slice(0, 10).filter((n) => n === 'team-b').length).toBe(5);
  });

  it('collects finished evals, replaced allocs and whole sweeps once their retention passed', async () => {
    const sweep = '00000006-0000-4000-8000-000000000000';
    await store.dispatchJobs(parent, meta(6), sweep, Date.now());
    for (let i = 0; i < 3; i++) {
      await runEvals(store);
      await finish(store, nodeId, await live(store, nodeId));
    }
    await runEvals(store);
    expect((await store.runStats(parent, sweep))?.states.complete).toBe(6);
    // a retention in the future keeps everything
    const none = await store.collectGarbage(Date.now() - 3600_000, Date.now() - 3600_000);
    expect(none).toMatchObject({ runs: 0, allocs: 0, evals: 0 });
    const all = await store.collectGarbage(Date.now() + 1, Date.now() + 1);
    expect(all.runs).toBe(6);
    expect(all.allocs).toBe(6);
    expect(all.evals).toBeGreaterThan(0);
    expect(await store.runStats(parent, sweep)).toBeUndefined();
    expect((await store.jobSummary(parent)).runs?.total).toBe(0);
    expect((await store.allocPage({ limit: 100 })).allocs).toHaveLength(0);
    // the parent itself is not finished: it stays
    expect(await store.getJob('default', 'sim')).toBeDefined();
  });

  it("keeps what the scheduler still needs: the newest alloc of a running job's index, and live allocs", async () => {
    const batch = parseJobSource(
      'name: b\ntype: batch\ncount: 2\nretry: { attempts: 3, delay: 0s }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { memory: 10Mi }\n',
    ).spec;
    await store.registerJob(batch, Date.now());
    await runEvals(store);
    const allocs = (await store.allocPage({ jobId: 'b', limit: 10 })).allocs;
    // index 0 fails and is retried; index 1 runs on
    await finish(
      store,
      nodeId,
      allocs.filter((a) => a.index === 0),
      'failed',
    );
    await runEvals(store);
    const gc = await store.collectGarbage(Date.now() + 1, 0);
    expect(gc.allocs).toBe(1);
    const left = (await store.allocPage({ jobId: 'b', limit: 10 })).allocs;
    expect(left.map((a) => [a.index, a.attempt, a.clientStatus])).toEqual([
      [1, 0, 'pending'],
      [0, 1, 'pending'],
    ]);
  });
});
