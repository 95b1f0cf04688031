import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alloc, JobSpec } from '../api/types.js';
import { nodeRequest } from '../server/server.fixture.js';
import { parseJobSource } from '../spec/parse.js';
import { openSqlite } from '../store/sqlite/backend.js';
import { Store } from '../store/store.js';
import { allocDetail, replacementReason } from './replacements.js';
import { runEvals } from '../../test/support/play-store.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-replace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GiB = 1024 ** 3;

describe('replacement links in the store', () => {
  it('links a lost alloc and its replacement both ways, with why, through an index', async () => {
    const file = join(dir, 'lost.db');
    const store = await Store.open(openSqlite(file), { logCapBytes: 1 << 20 });
    const t0 = Date.now();
    const nodes = await Promise.all(['n1', 'n2'].map((n) => store.registerNode(nodeRequest(n), `secret-${n}`, 15_000, t0)));
    for (const n of nodes) await store.heartbeat(n.id, t0);
    await store.registerJob(parseJobSource('name: sim\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n').spec, t0);
    await runEvals(store, t0);
    const [first] = await store.listAllocs({ namespace: 'default', jobId: 'sim' });
    await store.updateAllocs(
      first.nodeId,
      [
        {
          allocId: first.id,
          clientStatus: 'running',
          clientDescription: '1 of 1 tasks running',
          taskStates: { main: { state: 'running', failed: false, restarts: 0, events: [] } },
        },
      ],
      t0,
    );
    // a first placement replaces nothing and is replaced by nothing
    const alone = await allocDetail(store, await store.getAlloc(first.id));
    expect(alone.replacedBy).toBeUndefined();
    expect(alone.replaces).toBeUndefined();

    // its node goes silent: the alloc is lost and placed again on the other node
    const lostNode = nodes.find((n) => n.id === first.nodeId)!;
    const other = nodes.find((n) => n.id !== first.nodeId)!;
    await store.heartbeat(other.id, t0 + 20_000);
    expect(await store.markNodeDown(lostNode.id, t0 + 20_000)).toEqual({ lost: 1 });
    await runEvals(store, t0 + 20_000);
    const allocs = await store.listAllocs({ namespace: 'default', jobId: 'sim' });
    expect(allocs).toHaveLength(2);
    const second = allocs.find((a) => a.id !== first.id)!;
    expect(second.previousAllocId).toBe(first.id);

    const reason = `lost: node ${lostNode.name} missed its heartbeats for 15s`;
    const old = await allocDetail(store, await store.getAlloc(first.id));
    expect(old.replacedBy).toEqual({ id: second.id, name: 'sim[0]', nodeName: other.name, clientStatus: 'pending', reason });
    expect(old.replaces).toBeUndefined();
    const replacement = await allocDetail(store, second);
    expect(replacement.replaces).toEqual({ id: first.id, name: 'sim[0]', nodeName: lostNode.name, clientStatus: 'lost', reason });
    expect(replacement.replacedBy).toBeUndefined();
    // the links are added beside the alloc's own fields, which stay as they are
    expect({ ...replacement, replaces: undefined }).toEqual({ ...second, replaces: undefined });

    // "what replaced X" is a search of the allocs_previous index, not a scan of every alloc
    let captured = { sql: '', parameters: [] as readonly unknown[] };
    const spy = await Store.open(openSqlite(file, { onQuery: (sql, parameters) => void (/previousAllocId/.test(sql) && (captured = { sql, parameters })) }), {
      logCapBytes: 1 << 20,
    });
    expect((await spy.replacementOf(first.id))?.id).toBe(second.id);
    expect(await spy.replacementOf(second.id)).toBeUndefined();
    await spy.close();
    await store.close();
    const raw = new Database(file, { readonly: true });
    const plan = (raw.prepare(`explain query plan ${captured.sql}`).all(...(captured.parameters as unknown[])) as Array<{ detail: string }>).map(
      (p) => p.detail,
    );
    raw.close();
    expect(plan.join('\n')).toMatch(/SEARCH allocs USING INDEX allocs_previous/);
    expect(plan.join('\n')).not.toMatch(/SCAN|TEMP B-TREE/);
  });

  it('answers without the replaced alloc once it was collected', async () => {
    const alloc = { id: 'b', previousAllocId: 'a' } as Alloc;
    const d = await allocDetail(
      {
        getAlloc: async () => {
          throw new Error('alloc a not found');
        },
        replacementOf: async () => undefined,
        jobVersionSpec: async () => undefined,
      },
      alloc,
    );
    expect(d).toEqual(alloc);
  });
});

