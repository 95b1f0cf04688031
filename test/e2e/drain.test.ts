/**
 * Operating services on real exec agents: a drain moves a service off a node
 * while it stays available, a system job follows a node that joins, and
 * scaling keeps the running allocs in place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alloc, ServiceEndpoint, ServiceEndpointsResponse } from '../../src/api/types.js';
import { ensureTestImage } from '../support/image.js';
import { TestCluster, waitFor, type TestAgent } from '../support/cluster.js';
import { containersOfNode, dockerSuiteEnabled, removeContainersOfNodes, running, waitForJob } from '../support/e2e.js';

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
    const moved = await waitFor(
      'the service to leave drain-a',
      async () => {
        const d = await cluster.client.getJob('web');
        const r = running(d.allocs);
        minRunning = Math.min(minRunning, r.filter((x) => x.clientStatus === 'running').length);
        return r.length === 2 && r.every((x) => x.nodeId === bId) && !d.allocs.some((x: Alloc) => x.nodeId === aId && x.clientStatus === 'running')
          ? d
          : undefined;
      },
      60_000,
      50,
    );
    expect(minRunning).toBeGreaterThanOrEqual(2);
    const replaced = moved.allocs.find((x) => x.nodeId === aId)!;
    expect(moved.allocs.some((x) => x.previousAllocId === replaced.id)).toBe(true);
    const node = await waitFor(
      'the drain to finish',
      async () => {
        const n = (await cluster.client.getNode('drain-a')).node;
        return n.drain ? undefined : n;
      },
      30_000,
    );
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
    await waitForJob(
      cluster.client,
      'sidecar',
      (x) => running(x.allocs).length === 2 && !running(x.allocs).some((y) => y.nodeId === cId),
      'gone from the ineligible node',
    );
  });
});

const docker = await dockerSuiteEnabled();

/**
 * The same drain on a real Docker Engine, judged from outside: while the node
 * drains, a client keeps asking the registry for `web` and fetching every
 * endpoint it lists; every round must reach at least one healthy replica, and
 * the replicas end up on the other node.
 */
describe.skipIf(!docker)('drain keeps a docker service answering', () => {
  let cluster: TestCluster;
  const nodeIds: string[] = [];

  beforeAll(async () => {
    const image = await ensureTestImage();
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    // both "nodes" are this one machine: give them separate host port ranges
    for (const [name, range] of [
      ['web-a', '21000-21099'],
      ['web-b', '22000-22099'],
    ]) {
      nodeIds.push(await (await cluster.addAgent({ name, cpu: '2', memory: '1Gi', drivers: 'docker', extra: ['--port-range', range] })).ready());
    }
    const httpd = 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www';
    await cluster.client.submitJob(
      `name: web\ntype: service\ncount: 2\nscheduling: spread\nupdate: { max_parallel: 1, min_healthy_time: 1s }\ntasks:\n  - name: main\n    driver: docker\n    image: ${image}\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(httpd)}]\n    kill_timeout: 1s\n    resources: { cpu: 100m, memory: 32Mi }\n    ports: [{ name: http, to: 8080 }]\n    service: { name: web, port: http }\n    checks: [{ type: http, port: 8080, path: /, interval: 300ms, timeout: 1s, retries: 2 }]\n`,
      'web.yaml',
    );
    await waitFor('2 healthy endpoints', async () => ((await endpoints(cluster)).length === 2 ? true : undefined), 60_000, 200);
  });
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes(nodeIds);
  });

  it('moves the replicas off the drained node while every round of requests reaches a replica', async () => {
    await cluster.client.drainNode('web-a', { deadline: '2m' });
    let rounds = 0;
    let failedRounds = 0;
    await waitFor(
      'the replicas to leave web-a',
      async () => {
        const eps = await endpoints(cluster);
        const answers = await Promise.all(
          eps.map((e) =>
            fetch(`http://${e.address}:${e.port}/`, { signal: AbortSignal.timeout(2000) }).then(
              (r) => r.ok,
              () => false,
            ),
          ),
        );
        rounds++;
        if (!answers.some(Boolean)) failedRounds++;
        const d = await cluster.client.getJob('web');
        const live = running(d.allocs);
        return live.length === 2 && live.every((x) => x.nodeId === nodeIds[1]) && eps.length === 2 && eps.every((e) => e.nodeId === nodeIds[1])
          ? true
          : undefined;
      },
      90_000,
      100,
    );
    expect(rounds).toBeGreaterThan(3);
    expect(failedRounds).toBe(0);
    // the old containers are stopped once their replacements serve
    await waitFor('web-a to have no container left', async () => ((await containersOfNode(nodeIds[0])).length === 0 ? true : undefined), 30_000);
  });

  it('runs a docker system job on every node, and on a node that joins', async () => {
    await cluster.client.setEligibility('web-a', true);
    const image = await ensureTestImage();
    await cluster.client.submitJob(
      `name: agentd
type: system
tasks:
  - name: main
    driver: docker
    image: ${image}
    command: /bin/sleep
    args: ["600"]
    kill_timeout: 1s
    resources: { cpu: 100m, memory: 16Mi }
`,
      'agentd.yaml',
    );
    await waitForJob(cluster.client, 'agentd', (d) => running(d.allocs).length === 2, 'one per node');
    const c = await cluster.addAgent({ name: 'web-c', cpu: '2', memory: '1Gi', drivers: 'docker', extra: ['--port-range', '23000-23099'] });
    const cId = await c.ready();
    nodeIds.push(cId);
    const d = await waitForJob(cluster.client, 'agentd', (x) => running(x.allocs).length === 3, 'one on the new node too');
    expect(new Set(running(d.allocs).map((x) => x.nodeId))).toEqual(new Set(nodeIds));
    await waitFor('its container on web-c', async () => ((await containersOfNode(cId)).length === 1 ? true : undefined), 30_000);
  });
});

async function endpoints(cluster: TestCluster): Promise<ServiceEndpoint[]> {
  return (await cluster.client.http.request<ServiceEndpointsResponse>('GET', '/v1/services/web', { query: { namespace: 'default' } })).endpoints;
}
