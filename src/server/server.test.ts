/**
 * The server through its real HTTP API, with the test playing the agent's
 * part over the agent API: registration, the blocking alloc watch, reports,
 * logs, node loss and the auth rules between nodes.
 */
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentAlloc } from '../api/types.js';
import { AgentClient } from '../client/agent-client.js';
import { BatonClient } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { createLogger } from '../util/logger.js';
import { startServer, type RunningServer } from './server.js';
import { nodeRequest, startTestServer, until, type TestServer } from './server.fixture.js';
import { storeDialects } from '../../test/support/stores.js';

const GiB = 1024 ** 3;
/** longer than any test here runs, however loaded the machine */
const LONG_TTL_MS = 60_000;

const job = (name: string, memory = '1Gi', count = 1) =>
  `name: ${name}\ntype: batch\ncount: ${count}\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { memory: ${memory} }\n`;

async function joinNode(server: RunningServer, name: string, memory?: number): Promise<{ agent: AgentClient; nodeId: string }> {
  const agent = new AgentClient(server.url, server.joinToken);
  const reg = await agent.register(nodeRequest(name, memory === undefined ? {} : { capacity: { cpu: 4000, memory, disk: 0 } }));
  agent.useToken(reg.secret);
  return { agent, nodeId: reg.nodeId };
}

const running = (a: AgentAlloc) => ({
  allocId: a.alloc.id,
  clientStatus: 'running' as const,
  clientDescription: 'running',
  taskStates: { main: { state: 'running' as const, failed: false, restarts: 0, events: [] } },
});
const complete = (a: AgentAlloc) => ({
  allocId: a.alloc.id,
  clientStatus: 'complete' as const,
  clientDescription: 'done',
  taskStates: { main: { state: 'dead' as const, failed: false, exitCode: 0, restarts: 0, events: [] } },
});

