/**
 * Helpers shared by the end-to-end suites: whether Docker must be there, how
 * to wait for a job, how to read every byte of an alloc's logs, and cleanup of
 * containers a killed agent left behind.
 */
import Docker from 'dockerode';
import type { Alloc, JobDetail, LogStream } from '../../src/api/types.js';
import type { BatonClient } from '../../src/client/client.js';
import { Cgroups } from '../../src/drivers/cgroups.js';
import { dockerAvailable } from './image.js';
import { waitFor } from './cluster.js';

export const dockerRequired = process.env.BATON_REQUIRE_DOCKER === '1';

/** true when docker suites should run; throws in CI when Docker is missing */
export async function dockerSuiteEnabled(): Promise<boolean> {
  const ok = await dockerAvailable();
  if (!ok && dockerRequired) throw new Error(`BATON_REQUIRE_DOCKER=1 but no Docker Engine answers at ${process.env.DOCKER_HOST || '/var/run/docker.sock'}`);
  return ok;
}

/**
 * true when suites that need cgroup memory limits should run: the same
 * question the exec driver asks (can it make baton's cgroup and does the
 * memory controller reach it), not whether a file exists. Throws in CI
 * (BATON_REQUIRE_CGROUPS=1) when they are not usable.
 */
export function cgroupsSuiteEnabled(): boolean {
  const cgroups = new Cgroups();
  if (cgroups.version !== 'none') return true;
  if (process.env.BATON_REQUIRE_CGROUPS === '1')
    throw new Error(`BATON_REQUIRE_CGROUPS=1 but cgroups are not usable: ${cgroups.reason ?? 'no cgroup hierarchy found'}`);
  return false;
}

export async function waitForJob(client: BatonClient, jobId: string, pred: (d: JobDetail) => boolean, what: string, timeoutMs = 60_000): Promise<JobDetail> {
  return waitFor(
    `${jobId}: ${what}`,
    async () => {
      const d = await client.getJob(jobId, 'default');
      return pred(d) ? d : undefined;
    },
    timeoutMs,
    200,
  );
}

export async function readAllLogs(client: BatonClient, alloc: Alloc, task: string, stream: LogStream): Promise<string> {
  let offset = 0;
  let out = '';
  for (;;) {
    const r = await client.readLogs(alloc.id, { task, stream, offset });
    out += r.data;
    if (r.nextOffset === offset) return out;
    offset = r.nextOffset;
  }
}

const docker = new Docker();

export async function containersOfNode(nodeId: string, all = false): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all, filters: { label: [`baton.node_id=${nodeId}`] } });
}

export async function removeContainersOfNodes(nodeIds: string[]): Promise<void> {
  for (const id of nodeIds) {
    for (const c of await containersOfNode(id, true).catch(() => [])) {
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    }
  }
}

export function dockerClient(): Docker {
  return docker;
}

export function running(allocs: Alloc[]): Alloc[] {
  return allocs.filter((a) => a.clientStatus === 'running' && a.desiredStatus === 'run');
}
