/**
 * Health checks end to end: a busybox httpd in a real container turns healthy
 * through an http check; one whose check points at a closed port turns
 * unhealthy, is restarted by its restart policy and, once the policy gives up,
 * fails and is replaced; an exec task is checked by a command run beside it.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alloc } from '../../src/api/types.js';
import { TestCluster, type TestAgent } from '../support/cluster.js';
import { ensureTestImage } from '../support/image.js';
import { dockerSuiteEnabled, removeContainersOfNodes, waitForJob } from '../support/e2e.js';

const enabled = await dockerSuiteEnabled();

const HTTPD = 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www';

function serviceJob(image: string, name: string, checkPort: number): string {
  return `
name: ${name}
type: service
count: 1
restart: { attempts: 1, interval: 1m, delay: 100ms, mode: fail }
tasks:
  - name: main
    driver: docker
    image: ${image}
    command: /bin/sh
    args: ["-c", ${JSON.stringify(HTTPD)}]
    kill_timeout: 1s
    resources: { cpu: 100m, memory: 32Mi }
    checks:
      - name: web
        type: http
        port: ${checkPort}
        path: /index.html
        interval: 300ms
        timeout: 1s
        retries: 2
`;
}

const first = (allocs: Alloc[]) => allocs.find((a) => a.previousAllocId === undefined);

describe.skipIf(!enabled)('health checks of docker tasks', () => {
  let cluster: TestCluster;
  let image = '';
  let nodeId = '';

  beforeAll(async () => {
    image = await ensureTestImage();
    cluster = await TestCluster.start();
    const agent = await cluster.addAgent({ name: 'health-docker', cpu: '2', memory: '1Gi', drivers: 'docker' });
    nodeId = await agent.ready();
  });
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes([nodeId]);
  });

  it('an httpd with an http check becomes healthy', async () => {
    await cluster.client.submitJob(serviceJob(image, 'web', 8080), 'web.yaml');
    const d = await waitForJob(cluster.client, 'web', (x) => x.allocs[0]?.taskStates.main?.health === 'healthy', 'task healthy');
    const main = d.allocs[0].taskStates.main;
    expect(main.state).toBe('running');
    expect(main.restarts).toBe(0);
    expect(main.checks?.web).toMatchObject({ status: 'passing', output: 'HTTP 200: ok', consecutiveFailures: 0 });
    expect(main.events.map((e) => e.type)).not.toContain('Unhealthy');
  });

  it('a task whose check finds a closed port turns unhealthy, is restarted, and is replaced once the policy gives up', async () => {
    await cluster.client.submitJob(serviceJob(image, 'deaf', 9090), 'deaf.yaml');
    const restarted = await waitForJob(cluster.client, 'deaf', (x) => (first(x.allocs)?.taskStates.main?.restarts ?? 0) > 0, 'a restart');
    const events = first(restarted.allocs)!.taskStates.main.events;
    const unhealthy = events.find((e) => e.type === 'Unhealthy');
    expect(unhealthy?.message).toMatch(/^check web failing: GET http:\/\/[\d.]+:9090\/index\.html: connect ECONNREFUSED/);
    expect(events.map((e) => e.type)).toContain('Restarting');

    // attempts: 1 — the second time it turns unhealthy the alloc fails and the scheduler places a new one
    const replaced = await waitForJob(cluster.client, 'deaf', (x) => x.allocs.some((a) => a.previousAllocId !== undefined), 'a replacement');
    const failed = first(replaced.allocs)!;
    expect(failed.clientStatus).toBe('failed');
    expect(failed.clientDescription).toMatch(/^task main unhealthy: check web failing: /);
    expect(failed.taskStates.main).toMatchObject({ state: 'dead', failed: true, restarts: 1 });
    expect(failed.taskStates.main.events.filter((e) => e.type === 'Unhealthy')).toHaveLength(2);
  });
});

describe('health checks of exec tasks', () => {
  let cluster: TestCluster;
  let agent: TestAgent;

  beforeAll(async () => {
    cluster = await TestCluster.start();
    agent = await cluster.addAgent({ name: 'health-exec', cpu: '2', memory: '1Gi', drivers: 'exec' });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a command check run beside the task makes it healthy, and restarts it when it fails', async () => {
    await cluster.client.submitJob(
      `
name: worker
type: service
restart: { attempts: 3, interval: 1m, delay: 100ms, mode: fail }
tasks:
  - name: main
    driver: exec
    command: /bin/sh
    args: ["-c", "sleep 0.5; echo up > ready; exec sleep 3600"]
    env: { WANT: up }
    kill_timeout: 1s
    resources: { cpu: 100m, memory: 32Mi }
    checks:
      - name: ready
        type: command
        command: /bin/sh
        args: ["-c", "[ \\"$(cat ready 2>/dev/null)\\" = \\"$WANT\\" ] && echo ready"]
        interval: 200ms
        timeout: 2s
        retries: 1
        start_period: 3s
`,
      'worker.yaml',
    );
    // the check reads the file relative to the task dir, with the task's env
    const healthy = await waitForJob(cluster.client, 'worker', (x) => x.allocs[0]?.taskStates.main?.health === 'healthy', 'task healthy');
    const alloc = healthy.allocs[0];
    expect(alloc.taskStates.main.checks?.ready).toMatchObject({ status: 'passing', output: 'ready' });

    // the file goes away: the next probe fails, the task is restarted and its new run makes it healthy again
    await rm(join(agent.dataDir, 'allocs', alloc.id, 'main', 'ready'));
    const again = await waitForJob(
      cluster.client,
      'worker',
      (x) => x.allocs[0]?.taskStates.main?.restarts === 1 && x.allocs[0].taskStates.main.health === 'healthy',
      'restarted and healthy again',
    );
    const main = again.allocs[0].taskStates.main;
    expect(again.allocs[0].id).toBe(alloc.id);
    expect(main.events.find((e) => e.type === 'Unhealthy')?.message).toBe('check ready failing: exit code 1');
    expect(main.state).toBe('running');
  });
});