describe.each(storeDialects())('server ($dialect)', ({ fresh }) => {
  let t: TestServer;
  let server: RunningServer;
  let client: BatonClient;

  // nodes here beat only when a test says so: a TTL that a loaded machine cannot outlast mid-test,
  // except in the tests that restart the server with a short one to watch a node go silent
  beforeEach(async () => {
    const where = await fresh();
    t = await startTestServer({ heartbeatTtlMs: LONG_TTL_MS, logCapBytes: 64, ...(where.kind === 'postgres' ? { store: where.url } : {}) });
    ({ server, client } = t);
  });
  afterEach(() => t.close());

  /** the same data dir and store, served again with this TTL (after `whileStopped`, if given) */
  async function restart(heartbeatTtlMs: number, whileStopped?: () => Promise<void>): Promise<RunningServer> {
    await server.close();
    await whileStopped?.();
    server = t.server = await startServer({
      dataDir: t.dir,
      host: '127.0.0.1',
      port: 0,
      heartbeatTtlMs,
      logCapBytes: 64,
      insecureHttp: true,
      logger: createLogger('silent', 'test'),
      version: 'test',
      store: t.store,
    });
    client = new BatonClient({ baseUrl: server.url, token: server.adminToken });
    return server;
  }

  it('tells the agent its disconnect bound, and warns of a job that may run twice after a partition', async () => {
    await restart(400);
    const agent = new AgentClient(server.url, server.joinToken);
    const reg = await agent.register(nodeRequest('bound'));
    expect(reg).toMatchObject({ heartbeatTtlMs: 400, stopAfterMs: 266 });
    agent.useToken(reg.secret);
    expect(await agent.heartbeat()).toMatchObject({ heartbeatTtlMs: 400, stopAfterMs: 266 });
    const safe = await client.submitJob(
      `name: safe\ntype: batch\ndisconnect: { stop_after: 100ms }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n`,
      'safe.yaml',
    );
    expect(
      safe.warnings.filter((w) => w.includes('disconnect')),
      safe.warnings.join(),
    ).toEqual([]);
    const risky = await client.submitJob(
      `name: risky\ntype: service\ndisconnect: { stop_after: 10m, replace_after: 1m }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n`,
      'risky.yaml',
    );
    expect(risky.warnings.join()).toMatch(/stop_after outlasts the node TTL \(400ms\) plus replace_after/);
  });

  it('hands new work to a waiting agent through the blocking query', async () => {
    const { agent } = await joinNode(server, 'a');
    const first = await agent.allocs(0, 0);
    expect(first.allocs).toEqual([]);
    const watch = agent.allocs(first.index, 10_000);
    await client.submitJob(job('one'), 'one.yaml');
    const next = await watch;
    expect(next.index).toBeGreaterThan(first.index);
    expect(next.allocs.map((a) => a.alloc.name)).toEqual(['one[0]']);
    expect(next.allocs[0].job.tasks[0].command).toBe('/bin/true');
  });

  it('answers a blocking query after the wait time when nothing changed', async () => {
    const { agent } = await joinNode(server, 'a');
    const first = await agent.allocs(0, 0);
    const again = await agent.allocs(first.index, 200);
    expect(again.index).toBe(first.index);
  });

  it('never puts more memory on a node than it has, and runs queued work when memory frees', async () => {
    const { agent, nodeId } = await joinNode(server, 'a', 1 * GiB);
    await client.submitJob(job('first', '600Mi'), 'f.yaml');
    await client.submitJob(job('second', '600Mi'), 's.yaml');
    const blocked = await until(async () => (await client.getJob('second')).summary.blocked, 'second to be blocked');
    expect(blocked.find((b) => b.dimension === 'memory')).toMatchObject({ neverFits: false });
    const allocs = (await agent.allocs(0, 0)).allocs;
    expect(allocs.map((a) => a.alloc.jobId)).toEqual(['first']);
    await agent.updateAllocs([complete(allocs[0])]);
    const placed = await until(async () => {
      const list = await client.listAllocs({ jobId: 'second' });
      return list.length ? list : undefined;
    }, 'second to be placed');
    expect(placed[0].nodeId).toBe(nodeId);
    expect((await client.getJob('first')).summary.status).toBe('complete');
  });

  it('marks a silent node down, loses its allocs and places them on another node', async () => {
    await restart(400);
    const a = await joinNode(server, 'a');
    await client.submitJob(job('svc'), 'svc.yaml');
    const onA = await until(async () => (await a.agent.allocs(0, 0)).allocs[0], 'placement on a');
    await a.agent.updateAllocs([running(onA)]);
    const b = await joinNode(server, 'b');
    const beat = setInterval(() => void b.agent.heartbeat().catch(() => undefined), 100);
    try {
      const onB = await until(async () => (await b.agent.allocs(0, 0)).allocs[0], 'replacement on b');
      expect(onB.alloc.previousAllocId).toBe(onA.alloc.id);
      const lost = await client.getAlloc(onA.alloc.id);
      expect(lost).toMatchObject({ clientStatus: 'lost', desiredStatus: 'stop' });
      // alloc status links the two both ways, saying why (GET /v1/allocs/:id)
      const reason = expect.stringMatching(/^lost: node a missed its heartbeats for \d+s$/);
      expect(lost.replacedBy).toMatchObject({ id: onB.alloc.id, nodeName: 'b', reason });
      expect((await client.getAlloc(onB.alloc.id)).replaces).toMatchObject({ id: onA.alloc.id, nodeName: 'a', clientStatus: 'lost', reason });
      expect((await client.getNode(a.nodeId)).node.status).toBe('down');
      // the node comes back: it is told to stop what was replaced
      await a.agent.heartbeat();
      expect((await client.getNode(a.nodeId)).node.status).toBe('ready');
      const back = (await a.agent.allocs(0, 0)).allocs;
      expect(back.map((x) => [x.alloc.id, x.alloc.desiredStatus])).toEqual([[onA.alloc.id, 'stop']]);
    } finally {
      clearInterval(beat);
    }
  });

  it('keeps an agent to its own node', async () => {
    const a = await joinNode(server, 'a');
    const b = await joinNode(server, 'b');
    await client.submitJob(job('mine', '1Gi', 1), 'm.yaml');
    const alloc = await until(async () => (await a.agent.allocs(0, 0)).allocs[0] ?? (await b.agent.allocs(0, 0)).allocs[0], 'placement');
    const other = alloc.alloc.nodeId === a.nodeId ? b : a;
    await expect(other.agent.updateAllocs([running(alloc)])).rejects.toMatchObject({ status: 403 });
    await expect(other.agent.shipLogs([{ allocId: alloc.alloc.id, task: 'main', stream: 'stdout', data: 'x' }])).rejects.toMatchObject({ status: 403 });
    // a node secret is not an API token, and an API token cannot act as a node
    await expect(new BatonClient({ baseUrl: server.url, token: 'node_nope' }).listJobs()).rejects.toMatchObject({ status: 401 });
    await expect(new AgentClient(server.url, server.adminToken).heartbeat()).rejects.toMatchObject({ status: 403 });
    await expect(new AgentClient(server.url, server.adminToken).register(nodeRequest('x'))).rejects.toMatchObject({ status: 403 });
  });

  it('keeps the newest log bytes up to the cap and serves them by offset', async () => {
    const a = await joinNode(server, 'a');
    await client.submitJob(job('talk'), 't.yaml');
    const alloc = await until(async () => (await a.agent.allocs(0, 0)).allocs[0], 'placement');
    const line = (i: number) => `line ${String(i).padStart(2, '0')}\n`; // 8 bytes
    for (let i = 0; i < 12; i++) await a.agent.shipLogs([{ allocId: alloc.alloc.id, task: 'main', stream: 'stdout', data: line(i) }]);
    const r = await client.readLogs(alloc.alloc.id, { task: 'main' });
    // cap 64 bytes: the 8 newest lines remain
    expect(r.data).toBe(Array.from({ length: 8 }, (_, k) => line(k + 4)).join(''));
    expect(r.nextOffset).toBe(96);
    expect(r.complete).toBe(false);
    await a.agent.updateAllocs([complete(alloc)]);
    const end = await client.readLogs(alloc.alloc.id, { task: 'main', offset: 96 });
    expect(end).toEqual({ data: '', nextOffset: 96, complete: true });
  });

  it('refuses unknown tokens and bad ids with 4xx', async () => {
    await expect(new BatonClient({ baseUrl: server.url, token: 'nope' }).listJobs()).rejects.toMatchObject({ status: 401 });
    await expect(client.getJob('missing')).rejects.toMatchObject({ status: 404 });
    await expect(client.getAlloc('zz')).rejects.toMatchObject({ status: 400 });
    const err = await client.submitJob('name: x\ntype: batch\ncount: -1\ntasks: []\n', 'x.yaml').catch((e: BatonApiError) => e);
    expect(err).toBeInstanceOf(BatonApiError);
    expect((err as BatonApiError).status).toBe(400);
    expect((err as BatonApiError).details.map((d) => d.path)).toContain('count');
  });

  it('answers garbage on every route with a 4xx, never a 500', async () => {
    const a = await joinNode(server, 'a');
    const nodeSecret = (a.agent as unknown as { http: { options: { token: string } } }).http.options.token;
    const routes: Array<[string, string]> = [
      ['POST', '/v1/jobs'],
      ['GET', '/v1/jobs'],
      ['GET', '/v1/jobs/x'],
      ['DELETE', '/v1/jobs/x'],
      ['GET', '/v1/nodes/zz'],
      ['GET', '/v1/allocs'],
      ['GET', '/v1/allocs/zzzz'],
      ['GET', '/v1/allocs/zzzz/logs'],
      ['GET', '/v1/evals/zzzz'],
      ['POST', '/v1/agent/register'],
      ['PUT', '/v1/agent/node'],
      ['GET', '/v1/agent/allocs'],
      ['POST', '/v1/agent/allocs/status'],
      ['POST', '/v1/agent/logs'],
    ];
    const bodies = [
      '',
      'null',
      '[]',
      '"x"',
      '{"spec": 5}',
      '{"spec": {"name": []}}',
      '{"source": 7}',
      '{"updates": [{"allocId": "nope"}]}',
      '{"chunks": [{"allocId": "x", "task": "t", "stream": "stdout", "data": "d"}]}',
      '{"updates": [{"allocId": "nope", "clientStatus": "running", "clientDescription": "", "taskStates": {}}]}',
      '{"name": "n", "capacity": {"cpu": -1}}',
      '\u0000\u0001',
      '{"a":'.repeat(200),
    ];
    const queries = ['', '?namespace=%00', '?index=-1&wait=forever', '?offset=abc&stream=nope', '?status=weird&job=' + 'x'.repeat(500)];
    let errors = 0;
    for (const [method, path] of routes) {
      for (const token of [server.adminToken, server.joinToken, nodeSecret, 'garbage']) {
        for (const q of queries) {
          for (const body of method === 'GET' || method === 'DELETE' ? [undefined] : bodies) {
            const res = await fetch(`${server.url}${path}${q}`, {
              method,
              body,
              headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
            });
            const text = await res.text();
            // some combinations are valid (listing jobs with the admin token); none may be a 500
            expect(res.status, `${method} ${path}${q} ${body ?? ''} -> ${text}`).toBeLessThan(500);
            if (res.status >= 400) {
              errors++;
              expect((JSON.parse(text) as { error: string }).error.length).toBeGreaterThan(0);
            }
          }
        }
      }
    }
    expect(errors).toBeGreaterThan(500);
    // alive; its 'garbage' sign-ins have this source rate limited now (sign-in-limit.ts), so ask a public route
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  });

  it('answers the blocking queries it holds when it closes, instead of waiting them out', async () => {
    const { agent } = await joinNode(server, 'n-close');
    const first = await agent.allocs(0, 0);
    // a watch that would hold for five minutes: the close must not wait for it (the test would time out)
    const listening = server.store.listenerCount('change');
    const watch = agent.allocs(first.index, 300_000);
    // held once the server waits on the store's changes for it (a fixed sleep lost that race under load)
    await until(async () => server.store.listenerCount('change') > listening, 'the watch to be held');
    const spare = await startServer({
      dataDir: join(t.dir, 'spare'),
      host: '127.0.0.1',
      port: 0,
      heartbeatTtlMs: 30_000,
      logCapBytes: 1 << 20,
      insecureHttp: true,
      logger: createLogger('silent', 'test'),
      version: 'test',
    });
    await server.close();
    // "nothing changed": the agent asks again (another server, or this one once it is back)
    expect(await watch).toEqual({ index: first.index, allocs: [] });
    t.server = spare;
  });

  it('keeps its tokens across a restart', async () => {
    const { url, adminToken, joinToken } = server;
    await restart(LONG_TTL_MS);
    expect(server.adminToken).toBe(adminToken);
    expect(server.joinToken).toBe(joinToken);
    expect(server.url).not.toBe('');
    void url;
  });

  it('closes its data dir to other users again at start (it holds the CA key, the secrets key and the admin token)', async () => {
    await restart(LONG_TTL_MS, () => chmod(t.dir, 0o755));
    expect((await stat(t.dir)).mode & 0o777).toBe(0o700);
  });
});
