/**
 * The route table against the real server: what fastify serves and what the
 * table says are the same routes, both ways, and each body is validated with
 * the table's schema, so neither the OpenAPI document nor the clients (which
 * are typed from the table) can promise what the server does not do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../client/agent-client.js';
import { BatonClient } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { parseInput } from '../server/errors.js';
import { nodeRequest, startTestServer, type TestServer } from '../server/server.fixture.js';
import { pathOf, routes, type RouteDef } from './routes.js';

let t: TestServer;
let nodeSecret: string;

beforeAll(async () => {
  t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1 << 20 });
  const agent = new AgentClient(t.server.url, t.server.joinToken);
  nodeSecret = (await agent.register(nodeRequest('drift'))).secret;
});
afterAll(() => t.close());

const key = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

describe('the route table', () => {
  it('holds exactly the routes the server serves', async () => {
    const doc = (await t.client.api.openapi()) as { paths: Record<string, Record<string, { summary: string }>> };
    const served = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) served.add(key(method, path.replace(/\{(\w+)\}/g, ':$1')));
    }
    const table = new Set(Object.values(routes).map((r) => key(r.method, r.path)));
    expect(
      [...served].filter((k) => !table.has(k)),
      'served but not in src/api/routes.ts',
    ).toEqual([]);
    expect(
      [...table].filter((k) => !served.has(k)),
      'in src/api/routes.ts but not served',
    ).toEqual([]);
    expect(table.size).toBe(Object.keys(routes).length);
  });

  it("validates every body with the table's schema: the server's 400 names the fields the table's schema names", async () => {
    const credential = (r: RouteDef): string => (r.auth === 'node' ? nodeSecret : r.auth === 'join' ? t.server.joinToken : t.server.adminToken);
    const checked: string[] = [];
    const notOverHttp: string[] = [];
    for (const [name, r] of Object.entries(routes) as Array<[string, RouteDef]>) {
      if (!r.body) continue;
      // a body no schema of baton's takes: a field that is not there and a wrong type where one is
      const bad = { 'no such field': 1 };
      const schema = await r.body();
      let expected: string[] = [];
      try {
        parseInput(schema, bad, 'body');
      } catch (err) {
        expected = (err as { details: Array<{ path: string }> }).details.map((d) => d.path);
      }
      expect(expected.length, `${name}: the table's schema takes any body`).toBeGreaterThan(0);
      const params = Object.fromEntries([...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => [m[1], m[1] === 'namespace' ? 'default' : 'x']));
      const client = new BatonClient({ baseUrl: t.server.url, token: credential(r) });
      let got: BatonApiError | undefined;
      try {
        await client.http.request(r.method, pathOf(r, params as never), { body: bad, query: { namespace: 'default' } });
      } catch (err) {
        got = err as BatonApiError;
      }
      // certificates are issued over TLS only (the mutual-TLS renewal is tested in node-identity.test.ts)
      if (got?.status === 404 && /runs without TLS/.test(got.message)) {
        notOverHttp.push(name);
        continue;
      }
      expect(got?.status, `${name}: ${r.method} ${r.path} took a body its schema refuses`).toBe(400);
      expect(got!.details.map((d) => d.path).sort(), `${name}: the server validated with another schema`).toEqual([...expected].sort());
      checked.push(name);
    }
    // every route that takes a body was checked
    expect(notOverHttp).toEqual(['agentCert']);
    expect(checked.length + notOverHttp.length).toBe(Object.values(routes).filter((r: RouteDef) => r.body).length);
    expect(checked.length).toBeGreaterThan(10);
  });

  it('gives the client a function for every route, calling that route', async () => {
    const seen: string[] = [];
    for (const [name, r] of Object.entries(routes) as Array<[string, RouteDef]>) {
      expect(typeof (t.client.api as Record<string, unknown>)[name], name).toBe('function');
      seen.push(key(r.method, r.path));
    }
    // one call through the generated function reaches its route (and answers its type)
    const status = await t.client.api.status();
    expect(status.version).toBe('test');
    const node = await t.client.api.listNodes({ query: { limit: 10 } });
    expect(node.items.map((n) => n.name)).toEqual(['drift']);
    expect(new Set(seen).size).toBe(Object.keys(routes).length);
  });
});
