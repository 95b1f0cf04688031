/**
 * Several servers on one PostgreSQL database, through the real store: two
 * Store instances on one database are two servers. What one commits, the
 * other's caches, watchers and event stream follow; writers on both
 * serialise on the index; a plan made on stale state is refused whichever
 * server committed the state; and a deposed leader cannot commit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../api/types.js';
import { schedule } from '../scheduler/schedule.js';
import { nodeRequest } from '../server/server.fixture.js';
import { parseJobSource } from '../spec/parse.js';
import { openTestStore, postgresAdminUrl, postgresDialect } from '../../test/support/stores.js';
import { NotLeaderError } from './errors.js';
import type { ChangeEvent, Store } from './store.js';
import { reportJob as report, runEvals } from '../../test/support/play-store.js';

const admin = postgresAdminUrl();
const GiB = 1024 ** 3;
const opened: Store[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

/** two servers' stores on one fresh database; b deaf: it learns of a's commits only when it writes or follows */
async function twoServers(bListens = true): Promise<[Store, Store]> {
  const where = await postgresDialect(admin!).fresh();
  // a leads, as the first server to start would
  const a = await openTestStore(where);
  const b = await openTestStore(where, { listen: bListens }, { lead: false });
  opened.push(a, b);
  return [a, b];
}

const job = (name: string, count: number, memory = '1Gi') =>
  parseJobSource(
    `name: ${name}\ntype: batch\ncount: ${count}\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: ${memory} }\n`,
  ).spec;

async function addNode(store: Store, memory = 4 * GiB): Promise<string> {
  const { id } = await store.registerNode(
    nodeRequest(`n-${Math.random().toString(36).slice(2, 6)}`, { capacity: { cpu: 8000, memory, disk: 0 } }),
    `secret-${Math.random()}`,
    30_000,
    Date.now(),
  );
  await store.heartbeat(id, Date.now());
  return id;
}

