/**
 * The permission matrix: every route the server registered (as the OpenAPI
 * document lists them, built from fastify's own route list) × every kind of
 * caller, against the policy declared in ROUTES (src/server/openapi.ts).
 * A route without a declared policy fails here, and since the server
 * enforces that same table before a body is read, the two cannot drift.
 */
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenRole } from '../api/types.js';
import { AgentClient } from '../client/agent-client.js';
import { issueNodeCert } from './node-identity.js';
import { policyOf, roleTableMarkdown, ROUTES, type RouteDoc } from './openapi.js';
import { nodeRequest, startTestServer, until, type TestServer } from './server.fixture.js';
import { storeDialects, storeOption } from '../../test/support/stores.js';

type Who = { kind: 'none' } | { kind: 'join' } | { kind: 'node' } | { kind: 'user'; role: TokenRole; namespace: string };

type Expect = 'allowed' | 'unauthenticated' | 'denied' | 'hidden';

const RANK: Record<TokenRole, number> = { read: 0, submit: 1, operator: 2, admin: 3 };

/** what the policy says a caller gets */
export function expectedFor(doc: RouteDoc, who: Who): Expect {
  if (doc.auth === 'none') return 'allowed';
  if (who.kind === 'none') return 'unauthenticated';
  if (doc.auth === 'join') return who.kind === 'join' ? 'allowed' : 'denied';
  if (doc.auth === 'node') return who.kind === 'node' ? 'allowed' : 'denied';
  if (who.kind !== 'user') return 'denied';
  if (RANK[who.role] < RANK[doc.auth]) return 'denied';
  const ownNamespace = who.namespace === '*' || who.namespace === 'default';
  if (doc.namespaced && !ownNamespace) return 'hidden';
  if (!doc.namespaced && RANK[doc.auth] >= RANK.operator && who.namespace !== '*') return 'denied';
  return 'allowed';
}

function matches(expect: Expect, status: number): boolean {
  if (status >= 500) return false;
  switch (expect) {
    case 'allowed':
      return status !== 401 && status !== 403 && status !== 429;
    case 'unauthenticated':
      return status === 401;
    case 'denied':
      return status === 403;
    case 'hidden':
      return status === 403 || status === 404;
  }
}

const JOB =
  'name: web\ntype: service\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["1000"]\n    resources: { memory: 16Mi, cpu: 10m }\n';

