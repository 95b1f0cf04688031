/**
 * A service of 3 replicas on two docker agents is kept at 3: after one of its
 * containers is killed, and after a whole agent is killed (its replicas come
 * back on the other node). When the dead agent returns, the containers it still
 * runs that were replaced meanwhile are stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor, type TestAgent } from '../support/cluster.js';
import { ensureTestImage } from '../support/image.js';
import { containersOfNode, dockerClient, dockerSuiteEnabled, removeContainersOfNodes, running, waitForJob } from '../support/e2e.js';

const enabled = await dockerSuiteEnabled();

describe.skipIf(!enabled)('a replicated service stays at its count', () => {
  let cluster: TestCluster;
  let a: TestAgent;
  let b: TestAgent;
  const nodeIds: string[] = [];

  beforeAll(async () => {
    const image = await ensureTestImage();
    cluster = await TestCluster.start({ heartbeatTtl: '3s' });
    a = await cluster.addAgent({ name: 'svc-a', cpu: '2', memory: '1Gi', drivers: 'docker' });
    b = await cluster.addAgent({ name: 'svc-b', cpu: '2', memory: '1Gi', drivers: 'docker' });
    nodeIds.push(await a.ready(), await b.ready());
    await cluster.client.submitJob(
      `
name: web
type: service
count: 3
scheduling: spread
restart: { attempts: 0, interval: 1m, delay: 1s, mode: fail }
tasks:
  - name: main
    driver: docker
    image: ${image}
    command: /bin/sleep
    args: ["3600"]
    kill_timeout: 1s
    resources: { cpu: 100m, memory: 64Mi }
`,
      'web.yaml',
    );
    await waitForJob(cluster.client, 'web', (d) => running(d.allocs).length === 3, '3 replicas running');
  });
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes(nodeIds);
  });

  it('replaces a replica whose container was killed', async () => {
    const before = running((await cluster.client.getJob('web', 'default')).allocs);
    const victim = before[0];
    const [container] = await dockerClient().listContainers({ filters: { label: [`baton.alloc_id=${victim.id}`] } });
    expect(container).toBeDefined();
    await dockerClient().getContainer(container.Id).kill();

    const after = await waitForJob(
      cluster.client,
      'web',
      (d) => {
        const r = running(d.allocs);
        return r.length === 3 && !r.some((x) => x.id === victim.id);
      },
      'the killed replica replaced',
    );
    const failed = after.allocs.find((x) => x.id === victim.id)!;
    expect(failed.clientStatus).toBe('failed');
    expect(running(after.allocs).some((x) => x.previousAllocId === victim.id)).toBe(true);
  });

  it('moves the replicas of a dead agent to the other node, and stops them on return', async () => {
    const bId = nodeIds[1];
    const onB = running((await cluster.client.getJob('web', 'default')).allocs).filter((x) => x.nodeId === bId);
    expect(onB.length).toBeGreaterThan(0); // spread put at least one there

    await b.kill();
    const d = await waitForJob(
      cluster.client,
      'web',
      (x) => {
        const r = running(x.allocs);
        return r.length === 3 && r.every((y) => y.nodeId === nodeIds[0]);
      },
      'all 3 replicas on the surviving node',
      60_000,
    );
    for (const lostAlloc of onB) {
      expect(d.allocs.find((x) => x.id === lostAlloc.id)!.clientStatus).toBe('lost');
    }
    const node = (await cluster.client.listNodes()).find((n) => n.id === bId)!;
    expect(node.status).toBe('down');

    // the node's watchdog stopped the dead agent's containers at the bound, before their
    // replacements could start (never two copies at once): none runs, but they are still there
    expect((await containersOfNode(bId)).length).toBe(0);
    const kept = (await containersOfNode(bId, true)).map((c) => c.Labels['baton.alloc_id']).sort();
    expect(kept).toEqual(onB.map((x) => x.id).sort());
    // the agent comes back: they were replaced, so they go
    b.start();
    await b.ready();
    await waitFor('the returned node to remove its replaced containers', async () => (await containersOfNode(bId, true)).length === 0 || undefined, 30_000);
    const final = await cluster.client.getJob('web', 'default');
    expect(running(final.allocs).length).toBe(3);
  });
});
