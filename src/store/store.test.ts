import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AllocClientStatus } from '../api/types.js';
import { schedule } from '../scheduler/schedule.js';
import { nodeRequest } from '../server/server.fixture.js';
import { parseJobSource } from '../spec/parse.js';
import { openSqlite } from './sqlite.js';
import { Store } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const node = nodeRequest('n1');

const batch = (name: string) =>
  parseJobSource(`name: ${name}\ntype: batch\ncount: 3\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: 32Mi }\n`).spec;

async function runEvals(store: Store): Promise<void> {
  for (;;) {
    const ev = await store.nextEval(Date.now());
    if (!ev) return;
    await store.applyPlan(ev, schedule(await store.snapshot(ev, Date.now())), Date.now());
  }
}

async function report(store: Store, nodeId: string, jobId: string, status: AllocClientStatus): Promise<void> {
  const allocs = await store.listAllocs({ namespace: 'default', jobId });
  const dead = status === 'complete' || status === 'failed';
  await store.updateAllocs(nodeId, allocs.map((a) => ({
    allocId: a.id, clientStatus: status, clientDescription: status,
    taskStates: { main: { state: dead ? 'dead' : 'running', failed: status === 'failed', restarts: 0, events: [], ...(dead ? { exitCode: 0 } : {}) } },
  })), Date.now());
}

describe('Store job alloc cache', () => {
  it('answers like SQLite does through writes, reads inside a write and evictions', async () => {
    const file = join(dir, 'cache.db');
    // room for one job's allocs only: reading the other evicts it
    const store = await Store.open(openSqlite(file), 'sqlite', { logCapBytes: 1 << 20, jobCacheAllocs: 3 });
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

    // a second store on the same file reads everything from SQLite: the same answers
    const fresh = await Store.open(openSqlite(file), 'sqlite', { logCapBytes: 1 << 20 });
    for (const jobId of ['a', 'b']) {
      expect(await store.listAllocs({ namespace: 'default', jobId })).toEqual(await fresh.listAllocs({ namespace: 'default', jobId }));
      expect(await fresh.listAllocs({ namespace: 'default', jobId, status: 'complete' })).toHaveLength(3);
    }
    await fresh.close();
    await store.close();
  });
});
