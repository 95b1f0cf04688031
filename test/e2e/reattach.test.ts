/**
 * An agent that dies and restarts while its tasks run re-attaches to them:
 * same containers (or processes), same allocs, no duplicates.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from '../support/cluster.js';
import { ensureTestImage } from '../support/image.js';
import { containersOfNode, dockerSuiteEnabled, removeContainersOfNodes, running, waitForJob } from '../support/e2e.js';

const docker = await dockerSuiteEnabled();

let probes = 0;
/**
 * A batch run on that node, waited for until complete: the agent handles its
 * alloc lists in order, so by then it has acted on the ones before (the first
 * after a restart, which would start any duplicate). A positive signal, where
 * a sleep would let a late duplicate pass.
 */
async function probe(cluster: TestCluster, node: string, driver: 'exec' | 'docker', image?: string): Promise<void> {
  const name = `probe-${++probes}`;
  const task = driver === 'docker' ? `driver: docker\n    image: ${image}\n    command: /bin/true` : 'driver: exec\n    command: /bin/true';
  await cluster.client.submitJob(
    `name: ${name}\ntype: batch\nconstraints:\n  - { attribute: "\${node.name}", value: ${node} }\ntasks:\n  - name: main\n    ${task}\n    resources: { cpu: 10m, memory: 16Mi }\n`,
    `${name}.yaml`,
  );
  await waitForJob(cluster.client, name, (d) => d.job.status === 'complete', `${name} complete`);
}

describe.skipIf(!docker)('agent restart re-attaches to running containers', () => {
  let cluster: TestCluster;
  let nodeId = '';
  let image = '';

  beforeAll(async () => {
    image = await ensureTestImage();
    // a long TTL: the restart must not look like a node loss
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    nodeId = await (await cluster.addAgent({ name: 'sticky', cpu: '2', memory: '1Gi', drivers: 'docker' })).ready();
    await cluster.client.submitJob(
      `name: keep\ntype: service\ncount: 3\ntasks:\n  - name: main\n    driver: docker\n    image: ${image}\n    command: /bin/sleep\n    args: ["3600"]\n    kill_timeout: 1s\n    resources: { cpu: 100m, memory: 32Mi }\n`,
      'keep.yaml',
    );
    await waitForJob(cluster.client, 'keep', (d) => running(d.allocs).length === 3, '3 running');
  });
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes([nodeId]);
  });

  it('keeps the same three containers and allocs across a crash of the agent', async () => {
    const allocsBefore = running((await cluster.client.getJob('keep', 'default')).allocs)
      .map((a) => a.id)
      .sort();
    const containersBefore = (await containersOfNode(nodeId)).map((c) => c.Id).sort();
    expect(containersBefore).toHaveLength(3);

    const agent = cluster.agents[0];
    await agent.kill();
    agent.start();
    expect(await agent.ready()).toBe(nodeId);

    // the restarted agent has taken up its first alloc list once a run placed after it has run
    await probe(cluster, 'sticky', 'docker', image);
    // every container of the job, exited ones too (a duplicate that ran and stopped counts);
    // the probe's own may still be there, exited, since the agent removes it after the server knows it ended
    const containersAfter = (await containersOfNode(nodeId, true))
      .filter((c) => c.Labels['baton.job'] === 'keep')
      .map((c) => c.Id)
      .sort();
    expect(containersAfter).toEqual(containersBefore);
    const allocsAfter = running((await cluster.client.getJob('keep', 'default')).allocs)
      .map((a) => a.id)
      .sort();
    expect(allocsAfter).toEqual(allocsBefore);
  });
});

describe('agent restart re-attaches to running exec processes', () => {
  let cluster: TestCluster;
  let marks = '';

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    marks = await cluster.tempDir('marks');
    await cluster.addAgent({ name: 'sticky-exec', cpu: '2', memory: '1Gi', drivers: 'exec' });
    const script = `echo $$ >> ${marks}/$BATON_ALLOC_ID; exec sleep 3600`;
    await cluster.client.submitJob(
      `name: keep-exec\ntype: service\ncount: 2\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n    kill_timeout: 1s\n    resources: { cpu: 100m, memory: 32Mi }\n`,
      'keep-exec.yaml',
    );
    await waitForJob(cluster.client, 'keep-exec', (d) => running(d.allocs).length === 2, '2 running');
  });
  afterAll(async () => cluster?.stop());

  it('does not start a second process for a running task', async () => {
    const before = running((await cluster.client.getJob('keep-exec', 'default')).allocs);
    const agent = cluster.agents[0];
    await agent.kill();
    agent.start();
    await agent.ready();
    await probe(cluster, 'sticky-exec', 'exec');
    const after = running((await cluster.client.getJob('keep-exec', 'default')).allocs);
    expect(after.map((a) => a.id).sort()).toEqual(before.map((a) => a.id).sort());
    for (const a of after) {
      // one line per start of the task: exactly one start, and that process is alive
      const pids = (await readFile(`${marks}/${a.id}`, 'utf8')).trim().split('\n');
      expect(pids).toHaveLength(1);
      expect(() => process.kill(Number(pids[0]), 0)).not.toThrow();
    }
  });

  it('times a run that ended while the agent was down by its exit, not by when the agent came back', { timeout: 60_000 }, async () => {
    const script = `sleep 1.5; touch ${marks}/ended-$BATON_ALLOC_ID; exit 0`;
    await cluster.client.submitJob(
      `name: short\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n    resources: { cpu: 100m, memory: 32Mi }\n`,
      'short.yaml',
    );
    const [a] = running((await waitForJob(cluster.client, 'short', (d) => running(d.allocs).length === 1, 'running')).allocs);
    const agent = cluster.agents[0];
    await agent.kill();
    // the run ends while no agent watches, and stays unnoticed for 3 s more
    const ended = await waitFor(
      'the run to end',
      async () => {
        try {
          await readFile(`${marks}/ended-${a.id}`);
          return Date.now();
        } catch {
          return undefined;
        }
      },
      20_000,
      50,
    );
    await new Promise((r) => setTimeout(r, 3000));
    agent.start();
    await agent.ready();
    const done = await waitForJob(cluster.client, 'short', (d) => d.allocs[0]?.clientStatus === 'complete', 'complete');
    const t = done.allocs[0].taskStates.main;
    const finished = Date.parse(t.finishedAt!);
    expect(Math.abs(finished - ended)).toBeLessThan(1000);
    expect(finished - Date.parse(t.startedAt!)).toBeLessThan(3000);
  });
});
