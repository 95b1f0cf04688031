/**
 * Rolling updates end to end with a real Docker Engine: four busybox httpd
 * replicas with an http check move to a new version one at a time without
 * ever dropping below three healthy; a version whose check never passes
 * fails its deployment and is reverted while the old allocs keep serving;
 * a canary waits for `promote` before the rest rolls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alloc, Deployment } from '../../src/api/types.js';
import { TestCluster, waitFor } from '../support/cluster.js';
import { ensureTestImage } from '../support/image.js';
import { dockerSuiteEnabled, removeContainersOfNodes } from '../support/e2e.js';

const enabled = await dockerSuiteEnabled();

const HTTPD = 'mkdir -p /www && echo "v$REV" > /www/index.html && exec httpd -f -p 8080 -h /www';

function webJob(image: string, rev: string, opts: { checkPort?: number; canary?: number } = {}): string {
  return `
name: web
type: service
count: 4
update:
  max_parallel: 1
  min_healthy_time: 1s
  healthy_deadline: 8s
  auto_revert: true
  canary: ${opts.canary ?? 0}
restart: { attempts: 3, interval: 1m, delay: 200ms, mode: fail }
tasks:
  - name: main
    driver: docker
    image: ${image}
    command: /bin/sh
    args: ["-c", ${JSON.stringify(HTTPD)}]
    env: { REV: "${rev}" }
    kill_timeout: 1s
    resources: { cpu: 50m, memory: 16Mi }
    checks:
      - name: web
        type: http
        port: ${opts.checkPort ?? 8080}
        path: /index.html
        interval: 200ms
        timeout: 1s
        retries: 1
`;
}

/** allocs meant to run that pass their checks right now */
const serving = (allocs: Alloc[]): Alloc[] => allocs.filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running' && a.healthy === true);

