/**
 * Operating services on real exec agents: a drain moves a service off a node
 * while it stays available, a system job follows a node that joins, and
 * scaling keeps the running allocs in place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alloc } from '../../src/api/types.js';
import { TestCluster, waitFor, type TestAgent } from '../support/cluster.js';
import { running, waitForJob } from '../support/e2e.js';

describe('drain, system jobs and scaling', () => {
  let cluster: TestCluster;
  let a: TestAgent;
  let b: TestAgent;
  let aId = '';
  let bId = '';

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    a = await cluster.addAgent({ name: 'drain-a', cpu: '2', memory: '1Gi', drivers: 'exec' });
    b = await cluster.addAgent({ name: 'drain-b', cpu: '2', memory: '1Gi', drivers: 'exec' });
    aId = await a.ready();
    bId = await b.ready();
  });
  afterAll(async () => cluster?.stop());

  const service = (name: string, count: number) =>
    `name: ${name}\ntype: service\ncount: ${count}\nscheduling: spread\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["600"]\n    kill_timeout: 500ms\n    resources: { cpu: 100m, memory: 64Mi }\n`;

  it('scales a service in place: running allocs keep going, one more starts', async () => {
    await cluster.client.submitJob(service('scaled', 2), 'scaled.yaml');
    const before = running((await waitForJob(cluster.client, 'scaled', (d) => running(d.allocs).length === 2, '2 running')).allocs);
    const res = await cluster.client.scaleJob('scaled', 3);
    expect(res.job.version).toBe(2);
    const after = running((await waitForJob(cluster.client, 'scaled', (d) => running(d.allocs).length === 3, '3 running')).allocs);
    for (const x of before) expect(after.map((y) => y.id)).toContain(x.id);
    expect(after.every((x) => x.jobVersion === 2)).toBe(true);
    await cluster.client.stopJob('scaled');
    await waitForJob(cluster.client, 'scaled', (d) => running(d.allocs).length === 0 && d.summary.status === 'stopped', 'stopped');
    // started again: the same spec, a new version, count allocs running
    const again = await cluster.client.startJob('scaled');
    expect(again.job.version).toBe(3);
    await waitForJob(cluster.client, 'scaled', (d) => running(d.allocs).length === 3, 'running again');
    await expect(cluster.client.startJob('scaled')).rejects.toMatchObject({ status: 409 });
    await cluster.client.stopJob('scaled');
  });

  it('drains a node: its service allocs move to the other node, never fewer than count running', async () => {
    await cluster.client.submitJob(service('web', 2), 'web.yaml');
    const start = await waitForJob(cluster.client, 'web', (d) => running(d.allocs).length === 2, '2 running');
    expect(new Set(running(start.allocs).map((x) => x.nodeId))).toEqual(new Set([aId, bId]));
    await cluster.client.drainNode('drain-a', { deadline: '1m' });
    let minRunning = 2;
    const moved = await waitFor('the service to leave drain-a', async () => {
      const d = await cluster.client.getJob('web');
      const r = running(d.allocs);
      minRunning = Math.min(minRunning, r.filter((x) => x.clientStatus === 'running').length);
      return r.length === 2 && r.every((x) => x.nodeId === bId) && !d.allocs.some((x: Alloc) => x.nodeId === aId && x.clientStatus === 'running') ? d : undefined;
    }, 60_000, 50);
    expect(minRunning).toBeGreaterThanOrEqual(2);
    const replaced = moved.allocs.find((x) => x.nodeId === aId)!;
    expect(moved.allocs.some((x) => x.previousAllocId === replaced.id)).toBe(true);
    const node = await waitFor('the drain to finish', async () => {
      const n = (await cluster.client.getNode('drain-a')).node;
      return n.drain ? undefined : n;
    }, 30_000);
    expect(node.eligibility).toBe('ineligible');
    await cluster.client.setEligibility('drain-a', true);
    await cluster.client.stopJob('web');
  });

  it('runs a system job on every node, including one that joins later', async () => {
    await cluster.client.submitJob(
      'name: sidecar\ntype: system\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["600"]\n    kill_timeout: 500ms\n    resources: { cpu: 100m, memory: 32Mi }\n',
      'sidecar.yaml',
    );
    await waitForJob(cluster.client, 'sidecar', (d) => running(d.allocs).length === 2, 'one per node');
    const c = await cluster.addAgent({ name: 'drain-c', cpu: '2', memory: '1Gi', drivers: 'exec' });
    const cId = await c.ready();
    const d = await waitForJob(cluster.client, 'sidecar', (x) => running(x.allocs).length === 3, 'one on the new node too');
    expect(new Set(running(d.allocs).map((x) => x.nodeId))).toEqual(new Set([aId, bId, cId]));
    await cluster.client.setEligibility('drain-c', false);
    await waitForJob(cluster.client, 'sidecar', (x) => running(x.allocs).length === 2 && !running(x.allocs).some((y) => y.nodeId === cId), 'gone from the ineligible node');
  });
});