/** resolves with the first change event past `index` that `store` emits */
function nextChange(store: Store, index: number, timeoutMs = 10_000): Promise<ChangeEvent> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no change past ${index} reached the other server in ${timeoutMs} ms`)), timeoutMs);
    const on = (e: ChangeEvent): void => {
      if (e.index <= index) return;
      clearTimeout(t);
      store.off('change', on);
      resolve(e);
    };
    store.on('change', on);
  });
}

describe.skipIf(!admin)('two servers on one PostgreSQL database', () => {
  it('makes the tables once when several servers start together on an empty database', async () => {
    const where = await postgresDialect(admin!).fresh();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openTestStore(where, {}, { lead: false })));
    opened.push(...stores);
    // all four work on the one schema: a write on one is read on the others
    await addNode(stores[0]);
    for (const s of stores) expect(await s.listNodes()).toHaveLength(1);
  });

  it("wakes the other server's watchers with the write's nodes, and replays its events with the same indexes", async () => {
    const [a, b] = await twoServers();
    const seen: ClusterEvent[] = [];
    b.on('events', (list: ClusterEvent[]) => seen.push(...list));
    const start = a.currentIndex();
    const woke = nextChange(b, start);
    const nodeId = await addNode(a);
    const change = await woke;
    expect(change.index).toBe(start + 1);
    await b.follow();
    expect(b.currentIndex()).toBe(a.currentIndex());
    expect(seen.some((e) => e.topic === 'node' && e.key === nodeId)).toBe(true);
    // placing allocs on the node wakes that node's watch on the other server
    // (one listener for the whole wait: a follow emits several changes in one go, and a listener
    // added between them would miss the rest)
    const woken = new Promise<ChangeEvent>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no change touching the node reached the other server in 10 s')), 10_000);
      const on = (e: ChangeEvent): void => {
        if (!e.nodes.has(nodeId)) return;
        clearTimeout(t);
        b.off('change', on);
        resolve(e);
      };
      b.on('change', on);
    });
    await a.registerJob(job('w', 1, '64Mi'), Date.now());
    await runEvals(a);
    const placed = await woken;
    expect((await a.listAllocs({ namespace: 'default', jobId: 'w' }))[0].createIndex).toBe(placed.index);
    // both servers' event indexes are the same numbers, in the same order
    const mine = await a.recentEvents(1_000);
    await b.follow();
    expect(seen.map((e) => `${e.index}:${e.type}:${e.key}`)).toEqual(
      mine.filter((e) => e.index > seen[0].index - 1).map((e) => `${e.index}:${e.type}:${e.key}`),
    );
  });

  it("refuses a plan made before the last leader's final commit, on the server that takes over", async () => {
    // b has not heard of a's last commit when it applies (its notice late, say)
    const [a, b] = await twoServers(false);
    await addNode(a, 2 * GiB);
    await a.registerJob(job('x', 2), Date.now());
    await a.registerJob(job('y', 2), Date.now());
    await b.follow();
    const pending = async (s: Store, jobId: string) => (await s.listEvals({ namespace: 'default', jobId, status: 'pending' }))[0];
    const evX = await pending(a, 'x');
    const evY = await pending(b, 'y');
    // both plans see the whole node free
    const planX = schedule(await a.snapshot(evX, Date.now()));
    const planY = schedule(await b.snapshot(evY, Date.now()));
    expect(planX.place).toHaveLength(2);
    expect(planY.place).toHaveLength(2);
    expect((await a.applyPlan(evX, planX, Date.now())).placed).toHaveLength(2);
    // the lead moves to b, which has not heard of a's commit when it applies: its commit catches up under the index lock first
    const held = (await a.lease.current())!;
    await a.lease.release(held.holder);
    const lb = await b.lease.claim('server-b', 60_000);
    b.fenceWith({ serverId: 'server-b', epoch: lb.epoch });
    const r = await b.applyPlan(evY, planY, Date.now());
    expect(r.placed).toHaveLength(0);
    expect(r.rejected).toBe(2);
    const live = (await b.listAllocs({ namespace: 'default' })).filter((x) => x.desiredStatus === 'run');
    expect(live.reduce((sum, x) => sum + x.resources.memory, 0)).toBeLessThanOrEqual(2 * GiB);
  });

  it('serialises writers on both servers: every index once, in commit order, and caches equal to a fresh read', async () => {
    const [a, b] = await twoServers();
    const nodeA = await addNode(a, 64 * GiB);
    const nodeB = await addNode(b, 64 * GiB);
    const indexes: number[] = [];
    a.on('change', (e: ChangeEvent) => indexes.push(e.index));
    // writes from both at once: jobs, plans, status reports
    await Promise.all([
      (async () => {
        for (let i = 0; i < 8; i++) await a.registerJob(job(`a${i}`, 2, '64Mi'), Date.now());
      })(),
      (async () => {
        for (let i = 0; i < 8; i++) await b.registerJob(job(`b${i}`, 2, '64Mi'), Date.now());
      })(),
    ]);
    await runEvals(a);
    await Promise.all(
      [
        (async () => {
          for (let i = 0; i < 8; i++) await report(b, nodeA, `a${i}`, 'running');
        })(),
        (async () => {
          for (let i = 0; i < 8; i++) await report(a, nodeB, `b${i}`, 'running');
        })(),
      ].map((p) => p.catch(() => undefined)),
    );
    for (let i = 0; i < 8; i += 2) {
      await report(a, nodeA, `a${i}`, 'complete').catch(() => undefined);
      await report(b, nodeB, `b${i}`, 'complete').catch(() => undefined);
    }
    await a.follow();
    await b.follow();
    expect(a.currentIndex()).toBe(b.currentIndex());
    // a heard every index from 1 to the last exactly once, in order, whichever server wrote it
    const sorted = [...indexes].sort((x, y) => x - y);
    expect(indexes).toEqual(sorted);
    expect(new Set(indexes).size).toBe(indexes.length);
    expect(indexes[indexes.length - 1] - indexes[0] + 1).toBe(indexes.length);
    expect(await a.cacheDrift()).toEqual([]);
    expect(await b.cacheDrift()).toEqual([]);
  });

  it('fences a deposed leader: its plan does not commit once the lease moved on', async () => {
    const [a, b] = await twoServers();
    await addNode(a);
    await a.registerJob(job('f', 1, '64Mi'), Date.now());
    // a new lease for this test: a short one
    await a.lease.release((await a.lease.current())!.holder);
    const ttl = 300;
    const la = await a.lease.claim('server-a', ttl);
    expect(la.holder).toBe('server-a');
    a.fenceWith({ serverId: 'server-a', epoch: la.epoch });
    // b cannot take a lease that has not lapsed
    expect((await b.lease.claim('server-b', ttl)).holder).toBe('server-a');
    const ev = (await a.nextEval(Date.now()))!;
    const plan = schedule(await a.snapshot(ev, Date.now()));
    // a stalls past its lease; b takes over
    await new Promise((r) => setTimeout(r, ttl + 100));
    const lb = await b.lease.claim('server-b', 10_000);
    expect(lb).toMatchObject({ holder: 'server-b', epoch: la.epoch + 1 });
    await expect(a.applyPlan(ev, plan, Date.now())).rejects.toBeInstanceOf(NotLeaderError);
    expect(await b.listAllocs({ namespace: 'default', jobId: 'f' })).toHaveLength(0);
    // a server without a lease cannot make leader writes at all
    a.fenceWith(undefined);
    await expect(a.applyPlan(ev, plan, Date.now())).rejects.toBeInstanceOf(NotLeaderError);
    // the new leader's plan commits
    b.fenceWith({ serverId: 'server-b', epoch: lb.epoch });
    await b.follow();
    await runEvals(b);
    expect(await b.listAllocs({ namespace: 'default', jobId: 'f' })).toHaveLength(1);
  });

  it('loses neither a drain nor a heartbeat when both are written at once on two servers', async () => {
    const [a, b] = await twoServers();
    const nodes = await Promise.all(Array.from({ length: 5 }, () => addNode(a)));
    await b.follow();
    // b takes the nodes' heartbeats and writes them while a drains the nodes: each write changes only its own part
    let beating = true;
    let last = 0;
    const beats = (async () => {
      for (let t = Date.now(); beating; t += 10) {
        for (const id of nodes) await b.heartbeat(id, t);
        await b.flushHeartbeats();
        last = t;
      }
    })();
    for (const id of nodes) await a.drainNode(id, 60_000, false, Date.now());
    beating = false;
    await beats;
    for (const id of nodes) {
      const n = await b.getNode(id);
      expect(n, id).toMatchObject({ eligibility: 'ineligible', status: 'ready' });
      expect(n.drain, id).toBeDefined();
    }
    // nor a heartbeat to a drain: the last beat written is the one each node shows
    for (const id of nodes) expect((await a.getNode(id)).lastHeartbeatAt, id).toBe(new Date(last).toISOString());
  });

  it('wakes a log follow on the other server', async () => {
    const [a, b] = await twoServers();
    const nodeId = await addNode(a);
    await a.registerJob(job('l', 1, '64Mi'), Date.now());
    await runEvals(a);
    const [alloc] = await a.listAllocs({ namespace: 'default', jobId: 'l' });
    const heard = new Promise<string>((resolve) => b.once('logs', resolve));
    await a.appendLogs(nodeId, [{ allocId: alloc.id, task: 'main', stream: 'stdout', data: 'hello\u0000world\n' }]);
    expect(await heard).toBe(alloc.id);
    // NUL cannot be kept in PostgreSQL text: it is replaced, and the offsets count what was kept
    const r = await b.readLogs(alloc.id, 'main', 'stdout', 0);
    expect(r.data).toBe('hello\uFFFDworld\n');
    expect(r.nextOffset).toBe(Buffer.byteLength(r.data));
  });
});