describe.skipIf(!enabled)('deployments of a docker service', () => {
  let cluster: TestCluster;
  let image = '';
  let nodeIds: string[] = [];

  /** polls (~100 ms) until `done`, recording the fewest healthy allocs seen at any poll */
  async function watch(
    what: string,
    done: (allocs: Alloc[], deps: Deployment[]) => boolean,
    timeoutMs = 60_000,
  ): Promise<{ minHealthy: number; allocs: Alloc[]; deps: Deployment[] }> {
    let minHealthy = Number.POSITIVE_INFINITY;
    let last: { allocs: Alloc[]; deps: Deployment[] } | undefined;
    await waitFor(
      what,
      async () => {
        const [allocs, deps] = await Promise.all([
          cluster.client.listAllocs({ jobId: 'web' }),
          cluster.client.listDeployments({ jobId: 'web', namespace: 'default' }),
        ]);
        minHealthy = Math.min(minHealthy, serving(allocs).length);
        last = { allocs, deps };
        return done(allocs, deps);
      },
      timeoutMs,
      100,
    ).catch((err: Error) => {
      // say where it got stuck: the deployments and what each alloc was doing
      const state = [
        ...(last?.deps ?? []).map((d) => `deployment v${d.jobVersion} ${d.status}: ${d.statusDescription}`),
        ...(last?.allocs ?? []).map((a) => `${a.name} v${a.jobVersion} ${a.desiredStatus}/${a.clientStatus} healthy=${a.healthy} ${a.clientDescription}`),
      ];
      throw new Error(`${err.message}\n${state.join('\n')}`);
    });
    return { minHealthy, ...last! };
  }

  beforeAll(async () => {
    image = await ensureTestImage();
    cluster = await TestCluster.start();
    const a = await cluster.addAgent({ name: 'deploy-a', cpu: '2', memory: '1Gi', drivers: 'docker' });
    const b = await cluster.addAgent({ name: 'deploy-b', cpu: '2', memory: '1Gi', drivers: 'docker' });
    nodeIds = [await a.ready(), await b.ready()];
    await cluster.client.submitJob(webJob(image, '1'), 'web.yaml');
    await watch('4 healthy allocs of version 1', (allocs) => serving(allocs).filter((x) => x.jobVersion === 1).length === 4);
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes(nodeIds);
  });

  it('rolls a healthy version out one alloc at a time, never below 3 healthy', { timeout: 120_000 }, async () => {
    const r = await cluster.client.submitJob(webJob(image, '2'), 'web.yaml');
    expect(r.job.version).toBe(2);
    const end = await watch(
      'the version 2 deployment to succeed with 4 healthy allocs',
      (allocs, deps) =>
        deps[0]?.jobVersion === 2 && deps[0].status === 'successful' && serving(allocs).length === 4 && serving(allocs).every((a) => a.jobVersion === 2),
    );
    expect(end.minHealthy).toBeGreaterThanOrEqual(3);
    expect(end.deps[0]).toMatchObject({ status: 'successful', placedAllocs: 4, healthyAllocs: 4, desiredTotal: 4 });
    // every version 2 alloc joined the deployment, and replaced a version 1 alloc of its index
    const v2 = serving(end.allocs);
    expect(v2.every((a) => a.deploymentId === end.deps[0].id && a.previousAllocId !== undefined)).toBe(true);
    expect(end.allocs.filter((a) => a.jobVersion === 1).every((a) => a.desiredStatus === 'stop')).toBe(true);
  });

  it('fails a version whose check never passes, reverts it, and the old allocs keep serving', { timeout: 120_000 }, async () => {
    const r = await cluster.client.submitJob(webJob(image, '3', { checkPort: 9999 }), 'web.yaml');
    expect(r.job.version).toBe(3);
    const end = await watch('the version 3 deployment to fail and revert', (allocs, deps) => {
      const d = deps.find((x) => x.jobVersion === 3);
      return (
        d?.status === 'failed' &&
        d.revertedTo !== undefined &&
        serving(allocs).length === 4 &&
        allocs.every((a) => a.jobVersion !== 3 || a.clientStatus === 'failed' || a.desiredStatus === 'stop')
      );
    });
    expect(end.minHealthy).toBeGreaterThanOrEqual(3);
    const failed = end.deps.find((x) => x.jobVersion === 3)!;
    expect(failed.revertedTo).toBe(2);
    expect(failed.statusDescription).toMatch(/reverted to version 2 \(now version 4\)/);
    // only one bad alloc was ever placed (max_parallel 1), and the version 2 allocs carry on as version 4 without a restart
    expect(end.allocs.filter((a) => a.jobVersion === 3)).toHaveLength(1);
    const now = serving(end.allocs);
    expect(now.map((a) => a.jobVersion)).toEqual([4, 4, 4, 4]);
    expect(now.every((a) => a.deploymentId !== undefined && a.taskStates.main.restarts === 0)).toBe(true);
    const job = await cluster.client.getJob('web');
    expect(job.job.version).toBe(4);
    expect(job.job.spec.tasks[0].env.REV).toBe('2');

    const history = await cluster.client.jobVersions('web');
    // version 4 needed no deployment: every index already ran its spec
    expect(history.versions.map((v) => [v.version, v.deployment?.status])).toEqual([
      [4, undefined],
      [3, 'failed'],
      [2, 'successful'],
      [1, undefined],
    ]);
  });

  it('a canary waits for promotion, then the rest rolls', { timeout: 120_000 }, async () => {
    const r = await cluster.client.submitJob(webJob(image, '5', { canary: 1 }), 'web.yaml');
    const version = r.job.version;
    const waiting = await watch(
      'one healthy canary, waiting for promotion',
      (allocs, deps) =>
        deps[0]?.jobVersion === version && deps[0].statusDescription === 'waiting for promotion' && serving(allocs).some((a) => a.canary === true),
    );
    const dep = waiting.deps[0];
    expect(dep).toMatchObject({ status: 'running', desiredCanaries: 1, promoted: false });
    expect(dep.canaries).toHaveLength(1);
    // the canary runs beside all four old allocs
    expect(serving(waiting.allocs).filter((a) => a.jobVersion !== version)).toHaveLength(4);
    // nothing else moves while it waits
    await new Promise((res) => setTimeout(res, 2000));
    const still = await cluster.client.listAllocs({ jobId: 'web' });
    expect(still.filter((a) => a.jobVersion === version)).toHaveLength(1);
    expect((await cluster.client.getDeployment(dep.id.slice(0, 8))).status).toBe('running');

    const promoted = await cluster.client.promoteDeployment(dep.id);
    expect(promoted.promoted).toBe(true);
    const end = await watch(
      'the promoted deployment to succeed',
      (allocs, deps) =>
        deps[0]?.id === dep.id && deps[0].status === 'successful' && serving(allocs).length === 4 && serving(allocs).every((a) => a.jobVersion === version),
    );
    expect(end.minHealthy).toBeGreaterThanOrEqual(4);
    expect(serving(end.allocs).filter((a) => a.canary)).toHaveLength(1);
  });
});
