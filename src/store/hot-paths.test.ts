/**
 * The hot paths of a busy cluster (an agent's poll, a heartbeat, a report, a
 * queue pass, a sweep's status and its first page of runs) must cost the same
 * however many runs have finished and however many wait. Timing that is a
 * benchmark's job (bench/queue); this checks the cause: every statement they
 * run on the big tables is served by an index on what is live or waiting,
 * never a scan of the table or of a node's or job's whole history.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alloc } from '../api/types.js';
import { nodeRequest } from '../server/server.fixture.js';
import { parseJobSource } from '../spec/parse.js';
import { openSqlite } from './sqlite/backend.js';
import { Store } from './store.js';
import { runEvals } from '../../test/support/play-store.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-hot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 ** 2;
const BIG_TABLES = ['allocs', 'runs', 'evals', 'logs'];

async function finishAll(store: Store, nodeId: string): Promise<void> {
  const live = (await store.agentAllocs(nodeId)).map((a) => a.alloc).filter((a: Alloc) => a.clientStatus === 'pending');
  const t = new Date().toISOString();
  await store.updateAllocs(
    nodeId,
    live.map((a) => ({
      allocId: a.id,
      clientStatus: 'complete',
      clientDescription: 'done',
      taskStates: { main: { state: 'dead', failed: false, restarts: 0, events: [], exitCode: 0, startedAt: t, finishedAt: t } },
    })),
    Date.now(),
  );
}

describe('hot paths on a store with history', () => {
  it('read the big tables through indexes on what is live or waiting, never a scan of history', { timeout: 120_000 }, async () => {
    const file = join(dir, 'hot.db');
    let capture: Array<{ sql: string; parameters: readonly unknown[] }> | undefined;
    const store = await Store.open(openSqlite(file, { onQuery: (sql, parameters) => capture?.push({ sql, parameters }) }), { logCapBytes: 1 << 20 });
    // room for 200 runs at a time: 2,000 finished runs of history come quickly
    const { id: nodeId } = await store.registerNode(
      { ...nodeRequest('n1'), capacity: { cpu: 1_000_000, memory: 200 * 100 * MiB, disk: 0 } },
      's',
      60_000,
      Date.now(),
    );
    const spec = parseJobSource(
      'name: sim\ntype: batch\nparameterized:\n  meta_required: [i]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 1m, memory: 100Mi }\n',
    ).spec;
    const { job: parent } = await store.registerJob(spec, Date.now());
    await store.dispatchJobs(
      parent,
      Array.from({ length: 2000 }, (_, i) => ({ meta: { i: String(i) } })),
      '0000000a-0000-4000-8000-000000000000',
      Date.now(),
    );
    for (let k = 0; k < 10; k++) {
      await runEvals(store);
      await finishAll(store, nodeId);
    }
    await runEvals(store);
    expect((await store.runStats(parent))?.states.complete).toBe(2000);
    // and a queue far bigger than the node, which fills up
    await store.dispatchJobs(
      parent,
      Array.from({ length: 5000 }, (_, i) => ({ meta: { i: String(i) } })),
      '0000000b-0000-4000-8000-000000000000',
      Date.now(),
    );
    await runEvals(store);

    capture = [];
    await store.agentAllocs(nodeId);
    await store.heartbeat(nodeId, Date.now());
    await finishAll(store, nodeId);
    await runEvals(store);
    await store.jobSummary(parent);
    await store.listRuns(parent, { limit: 50 });
    await store.listRuns(parent, { limit: 50, outcome: 'complete' });
    await store.listRuns(parent, { limit: 50, sweepId: '0000000b-0000-4000-8000-000000000000' });
    await store.allocPage({ nodeId, limit: 50, newestFirst: true });
    await store.evalPage({ limit: 50 });
    await store.queueSummary('*');
    // `alloc status`: what replaced an alloc
    await store.replacementOf((await store.allocPage({ nodeId, limit: 1 })).allocs[0].id);
    const statements = capture;
    capture = undefined;
    expect(statements.length).toBeGreaterThan(20);

    const raw = new Database(file, { readonly: true });
    const problems: string[] = [];
    for (const { sql, parameters } of statements) {
      if (!BIG_TABLES.some((t) => new RegExp(`\\b(from|update|into)\\s+"?${t}"?\\b`, 'i').test(sql))) continue;
      if (/^\s*insert/i.test(sql)) continue;
      const plan = raw.prepare(`explain query plan ${sql}`).all(...(parameters as unknown[])) as Array<{ detail: string }>;
      for (const { detail } of plan) {
        const table = BIG_TABLES.find((t) => new RegExp(`^(SCAN|SEARCH) ${t}\\b`).test(detail));
        if (!table) continue;
        // an ordered walk of an index that stops after a page (a listing's first page) reads a page, not the table
        const firstPage = /USING (COVERING )?INDEX/.test(detail) && /\blimit\b/i.test(sql) && !/\bwhere\b/i.test(sql);
        if (/^SCAN/.test(detail) && !firstPage) problems.push(`${detail}  <-  ${sql}`);
        // a node's poll asks for its live allocs: the index must have the status, not just the node
        if (/client_status/.test(sql) && /allocs_node_order|allocs_node \(/.test(detail)) problems.push(`${detail}  <-  ${sql}`);
        // a sweep's runs by sweep: the sweep's own index, not a walk through the parent's earlier sweeps
        if (/sweep_id" = /.test(sql) && /runs_seq/.test(detail)) problems.push(`${detail}  <-  ${sql}`);
      }
    }
    raw.close();
    await store.close();
    expect(problems).toEqual([]);
  });

  it('takes a heartbeat without waiting for the store, and writes it with the next flush', async () => {
    const store = await Store.open(openSqlite(join(dir, 'beat.db')), { logCapBytes: 1 << 20 });
    const t0 = Date.now() - 60_000;
    const { id } = await store.registerNode(nodeRequest('n1'), 's', 30_000, t0);
    // a write holds the store's one connection (a dispatch of 10,000 runs, say)
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const write = store.db.transaction().execute(async () => gate);
    // answered while the write still holds the store: were it to wait, this would never resolve (release comes after)
    expect(await store.heartbeat(id, t0 + 40_000)).toEqual({ id, status: 'ready' });
    release();
    await write;
    // not written yet, but it counts: the node is not expired at t0 + 60 s (TTL 30 s)
    expect((await store.getNode(id)).lastHeartbeatAt).toBe(new Date(t0).toISOString());
    expect(await store.expiredNodes(t0 + 60_000)).toEqual([]);
    expect(await store.markNodeDown(id, t0 + 60_000)).toEqual({ lost: 0 });
    await store.flushHeartbeats();
    expect((await store.getNode(id)).lastHeartbeatAt).toBe(new Date(t0 + 40_000).toISOString());
    expect((await store.expiredNodes(t0 + 80_000)).map((n) => n.id)).toEqual([id]);
    await store.close();
  });
});
