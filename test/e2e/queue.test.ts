/**
 * A queue far larger than the cluster, on a real server and a real exec agent
 * with room for two runs at a time and the default heartbeat TTL: 10,000 runs
 * wait while the first ones run. The node is never marked down, no alloc is
 * lost, runs start in submission order, a later namespace's few runs get
 * their fair share before the big queue drains, and paging returns every run
 * once while runs change state. Not timed: judged by what the server and the
 * runs themselves record.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alloc, ClusterEvent } from '../../src/api/types.js';
import { TestCluster, waitFor } from '../support/cluster.js';
import { cgroupsSuiteEnabled } from '../support/e2e.js';

const cgroupsWritable = cgroupsSuiteEnabled();

const QUEUED = 10_000;

describe.skipIf(!cgroupsWritable)('a queue of 10,000 runs on a node that runs two at a time', () => {
  let cluster: TestCluster;
  let marks: string;
  let nodeId: string;

  const spec = (ns: string) =>
    `name: q\nnamespace: ${ns}\ntype: batch\nparameterized:\n  meta_required: [i]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n` +
    `    args: ["-c", ${JSON.stringify(`echo "${ns} $BATON_META_I" >> ${marks}/started; sleep 0.05`)}]\n    resources: { cpu: 100m, memory: 100Mi }\n`;

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '15s' });
    marks = await cluster.tempDir('queue');
    const agent = await cluster.addAgent({ name: 'small', cpu: '2', memory: '200Mi', drivers: 'exec' });
    nodeId = await agent.ready();
  });
  afterAll(async () => cluster?.stop());

  it('keeps the node up, loses nothing, starts runs in order and pages every run once while they change', async () => {
    await cluster.client.submitJob(spec('default'), 'q.yaml');
    const runs = Array.from({ length: QUEUED }, (_, i) => ({ meta: { i: String(i + 1) } }));
    const r = await cluster.client.dispatch('q', runs);
    expect(r.total).toBe(QUEUED);

    // while the first runs go, page through all 10,000 (runs start and end between pages)
    const seen = new Set<string>();
    let pages = 0;
    let cursor: string | undefined;
    do {
      const page = await cluster.client.runsPage('q', 'default', { limit: 250, cursor });
      for (const row of page.runs) {
        expect(seen.has(row.jobId)).toBe(false);
        seen.add(row.jobId);
      }
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(seen.size).toBe(QUEUED);
    expect(pages).toBe(QUEUED / 250);

    const stats = await waitFor(
      '60 runs to complete',
      async () => {
        const s = (await cluster.client.getJob('q')).summary.runs!;
        return s.states.complete >= 60 ? s : undefined;
      },
      120_000,
      250,
    );
    // the totals add up and the queue says why it waits
    expect(Object.values(stats.states).reduce((a, b) => a + b, 0)).toBe(QUEUED);
    expect(stats.states.queued).toBeGreaterThan(QUEUED - 100);
    const summary = (await cluster.client.getJob('q')).summary;
    expect(summary.blocked?.some((b) => b.dimension === 'memory')).toBe(true);

    // submission order: every run was placed no earlier than the runs before it
    const allocs: Alloc[] = [];
    for await (const a of cluster.client.allocs({ nodeId })) allocs.push(a);
    const placedAt = new Map(allocs.map((a) => [a.jobId, a.createIndex]));
    const placed: Array<{ i: number; at: number }> = [];
    for await (const row of cluster.client.runs('q', 'default')) {
      const at = placedAt.get(row.jobId);
      if (at !== undefined) placed.push({ i: Number(row.meta.i), at });
      if (placed.length >= placedAt.size) break;
    }
    expect(placed.length).toBeGreaterThanOrEqual(60);
    placed.sort((a, b) => a.i - b.i);
    for (let k = 1; k < placed.length; k++) expect(placed[k].at).toBeGreaterThanOrEqual(placed[k - 1].at);
    // the first placed are i=1, 2, ... with no gap
    expect(placed.map((p) => p.i)).toEqual(Array.from({ length: placed.length }, (_, k) => k + 1));

    // the runs' own record: each started once, in order (two at a time may swap places)
    const started = (await readFile(join(marks, 'started'), 'utf8'))
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('default '))
      .map((l) => Number(l.split(' ')[1]));
    expect(new Set(started).size).toBe(started.length);
    started.forEach((i, pos) => expect(Math.abs(i - (pos + 1))).toBeLessThanOrEqual(2));

    // the node stayed up the whole time and no alloc was lost
    const nodeEvents = await cluster.client.recentEvents({ topics: ['node'] });
    expect(nodeEvents.events.filter((e: ClusterEvent) => e.type === 'NodeDown')).toEqual([]);
    expect((await cluster.client.getNode(nodeId)).node.status).toBe('ready');
    expect(allocs.filter((a) => a.clientStatus === 'lost')).toEqual([]);
  });

  it("gives a later namespace's few runs their share before the big queue drains", async () => {
    await cluster.client.submitJob(spec('team-b'), 'b.yaml');
    const before = (await cluster.client.getJob('q')).summary.runs!.states.complete;
    await cluster.client.dispatch(
      'q',
      Array.from({ length: 10 }, (_, i) => ({ meta: { i: String(i + 1) } })),
      'team-b',
    );
    const b = await waitFor(
      "team-b's 10 runs to complete",
      async () => {
        const s = (await cluster.client.getJob('q', 'team-b')).summary.runs!;
        return s.states.complete === 10 ? s : undefined;
      },
      120_000,
      250,
    );
    expect(b.states.complete).toBe(10);
    // while team-b's 10 ran, the default namespace's queue (close to 10,000) moved on by a little only
    const a = (await cluster.client.getJob('q')).summary.runs!;
    expect(a.states.complete - before).toBeLessThan(60);
    expect(a.states.queued).toBeGreaterThan(QUEUED - 200);
    await cluster.client.stopJob('q', 'team-b');
    await cluster.client.stopJob('q');
    const stopped = await waitFor(
      'the queue to be stopped',
      async () => {
        const s = (await cluster.client.getJob('q')).summary.runs!;
        return s.states.queued === 0 && s.states.running === 0 ? s : undefined;
      },
      60_000,
      250,
    );
    expect(stopped.states.stopped + stopped.states.complete).toBe(QUEUED);
  });
});