describe.each(storeDialects())('permission matrix ($dialect)', ({ fresh }) => {
  let t: TestServer;
  const secrets: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const callers: Array<{ name: string; who: Who }> = [
    { name: 'no token', who: { kind: 'none' } },
    { name: 'join token', who: { kind: 'join' } },
    { name: 'node secret', who: { kind: 'node' } },
    { name: 'read', who: { kind: 'user', role: 'read', namespace: 'default' } },
    { name: 'submit', who: { kind: 'user', role: 'submit', namespace: 'default' } },
    { name: 'admin of another namespace', who: { kind: 'user', role: 'admin', namespace: 'other' } },
    { name: 'operator', who: { kind: 'user', role: 'operator', namespace: '*' } },
    { name: 'admin', who: { kind: 'user', role: 'admin', namespace: '*' } },
  ];

  async function api(method: string, path: string, secret: string | undefined, body?: string, type = 'application/json') {
    const headers: Record<string, string> = {};
    if (secret) headers.authorization = `Bearer ${secret}`;
    if (body !== undefined) headers['content-type'] = type;
    const res = await fetch(`${t.server.url}${path}`, { method, headers, body });
    return { status: res.status, text: await res.text() };
  }

  beforeAll(async () => {
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1024, ...(await storeOption(fresh)) });
    const admin = t.server.adminToken;
    secrets.admin = admin;
    secrets['join token'] = t.server.joinToken;
    for (const c of callers) {
      if (c.who.kind !== 'user' || c.name === 'admin') continue;
      const r = await api('POST', '/v1/tokens', admin, JSON.stringify({ name: c.name, role: c.who.role, namespace: c.who.namespace }));
      secrets[c.name] = (JSON.parse(r.text) as { secret: string }).secret;
    }
    const a = await new AgentClient(t.server.url, t.server.joinToken).register(nodeRequest('node-a'));
    secrets['node secret'] = a.secret;
    ids.node = a.nodeId;
    const b = await new AgentClient(t.server.url, t.server.joinToken).register(nodeRequest('node-b'));
    secrets.nodeB = b.secret;
    ids.nodeB = b.nodeId;
    const sub = JSON.parse((await api('POST', '/v1/jobs', admin, JOB, 'application/yaml')).text) as { evalId: string };
    ids.eval = sub.evalId;
    ids.alloc = await until(async () => {
      const page = JSON.parse((await api('GET', '/v1/allocs?namespace=default', admin)).text) as { items: Array<{ id: string }> };
      return page.items[0]?.id;
    }, 'the job placed');
    ids.token = JSON.parse((await api('POST', '/v1/tokens', admin, JSON.stringify({ name: 'victim', role: 'read', namespace: 'x' }))).text).token.id as string;
  });
  afterAll(() => t.close());

  async function routeList(): Promise<Array<{ method: string; url: string }>> {
    const doc = JSON.parse((await api('GET', '/v1/openapi.json', undefined)).text) as { paths: Record<string, Record<string, unknown>> };
    const out: Array<{ method: string; url: string }> = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) out.push({ method: method.toUpperCase(), url: path.replace(/\{(\w+)\}/g, ':$1') });
    }
    return out;
  }

  it('has a declared policy for every route the server serves', async () => {
    const routes = await routeList();
    expect(routes.length).toBeGreaterThan(40);
    const missing = routes.filter((r) => !policyOf(r.method, r.url)).map((r) => `${r.method} ${r.url}`);
    expect(missing, 'add these to ROUTES in src/server/openapi.ts with auth (and namespaced where they read one namespace)').toEqual([]);
  });

  it('answers every route × caller as the policy says', async () => {
    const routes = await routeList();
    const wrong: string[] = [];
    let cells = 0;
    for (const r of routes) {
      const doc = policyOf(r.method, r.url);
      if (!doc) continue;
      let path = r.url
        .replace(
          /:id\b/,
          r.url.startsWith('/v1/jobs')
            ? 'web'
            : r.url.startsWith('/v1/nodes')
              ? ids.node
              : r.url.startsWith('/v1/allocs')
                ? ids.alloc
                : r.url.startsWith('/v1/evals')
                  ? ids.eval
                  : r.url.startsWith('/v1/tokens')
                    ? ids.token
                    : 'nosuch',
        )
        .replace(/:namespace\b/, 'default')
        .replace(/:name\b/, 'web')
        .replace(/:(\w+)/g, 'nosuch');
      // blocking routes answer at once; namespaced routes name the namespace the objects are in
      path += r.url === '/v1/events' ? '?follow=false&namespace=default' : doc.namespaced ? '?namespace=default' : '';
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : r.url === '/v1/jobs' ? JOB : '{}';
      const type = r.url === '/v1/jobs' ? 'application/yaml' : 'application/json';
      // DELETE /v1/tokens/:id revokes a victim token, never the admin token the test runs with
      for (const c of callers) {
        const res = await api(r.method, path, secrets[c.name], body, type);
        cells++;
        const want = expectedFor(doc, c.who);
        if (!matches(want, res.status)) wrong.push(`${r.method} ${path} as ${c.name}: expected ${want}, got ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(cells).toBeGreaterThan(300);
  });

  it('keeps a node to its own allocs: node A cannot report for, or ship logs of, node B', async () => {
    // place an alloc on node B, pinned by constraint
    const pinned = `name: pinned\ntype: service\nconstraints:\n  - attribute: \${node.name}\n    value: node-b\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["1000"]\n    resources: { memory: 16Mi, cpu: 10m }\n`;
    expect((await api('POST', '/v1/jobs', secrets.admin, pinned, 'application/yaml')).status).toBe(200);
    const alloc = await until(async () => {
      const page = JSON.parse((await api('GET', '/v1/allocs?job=pinned&namespace=default', secrets.admin)).text) as {
        items: Array<{ id: string; nodeId: string; clientStatus: string }>;
      };
      return page.items[0];
    }, 'pinned placed');
    expect(alloc.nodeId).toBe(ids.nodeB);
    const report = { updates: [{ allocId: alloc.id, clientStatus: 'failed', clientDescription: 'forged', taskStates: {} }] };
    const r1 = await api('POST', '/v1/agent/allocs/status', secrets['node secret'], JSON.stringify(report));
    expect(r1.status).toBe(403);
    const r2 = await api(
      'POST',
      '/v1/agent/logs',
      secrets['node secret'],
      JSON.stringify({ chunks: [{ allocId: alloc.id, task: 'main', stream: 'stdout', data: 'forged' }] }),
    );
    expect(r2.status).toBe(403);
    const after = JSON.parse((await api('GET', `/v1/allocs/${alloc.id}`, secrets.admin)).text) as { clientStatus: string };
    expect(after.clientStatus).toBe(alloc.clientStatus);
    const logs = JSON.parse((await api('GET', `/v1/allocs/${alloc.id}/logs?task=main`, secrets.admin)).text) as { data: string };
    expect(logs.data).not.toContain('forged');
    // and the agent's own view is its own node's: A's watch does not list B's alloc
    const watch = JSON.parse((await api('GET', '/v1/agent/allocs', secrets['node secret'])).text) as { allocs: Array<{ alloc: { id: string } }> };
    expect(watch.allocs.map((x) => x.alloc.id)).not.toContain(alloc.id);
  });
});

describe('README role table', () => {
  it('is the one roleTableMarkdown() makes from ROUTES', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /<!-- roles:begin[^>]*-->\n([\s\S]*?)\n<!-- roles:end -->/.exec(readme);
    expect(m, 'README.md has the roles:begin/roles:end markers').not.toBeNull();
    expect(m![1], 'regenerate: npx tsx -e "import(\'./src/server/openapi.ts\').then(m => console.log(m.roleTableMarkdown()))"').toBe(roleTableMarkdown());
  });
});

describe('permission matrix over mutual TLS: node certificates', () => {
  let t: TestServer;
  const node: Record<'a' | 'b', { id: string; secret: string; cert: string; key: string }> = {} as never;
  let ca = '';

  function tlsApi(method: string, path: string, opts: { secret?: string; as?: 'a' | 'b'; body?: string } = {}): Promise<{ status: number; text: string }> {
    const url = new URL(path, t.server.url);
    const headers: Record<string, string> = {};
    if (opts.secret) headers.authorization = `Bearer ${opts.secret}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const id = opts.as ? node[opts.as] : undefined;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method,
          headers,
          ca,
          agent: false,
          ...(id ? { cert: id.cert, key: id.key } : {}),
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  beforeAll(async () => {
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1024, tls: true });
    const tls = t.server.tls!;
    ca = tls.caPem;
    for (const n of ['a', 'b'] as const) {
      const r = await tlsApi('POST', '/v1/agent/register', { secret: t.server.joinToken, body: JSON.stringify(nodeRequest(`tls-${n}`)) });
      expect(r.status, r.text).toBe(200);
      const reg = JSON.parse(r.text) as { nodeId: string; secret: string };
      const c = await issueNodeCert(tls, reg.nodeId);
      node[n] = { id: reg.nodeId, secret: reg.secret, cert: c.cert, key: c.key };
    }
  });
  afterAll(() => t.close());

  it("gives agent routes only to a node's secret with that node's own certificate", async () => {
    const agentRoutes = Object.entries(ROUTES)
      .filter(([, d]) => d.auth === 'node')
      .map(([k]) => k.split(' ') as [string, string]);
    expect(agentRoutes.length).toBeGreaterThan(4);
    const wrong: string[] = [];
    for (const [method, url] of agentRoutes) {
      const path = url.replace(/:(\w+)/g, 'nosuch');
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
      const cells: Array<[string, Parameters<typeof tlsApi>[2], (s: number) => boolean]> = [
        ["A's secret with A's certificate", { secret: node.a.secret, as: 'a', body }, (s) => s < 500 && s !== 401 && s !== 403],
        ["A's secret without a certificate", { secret: node.a.secret, body }, (s) => s === 403],
        ["A's secret with B's certificate (A acting for B)", { secret: node.a.secret, as: 'b', body }, (s) => s === 403],
        ["B's certificate without a secret", { as: 'b', body }, (s) => s === 401],
        ["the admin token with A's certificate", { secret: t.server.adminToken, as: 'a', body }, (s) => s === 403],
      ];
      for (const [name, opts, ok] of cells) {
        const r = await tlsApi(method, path, opts);
        if (!ok(r.status)) wrong.push(`${method} ${path} as ${name}: got ${r.status} ${r.text.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('needs no certificate for user routes: tokens work as on plain HTTP', async () => {
    expect((await tlsApi('GET', '/v1/status', { secret: t.server.adminToken })).status).toBe(200);
    expect((await tlsApi('GET', '/v1/status', {})).status).toBe(401);
    expect((await tlsApi('GET', '/v1/status', { secret: node.a.secret, as: 'a' })).status).toBe(403);
  });
});
