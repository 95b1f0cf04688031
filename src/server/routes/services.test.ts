/**
 * The service registry: computed from allocs, specs and nodes (pure), and
 * through the real HTTP API with the test playing the agent: an endpoint
 * appears once its alloc is healthy, a blocking watch answers when it drops,
 * and the agent route answers node secrets only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentAlloc, Alloc, JobSpec, RegisterNodeRequest, TaskState } from '../../api/types.js';
import { AgentClient } from '../../client/agent-client.js';
import { BatonClient } from '../../client/client.js';
import type { RunningServer } from '../server.js';
import { nodeRequest, startTestServer, until, type TestServer } from '../server.fixture.js';
import { computeRegistry } from './services.js';

const MiB = 1024 * 1024;

function spec(name: string, service?: { name: string; port: string; tags: string[] }): JobSpec {
  return {
    name,
    namespace: 'default',
    type: 'service',
    count: 1,
    priority: 50,
    constraints: [],
    scheduling: 'binpack',
    tasks: [
      {
        name: 'main',
        driver: 'docker',
        image: 'x',
        args: [],
        env: {},
        resources: { cpu: 100, memory: 32 * MiB, disk: 0 },
        killSignal: 'SIGTERM',
        killTimeoutMs: 1000,
        ports: [{ name: 'http', to: 8080 }],
        ...(service ? { service } : {}),
      },
    ],
    retry: { attempts: 0, delayMs: 0, maxDelayMs: 0 },
    restart: { attempts: 0, intervalMs: 60_000, delayMs: 0, mode: 'fail' },
    meta: {},
    preempt: false,
  };
}

function alloc(id: string, p: Partial<Alloc>): Alloc {
  return {
    id,
    namespace: 'default',
    jobId: 'web',
    jobVersion: 1,
    name: 'web[0]',
    index: 0,
    nodeId: 'n1',
    nodeName: 'one',
    evalId: 'e',
    desiredStatus: 'run',
    desiredDescription: '',
    clientStatus: 'running',
    clientDescription: '',
    resources: { cpu: 100, memory: 32 * MiB, disk: 0 },
    taskStates: {},
    attempt: 0,
    healthy: true,
    ports: { main: { http: { host: 20000 + Number(id.slice(1)), to: 8080 } } },
    createIndex: 1,
    modifyIndex: 1,
    createdAt: '',
    modifiedAt: '',
    ...p,
  };
}

describe('computeRegistry', () => {
  const web = spec('web', { name: 'web', port: 'http', tags: ['v1', 'http'] });
  const nodes = new Map([
    ['n1', { name: 'one', address: '10.0.0.1' }],
    ['n2', { name: 'two', address: undefined }],
  ]);

  it('lists healthy running allocs at their node address and host port; summaries count the healthy', () => {
    const allocs = [
      alloc('a2', { nodeId: 'n2' }),
      alloc('a1', {}),
      alloc('a3', { healthy: false }),
      alloc('a4', { desiredStatus: 'stop' }),
      alloc('a5', { clientStatus: 'complete' }),
      alloc('a6', { ports: undefined }),
      alloc('a7', { jobId: 'batch' }),
    ];
    const view = computeRegistry(allocs, (a) => (a.jobId === 'web' ? web : spec('batch')), nodes);
    expect(view.endpoints.map((e) => [e.allocId, e.address, e.port, e.nodeName])).toEqual([
      ['a1', '10.0.0.1', 20001, 'one'],
      // a node that never said its address: loopback, right for a single-machine cluster
      ['a2', '127.0.0.1', 20002, 'two'],
    ]);
    expect(view.endpoints[0]).toMatchObject({ service: 'web', namespace: 'default', jobId: 'web', task: 'main', nodeId: 'n1', tags: ['v1', 'http'] });
    expect(view.summaries).toEqual([{ name: 'web', namespace: 'default', tags: ['http', 'v1'], healthy: 2 }]);
  });

  it('uses a static port when the alloc carries no assignment', () => {
    const s = spec('web', { name: 'web', port: 'http', tags: [] });
    s.tasks[0].ports = [{ name: 'http', static: 8080 }];
    const view = computeRegistry([alloc('a1', { ports: undefined })], () => s, nodes);
    expect(view.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['10.0.0.1:8080']);
  });
});

function nodeReq(name: string, address: string): RegisterNodeRequest {
  return nodeRequest(name, { drivers: { docker: { healthy: true, detail: 'test' } }, address, portRange: { from: 20000, to: 20100 } });
}

const WEB = `name: web
type: service
tasks:
  - name: main
    driver: docker
    image: x
    resources: { memory: 32Mi }
    ports: [{ name: http, static: 8080 }]
    service: { name: web, port: http, tags: [v1] }
`;

const report = (a: AgentAlloc, main: Partial<TaskState>) => ({
  allocId: a.alloc.id,
  clientStatus: 'running' as const,
  clientDescription: 'running',
  taskStates: { main: { state: 'running' as const, failed: false, restarts: 0, events: [], ...main } },
});

describe('service routes', () => {
  let t: TestServer;
  let server: RunningServer;
  let client: BatonClient;

  beforeEach(async () => {
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 64 });
    ({ server, client } = t);
  });
  afterEach(() => t.close());

  it('registers a healthy alloc, drops it when unhealthy, and wakes a blocking watch', async () => {
    const agent = new AgentClient(server.url, server.joinToken);
    const reg = await agent.register(nodeReq('one', '10.0.0.1'));
    agent.useToken(reg.secret);
    await client.submitJob(WEB, 'web.yaml');
    const aa = await until(async () => (await agent.allocs(0, 0)).allocs[0], 'placement');

    // running but its checks not passed yet: declared, not dialable
    await agent.updateAllocs([report(aa, { health: 'starting' })]);
    expect(await client.listServices()).toEqual([{ name: 'web', namespace: 'default', tags: ['v1'], healthy: 0 }]);
    const before = await client.serviceEndpoints('web');
    expect(before.endpoints).toEqual([]);

    const watch = client.serviceEndpoints('web', { index: before.index, waitMs: 10_000 });
    await agent.updateAllocs([report(aa, { health: 'healthy' })]);
    const up = await watch;
    expect(up.index).toBeGreaterThan(before.index);
    expect(up.endpoints).toEqual([
      {
        service: 'web',
        namespace: 'default',
        jobId: 'web',
        allocId: aa.alloc.id,
        task: 'main',
        nodeId: reg.nodeId,
        nodeName: 'one',
        address: '10.0.0.1',
        port: 8080,
        tags: ['v1'],
      },
    ]);
    // the agent route gives the same list to a node secret
    expect((await agent.serviceEndpoints('web', 'default')).endpoints).toEqual(up.endpoints);

    // a change that leaves the list as it was does not move its index
    await agent.updateAllocs([report(aa, { health: 'healthy', restarts: 0, events: [{ time: new Date().toISOString(), type: 'X', message: 'x' }] })]);
    expect((await client.serviceEndpoints('web')).index).toBe(up.index);
    const idle = await client.serviceEndpoints('web', { index: up.index, waitMs: 100 });
    expect(idle).toEqual(up);

    const drop = client.serviceEndpoints('web', { index: up.index, waitMs: 10_000 });
    await agent.updateAllocs([report(aa, { health: 'unhealthy' })]);
    const down = await drop;
    expect(down.endpoints).toEqual([]);
    expect(down.index).toBeGreaterThan(up.index);
    expect(await client.listServices('other')).toEqual([]);
  });

  it('keeps the agent route for agents and the user routes for tokens', async () => {
    const agent = new AgentClient(server.url, server.joinToken);
    const reg = await agent.register(nodeReq('one', '10.0.0.1'));
    const user = new BatonClient({ baseUrl: server.url, token: reg.secret });
    await expect(user.listServices()).rejects.toMatchObject({ status: 403 });
    const asUser = new AgentClient(server.url, server.adminToken);
    await expect(asUser.serviceEndpoints('web', 'default')).rejects.toMatchObject({ status: 403 });
    await expect(client.serviceEndpoints('Not A Name!')).resolves.toMatchObject({ endpoints: [] });
  });
});
