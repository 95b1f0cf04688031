/**
 * Events, usage history, metrics and the OpenAPI document through the real
 * HTTP API of a real server, with the test playing the agent.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../api/types.js';
import { AgentClient } from '../client/agent-client.js';
import { BatonClient } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { startServer, type RunningServer } from './server.js';
import { nodeRequest, startTestServer, until, type TestServer } from './server.fixture.js';
import { createLogger } from '../util/logger.js';
import { postgresAdminUrl, postgresDialect, storeDialects, storeOption } from '../../test/support/stores.js';

const GiB = 1024 ** 3;

const job = (name: string, ns = 'default') =>
  `name: ${name}\nnamespace: ${ns}\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { memory: 256Mi }\n`;

describe.each(storeDialects())('observability routes ($dialect)', ({ fresh }) => {
  let t: TestServer;
  let server: RunningServer;
  let client: BatonClient;

  beforeEach(async () => {
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1 << 20, ...(await storeOption(fresh)) });
    ({ server, client } = t);
  });
  afterEach(() => t.close());

  async function joinNode(name: string): Promise<{ agent: AgentClient; nodeId: string }> {
    const agent = new AgentClient(server.url, server.joinToken);
    const reg = await agent.register(nodeRequest(name));
    agent.useToken(reg.secret);
    return { agent, nodeId: reg.nodeId };
  }

  it('records an event per change, in index order, filtered by topic', async () => {
    const { nodeId } = await joinNode('n1');
    await client.submitJob(job('ev1'), 'ev1.yaml');
    const page = await until(async () => {
      const p = await client.recentEvents();
      return p.events.some((e) => e.type === 'AllocPlaced') && p;
    }, 'the alloc to be placed');
    const types = page.events.map((e) => `${e.topic}:${e.type}`);
    expect(types[0]).toBe('node:NodeRegistered');
    expect(page.events[0].key).toBe(nodeId);
    expect(types).toContain('job:JobRegistered');
    expect(types).toContain('eval:EvalCreated');
    expect(types).toContain('eval:EvalCompleted');
    expect(types.indexOf('job:JobRegistered')).toBeLessThan(types.indexOf('alloc:AllocPlaced'));
    const indexes = page.events.map((e) => e.index);
    expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
    const registered = page.events.find((e) => e.type === 'JobRegistered')!;
    expect(registered).toMatchObject({ namespace: 'default', key: 'ev1', payload: { id: 'ev1', version: 1 } });

    const jobsOnly = await client.recentEvents({ topics: ['job'] });
    expect(jobsOnly.events.length).toBeGreaterThan(0);
    expect(jobsOnly.events.every((e) => e.topic === 'job')).toBe(true);
    // resuming after an index gives only what came later
    const later = await client.recentEvents({ index: registered.index });
    expect(later.events.every((e) => e.index > registered.index)).toBe(true);
    expect(later.events.some((e) => e.type === 'AllocPlaced')).toBe(true);
  });

  it('heartbeats without a status change make no events', async () => {
    const { agent } = await joinNode('quiet');
    const before = await client.recentEvents();
    for (let i = 0; i < 3; i++) await agent.heartbeat({ usage: { node: { cpu: 1, memory: 2 }, allocs: {} } });
    const after = await client.recentEvents();
    expect(after.events.length).toBe(before.events.length);
  });

  it('streams events as server-sent events and resumes from Last-Event-ID', async () => {
    await joinNode('n1');
    const seen: ClusterEvent[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const e of client.followEvents({ topics: ['job', 'alloc'] }, abort.signal)) {
        seen.push(e);
        if (e.type === 'AllocPlaced') abort.abort();
      }
    })();
    // the stream is open once the server answered: submit after that
    await until(async () => (await fetch(`${server.url}/metrics`)).ok, 'the server');
    await client.submitJob(job('live'), 'live.yaml');
    await following;
    expect(seen.map((e) => e.type)).toEqual(['JobRegistered', 'AllocPlaced']);
    expect(seen.every((e) => e.topic === 'job' || e.topic === 'alloc')).toBe(true);

    // raw SSE framing, a ticket for EventSource (which cannot send headers), and Last-Event-ID
    const { ticket } = (await (
      await fetch(`${server.url}/v1/events/ticket`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` } })
    ).json()) as { ticket: string };
    const ctrl = new AbortController();
    const res = await fetch(`${server.url}/v1/events?topic=job&ticket=${ticket}`, {
      headers: { 'last-event-id': String(seen[0].index - 1) },
      signal: ctrl.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('JobRegistered')) text += new TextDecoder().decode((await reader.read()).value);
    ctrl.abort();
    expect(text).toContain(`id: ${seen[0].index}\ndata: {`);
  });

  it('refuses the event stream without a token and limits a namespaced token to its namespace', async () => {
    const res = await fetch(`${server.url}/v1/events`);
    expect(res.status).toBe(401);
    // a token in the URL is accepted nowhere (the event stream takes a ticket)
    expect((await fetch(`${server.url}/v1/nodes?token=${server.adminToken}`)).status).toBe(401);
    await expect(client.recentEvents({ topics: ['bogus' as never] })).rejects.toThrow(/unknown topic "bogus"/);

    await joinNode('shared');
    await server.store.createToken('team-a-secret', 'team-a', 'read', 'team-a');
    await client.submitJob(job('mine', 'team-a'), 'a.yaml');
    await client.submitJob(job('theirs'), 'b.yaml');
    const teamA = new BatonClient({ baseUrl: server.url, token: 'team-a-secret' });
    const page = await until(async () => {
      const p = await teamA.recentEvents({ namespace: '*' });
      return p.events.some((e) => e.key === 'mine') && p;
    }, 'team-a events');
    expect(page.events.filter((e) => e.namespace !== undefined).every((e) => e.namespace === 'team-a')).toBe(true);
    // nodes are cluster-wide: every reader sees them
    expect(page.events.some((e) => e.type === 'NodeRegistered')).toBe(true);
    await expect(teamA.recentEvents({ namespace: 'default' })).rejects.toMatchObject({ status: 403 });
  });

  it('keeps usage per node and per alloc from heartbeats', async () => {
    const { agent, nodeId } = await joinNode('u1');
    await client.submitJob(job('use'), 'use.yaml');
    const [aa] = await until(async () => {
      const r = await agent.allocs(0, 0);
      return r.allocs.length > 0 && r.allocs;
    }, 'an alloc');
    const allocId = aa.alloc.id;
    await agent.heartbeat({ usage: { node: { cpu: 250, memory: 100 * 1024 ** 2 }, allocs: { [allocId]: { main: { cpu: 250, memory: 100 * 1024 ** 2 } } } } });
    await agent.heartbeat({ usage: { node: { cpu: 500, memory: 120 * 1024 ** 2 }, allocs: { [allocId]: { main: { cpu: 500, memory: 120 * 1024 ** 2 } } } } });
    const node = await client.nodeUsage(nodeId);
    expect(node.samples.map((s) => s.cpu)).toEqual([250, 500]);
    const alloc = await client.allocUsage(allocId.slice(0, 8));
    expect(alloc.samples.map((s) => s.memory)).toEqual([100 * 1024 ** 2, 120 * 1024 ** 2]);
    expect(alloc.tasks!.main.map((s) => s.cpu)).toEqual([250, 500]);
    expect(alloc.memoryLimit).toBe(256 * 1024 ** 2);
    // an old agent's empty heartbeat still works
    await expect(agent.heartbeat()).resolves.toMatchObject({ status: 'ready' });
    // a bad usage body is a 400 that says where
    const bad = await fetch(`${server.url}/v1/agent/heartbeat`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${(agent as unknown as { http: { options: { token: string } } }).http.options.token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ usage: { node: { cpu: -1, memory: 0 }, allocs: {} } }),
    });
    expect(bad.status).toBe(400);
  });

  it('serves Prometheus metrics without a token, computed from the store', async () => {
    const { agent } = await joinNode('m1');
    await agent.heartbeat({ usage: { node: { cpu: 300, memory: 5000 }, allocs: {} } });
    await client.submitJob(job('m'), 'm.yaml');
    await until(async () => (await client.listAllocs({})).length === 1, 'the alloc');
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^baton_nodes\{status="ready"\} 1$/m);
    expect(text).toMatch(/^baton_nodes\{status="down"\} 0$/m);
    expect(text).toMatch(/^baton_allocs\{client_status="pending"\} 1$/m);
    expect(text).toMatch(/^baton_node_cpu_used_millicores\{node="m1"\} 300$/m);
    expect(text).toMatch(/^baton_node_memory_used_bytes\{node="m1"\} 5000$/m);
    expect(text).toMatch(new RegExp(`^baton_node_memory_capacity_bytes\\{node="m1"\\} ${4 * GiB}$`, 'm'));
    expect(text).toMatch(/^baton_scheduling_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^baton_eval_wait_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^baton_plan_apply_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^baton_http_request_seconds_count\{method="POST",route="\/v1\/jobs",status="200"\} 1$/m);
  });

  it('describes every route of docs/api.md in its OpenAPI document, without a token', async () => {
    const res = await fetch(`${server.url}/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { summary: string; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    const api = await readFile(join(import.meta.dirname, '../../docs/api.md'), 'utf8');
    const rows = [...api.matchAll(/^\| `(GET|POST|PUT|DELETE) ([^`]+)`/gm)].map((m) => [m[1].toLowerCase(), m[2].replace(/:([A-Za-z_]+)/g, '{$1}')]);
    expect(rows.length).toBeGreaterThan(30);
    for (const [method, path] of rows) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
      // a summary of its own, not the fallback for a route nobody described
      expect(doc.paths[path][method].summary, `${method} ${path}`).not.toBe(path.replace(/\{([A-Za-z_]+)\}/g, ':$1'));
    }
    // bodies come from the zod schemas the server validates with
    const hb = doc.paths['/v1/agent/heartbeat'].post.requestBody!.content['application/json'].schema;
    expect(Object.keys(hb.properties ?? {})).toEqual(['usage']);
    const scale = doc.paths['/v1/jobs/{id}/scale'].post.requestBody!.content['application/json'].schema;
    expect(Object.keys(scale.properties ?? {})).toEqual(['count']);
  });

  it('404s usage of an unknown node', async () => {
    await expect(client.nodeUsage('nope-nope')).rejects.toBeInstanceOf(BatonApiError);
  });
});

const pgAdmin = postgresAdminUrl();

describe.skipIf(!pgAdmin)('events on a server that lags behind another (one PostgreSQL database)', () => {
  let t: TestServer;
  let behind: RunningServer | undefined;
  afterEach(async () => {
    await behind?.close();
    await t?.close();
  });

  it('answers a page of events with what the other servers committed, without waiting for NOTIFY', async () => {
    const where = await postgresDialect(pgAdmin!).fresh();
    if (where.kind !== 'postgres') throw new Error('a PostgreSQL database was expected');
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1 << 20, store: where.url });
    // hears nothing of the first server's commits by itself: as a server whose NOTIFY lags
    behind = await startServer({
      dataDir: join(t.dir, 'behind'),
      host: '127.0.0.1',
      port: 0,
      heartbeatTtlMs: 60_000,
      logCapBytes: 1 << 20,
      insecureHttp: true,
      logger: createLogger('silent', 'test'),
      version: 'test',
      store: where.url,
      // every server of one database seals secrets with the same key
      secretsKeyFile: join(t.dir, 'secrets.key'),
      listen: false,
    });
    const from = (await t.client.recentEvents()).index;
    await t.client.submitJob(job('lagged'), 'lagged.yaml');
    const registered = (await t.client.recentEvents({ topics: ['job'], index: from })).events.find((e) => e.key === 'lagged');
    expect(registered?.type).toBe('JobRegistered');
    // the index the first server handed out, asked of the other: the same event, at once
    const other = new BatonClient({ baseUrl: behind.url, token: behind.adminToken });
    const page = await other.recentEvents({ topics: ['job'], index: from });
    expect(page.events.map((e) => `${e.index} ${e.type} ${e.key}`)).toContain(`${registered!.index} JobRegistered lagged`);
    expect(page.index).toBeGreaterThanOrEqual(registered!.index);
  });
});