function alloc(over: Partial<Alloc> = {}): Alloc {
  return {
    id: 'a1',
    namespace: 'default',
    jobId: 'sim',
    jobVersion: 1,
    name: 'sim[0]',
    index: 0,
    nodeId: 'node-1',
    nodeName: 'n1',
    evalId: 'e',
    desiredStatus: 'run',
    desiredDescription: '',
    clientStatus: 'running',
    clientDescription: '',
    resources: { cpu: 100, memory: GiB, disk: 0 },
    taskStates: {},
    attempt: 0,
    createIndex: 1,
    modifyIndex: 1,
    createdAt: '2026-12-01T22:00:00Z',
    modifiedAt: '2026-12-01T22:00:00Z',
    ...over,
  };
}

describe('replacementReason', () => {
  const batch = { type: 'batch', retry: { attempts: 3, delayMs: 5000, maxDelayMs: 300_000 } } as JobSpec;
  const dead = (exitCode: number, over = {}) => ({ main: { state: 'dead' as const, failed: exitCode !== 0, exitCode, restarts: 0, events: [], ...over } });

  it('says how a failed run ended and which retry the next one is', () => {
    const prev = alloc({ clientStatus: 'failed', attempt: 1, taskStates: dead(3) });
    expect(replacementReason(prev, alloc({ id: 'a2', attempt: 2 }), batch)).toBe('failed (exit 3), retry 2 of 3');
    const oom = alloc({ clientStatus: 'failed', taskStates: dead(137, { oomKilled: true, memoryLimit: GiB }) });
    expect(replacementReason(oom, alloc({ id: 'a2', attempt: 1, resources: { cpu: 100, memory: 1.5 * GiB, disk: 0 } }), batch)).toBe(
      'failed (OOM killed at 1 GiB), retry 1 of 3 with 1.5 GiB',
    );
    const timedOut = alloc({ clientStatus: 'failed', taskStates: dead(143, { timedOut: true }) });
    expect(replacementReason(timedOut, alloc({ id: 'a2', attempt: 1 }), batch)).toBe('failed (timed out), retry 1 of 3');
    // a service counts no retries
    expect(replacementReason(prev, alloc({ id: 'a2', attempt: 2 }), { ...batch, type: 'service' })).toBe('failed (exit 3), retry 2');
  });

  it('names drains, new versions, preemption, a stopped job and a service that ended', () => {
    expect(replacementReason(alloc(), alloc({ id: 'a2', nodeName: 'n2' }))).toBe('node drain: moving off n1');
    expect(replacementReason(alloc({ desiredStatus: 'stop', desiredDescription: 'node drain: migrated to n2 as a2' }), alloc({ id: 'a2' }))).toBe(
      'node drain: moved off n1',
    );
    expect(
      replacementReason(alloc({ desiredStatus: 'stop', desiredDescription: 'node drain deadline passed', clientStatus: 'complete' }), alloc({ id: 'a2' })),
    ).toBe('node drain: the deadline on n1 passed');
    expect(replacementReason(alloc(), alloc({ id: 'a2', jobVersion: 2 }))).toBe('a new job version (1 → 2)');
    expect(replacementReason(alloc({ desiredStatus: 'stop', desiredDescription: 'replaced by version 3', clientStatus: 'complete' }), undefined)).toBe(
      'a new job version (1 → 3)',
    );
    expect(replacementReason(alloc({ desiredStatus: 'stop', clientStatus: 'failed', preemptedBy: 'urgent' }), alloc({ id: 'a2' }))).toBe('preempted by urgent');
    expect(replacementReason(alloc({ desiredStatus: 'stop', desiredDescription: 'job stopped', clientStatus: 'complete' }), alloc({ id: 'a2' }))).toBe(
      'job stopped, then started again',
    );
    expect(replacementReason(alloc({ clientStatus: 'complete', taskStates: dead(0) }), alloc({ id: 'a2', attempt: 1 }), { ...batch, type: 'service' })).toBe(
      'ended (exit 0); a service job is kept running',
    );
    expect(replacementReason(alloc({ clientStatus: 'complete', taskStates: dead(0) }), alloc({ id: 'a2', desiredStatus: 'stop' }), batch)).toBe(
      'lost with node n1, then completed after all: the replacement is stopped',
    );
    expect(replacementReason(alloc({ clientStatus: 'lost', clientDescription: 'node n1 missed its heartbeats for 15s' }), alloc({ id: 'a2' }))).toBe(
      'lost: node n1 missed its heartbeats for 15s',
    );
  });
});
