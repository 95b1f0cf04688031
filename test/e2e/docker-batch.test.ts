/**
 * A batch job of several containers on a real Docker Engine completes, and its
 * logs stay readable after it ended and after its node is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { ensureTestImage } from '../support/image.js';
import { dockerSuiteEnabled, readAllLogs, removeContainersOfNodes, waitForJob } from '../support/e2e.js';

const enabled = await dockerSuiteEnabled();

describe.skipIf(!enabled)('docker batch job end to end', () => {
  let cluster: TestCluster;
  let image: string;
  let nodeId: string;

  beforeAll(async () => {
    image = await ensureTestImage();
    cluster = await TestCluster.start();
    const agent = await cluster.addAgent({ name: 'dock-1', cpu: '2', memory: '2Gi', drivers: 'docker' });
    nodeId = await agent.ready();
  });
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes([nodeId]);
  });

  it('runs every container to completion and keeps their logs after the node is gone', async () => {
    const source = `
name: greet
type: batch
count: 3
tasks:
  - name: main
    driver: docker
    image: ${image}
    command: /bin/sh
    args: ["-c", "echo out-$BATON_ALLOC_INDEX; echo err-$BATON_ALLOC_INDEX >&2; sleep 1"]
    resources: { cpu: 200m, memory: 32Mi }
`;
    const res = await cluster.client.submitJob(source, 'greet.yaml');
    expect(res.job.id).toBe('greet');
    const done = await waitForJob(cluster.client, 'greet', (d) => d.summary.status === 'complete', 'complete');
    const finished = done.allocs.filter((a) => a.clientStatus === 'complete');
    expect(finished.map((a) => a.index).sort()).toEqual([0, 1, 2]);
    for (const a of finished) {
      expect(a.nodeId).toBe(nodeId);
      expect(a.taskStates.main.exitCode).toBe(0);
    }

    // the node goes away for good; the logs live on the server
    await cluster.agents[0].kill();
    for (const a of finished) {
      expect(await readAllLogs(cluster.client, a, 'main', 'stdout')).toBe(`out-${a.index}\n`);
      expect(await readAllLogs(cluster.client, a, 'main', 'stderr')).toBe(`err-${a.index}\n`);
    }
  });
});
