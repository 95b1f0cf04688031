/**
 * A task that allocates past its memory limit is reported as OOM-killed, with
 * the limit and the peak, while a neighbour on the same node runs on unharmed:
 * once with the docker driver, once with exec under a real cgroup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { ensureTestImage } from '../support/image.js';
import { cgroupsSuiteEnabled, dockerSuiteEnabled, removeContainersOfNodes, waitForJob } from '../support/e2e.js';

const docker = await dockerSuiteEnabled();
const cgroupsWritable = cgroupsSuiteEnabled();

function hogAndNeighbour(driver: 'docker' | 'exec', image: string): { hog: string; calm: string } {
  const body = (cmd: string[]) =>
    driver === 'docker'
      ? `driver: docker\n    image: ${image}\n    command: ${cmd[0]}\n    args: ${JSON.stringify(cmd.slice(1))}`
      : `driver: exec\n    command: ${cmd[0]}\n    args: ${JSON.stringify(cmd.slice(1))}`;
  const dd = driver === 'docker' ? '/bin/dd' : '/bin/dd';
  return {
    // dd's block buffer is allocated and filled at once: 256 MiB against a 32 MiB limit
    hog: `name: hog-${driver}\ntype: batch\ntasks:\n  - name: main\n    ${body([dd, 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=4'])}\n    resources: { cpu: 200m, memory: 32Mi }\n`,
    calm: `name: calm-${driver}\ntype: batch\ntasks:\n  - name: main\n    ${body(['/bin/sh', '-c', 'sleep 4; echo still-alive'])}\n    resources: { cpu: 200m, memory: 32Mi }\n`,
  };
}

for (const driver of ['docker', 'exec'] as const) {
  const enabled = driver === 'docker' ? docker : cgroupsWritable;
  describe.skipIf(!enabled)(`OOM kill with the ${driver} driver`, () => {
    let cluster: TestCluster;
    let nodeId = '';
    beforeAll(async () => {
      const image = driver === 'docker' ? await ensureTestImage() : '';
      cluster = await TestCluster.start();
      nodeId = await (await cluster.addAgent({ name: `oom-${driver}`, cpu: '2', memory: '2Gi', drivers: driver })).ready();
      const jobs = hogAndNeighbour(driver, image);
      await cluster.client.submitJob(jobs.calm, 'calm.yaml');
      await waitForJob(cluster.client, `calm-${driver}`, (d) => d.summary.allocs.running === 1, 'neighbour running');
      await cluster.client.submitJob(jobs.hog, 'hog.yaml');
    });
    afterAll(async () => {
      await cluster?.stop();
      if (driver === 'docker') await removeContainersOfNodes([nodeId]);
    });

    it('reports the hog as OOM-killed with its limit and peak', async () => {
      const d = await waitForJob(cluster.client, `hog-${driver}`, (x) => x.summary.status === 'failed', 'failed');
      const alloc = d.allocs[0];
      expect(alloc.clientStatus).toBe('failed');
      const task = alloc.taskStates.main;
      expect(task.oomKilled).toBe(true);
      expect(task.peakMemory).toBeGreaterThan(16 * 1024 * 1024);
      expect(task.events.some((e) => e.type === 'OOMKilled')).toBe(true);
      expect(alloc.clientDescription).toMatch(/OOM/);
    });

    it('lets the neighbour finish unharmed', async () => {
      const d = await waitForJob(cluster.client, `calm-${driver}`, (x) => x.summary.status === 'complete', 'complete');
      const task = d.allocs[0].taskStates.main;
      expect(task.exitCode).toBe(0);
      expect(task.oomKilled ?? false).toBe(false);
    });
  });
}
