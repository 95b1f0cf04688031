/**
 * Networking without an overlay, end to end on a real Docker Engine: two
 * busybox httpd replicas get dynamic host ports (container port 8080), serve
 * a host volume mounted read-only, and register as service `web` once their
 * http check passes. The test dials each endpoint the registry lists; a killed
 * container drops out of the list; a second job gets the endpoints through
 * BATON_UPSTREAM_WEB.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceEndpoint, ServiceEndpointsResponse } from '../../src/api/types.js';
import { TestCluster, waitFor } from '../support/cluster.js';
import { ensureTestImage } from '../support/image.js';
import { dockerClient, dockerSuiteEnabled, readAllLogs, removeContainersOfNodes, waitForJob } from '../support/e2e.js';

const enabled = await dockerSuiteEnabled();

const HTTPD = 'if touch /www/probe 2>/dev/null; then echo www=writable; else echo www=read-only; fi; exec httpd -f -p 8080 -h /www';

function webJob(image: string): string {
  return `
name: web
type: service
count: 2
restart: { attempts: 5, interval: 1m, delay: 1s, mode: fail }
tasks:
  - name: main
    driver: docker
    image: ${image}
    command: /bin/sh
    args: ["-c", ${JSON.stringify(HTTPD)}]
    kill_timeout: 1s
    resources: { cpu: 100m, memory: 32Mi }
    ports: [{ name: http, to: 8080 }]
    service: { name: web, port: http, tags: [v1] }
    # the node offers site read-only, so the job must mount it read-only to be placed there
    volumes: [{ volume: site, destination: /www, read_only: true }]
    checks:
      - name: index
        type: http
        port: 8080
        path: /index.html
        interval: 300ms
        timeout: 1s
        retries: 2
`;
}

function clientJob(image: string): string {
  return `
name: caller
type: batch
tasks:
  - name: main
    driver: docker
    image: ${image}
    command: /bin/sh
    args: ["-c", "echo \\"BATON_UPSTREAM_WEB=$BATON_UPSTREAM_WEB\\""]
    resources: { cpu: 100m, memory: 16Mi }
    upstreams: [{ service: web }]
`;
}

const addrs = (eps: ServiceEndpoint[]) => eps.map((e) => `${e.address}:${e.port}`).sort();

describe.skipIf(!enabled)('networking: ports, service registry, upstreams, host volumes', () => {
  let cluster: TestCluster;
  let image = '';
  let nodeId = '';
  let address = '';

  beforeAll(async () => {
    image = await ensureTestImage();
    cluster = await TestCluster.start();
    const site = await cluster.tempDir('site');
    await writeFile(`${site}/index.html`, 'hello from the host volume\n');
    const agent = await cluster.addAgent({ name: 'net', cpu: '2', memory: '1Gi', drivers: 'docker', extra: ['--volume', `site=${site}:ro`] });
    nodeId = await agent.ready();
    const node = (await cluster.client.getNode(nodeId)).node;
    address = node.address ?? '';
    expect(node.volumes).toEqual({ site: { path: site, readOnly: true } });
    expect(node.portRange).toEqual({ from: 20000, to: 32000 });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes([nodeId]);
  });

  it('lists both healthy replicas under service web, each answering at address:port, serving the read-only volume', async () => {
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await cluster.client.submitJob(webJob(image), 'web.yaml');
    const res = await waitFor(
      'two web endpoints',
      async () => {
        const r = await cluster.client.serviceEndpoints('web');
        return r.endpoints.length === 2 ? r : undefined;
      },
      60_000,
      200,
    );
    const allocs = (await cluster.client.listAllocs({ jobId: 'web' })).filter((a) => a.clientStatus === 'running');
    expect(res.endpoints.map((e) => e.allocId).sort()).toEqual(allocs.map((a) => a.id).sort());
    for (const e of res.endpoints) {
      const a = allocs.find((x) => x.id === e.allocId)!;
      expect(e).toMatchObject({
        service: 'web',
        namespace: 'default',
        jobId: 'web',
        task: 'main',
        nodeId,
        address,
        port: a.ports!.main.http.host,
        tags: ['v1'],
      });
      expect(e.port).toBeGreaterThanOrEqual(20000);
      expect(e.port).toBeLessThanOrEqual(32000);
      const body = await fetch(`http://${e.address}:${e.port}/index.html`).then((r) => r.text());
      expect(body).toBe('hello from the host volume\n');
      expect(await readAllLogs(cluster.client, a, 'main', 'stdout')).toContain('www=read-only\n');
      // the task knows its own ports: the container port inside, the node's address and host port for others
      const info = await dockerClient().getContainer(`baton-${a.id}-main`).inspect();
      expect(info.Config.Env).toEqual(expect.arrayContaining(['BATON_PORT_HTTP=8080', `BATON_ADDR_HTTP=${address}:${e.port}`]));
    }
    expect(await cluster.client.listServices()).toEqual([{ name: 'web', namespace: 'default', tags: ['v1'], healthy: 2 }]);
  });

  it('drops the endpoint of a killed container from a blocking watch', async () => {
    let res = await cluster.client.serviceEndpoints('web');
    expect(res.endpoints).toHaveLength(2);
    const victim = res.endpoints[0];
    await dockerClient().getContainer(`baton-${victim.allocId}-main`).kill();
    // each answer comes when the list changed; the endpoint may come back once the task restarted
    res = await waitFor(
      'the killed endpoint to drop',
      async () => {
        const next: ServiceEndpointsResponse = await cluster.client.serviceEndpoints('web', { index: res.index, waitMs: 5000 });
        if (next.index > res.index) res = next;
        return next.endpoints.every((e) => e.allocId !== victim.allocId) ? next : undefined;
      },
      60_000,
      0,
    );
    expect(res.endpoints).toHaveLength(1);
    expect(res.endpoints[0].allocId).not.toBe(victim.allocId);
    // the restart policy brings it back in the same alloc, on the same host port
    const back = await waitFor(
      'two endpoints again',
      async () => {
        const r = await cluster.client.serviceEndpoints('web');
        return r.endpoints.length === 2 ? r : undefined;
      },
      60_000,
      200,
    );
    expect(back.endpoints.map((e) => e.allocId)).toContain(victim.allocId);
  });

  it('gives a job with upstreams: [web] both endpoints in BATON_UPSTREAM_WEB', async () => {
    const web = await waitFor(
      'two endpoints',
      async () => {
        const r = await cluster.client.serviceEndpoints('web');
        return r.endpoints.length === 2 ? r : undefined;
      },
      60_000,
      200,
    );
    await cluster.client.submitJob(clientJob(image), 'caller.yaml');
    const done = await waitForJob(cluster.client, 'caller', (d) => d.allocs[0]?.clientStatus === 'complete', 'caller complete');
    const out = await readAllLogs(cluster.client, done.allocs[0], 'main', 'stdout');
    process.stdout.write(`caller printed: ${out}`);
    const m = /^BATON_UPSTREAM_WEB=(.*)$/m.exec(out);
    expect(m).not.toBeNull();
    expect(m![1].split(',').sort()).toEqual(addrs(web.endpoints));
  });
});
