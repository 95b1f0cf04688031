/**
 * Regression tests for the holes of issue #11 the HTTP API had: each was seen
 * on main before the fix (deep bodies parsed before the role check, tokens in
 * event-stream URLs, unlimited sign-in guesses, other namespaces' allocs on a
 * node page, node renames, unchecked input), through the real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateTokenResponse, TokenInfo } from '../api/types.js';
import { AgentClient } from '../client/agent-client.js';
import { nodeRequest, startTestServer, until, type TestServer } from './server.fixture.js';

const job = (name: string, namespace = 'default') =>
  `name: ${name}\nnamespace: ${namespace}\ntype: service\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["1000"]\n    resources: { memory: 16Mi, cpu: 10m }\n`;

interface Answer {
  status: number;
  body: { error?: string } & Record<string, unknown>;
  headers: Headers;
}

describe('API hardening', () => {
  let t: TestServer;
  let url: string;
  let admin: string;
  const tokens: Record<string, string> = {};

  async function call(method: string, path: string, token: string | undefined, body?: string, type = 'application/json'): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = type;
    const res = await fetch(`${url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: Answer['body'] = {};
    try {
      parsed = JSON.parse(text) as Answer['body'];
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  async function makeToken(role: string, namespace: string, ttl?: string): Promise<CreateTokenResponse> {
    const r = await call(
      'POST',
      '/v1/tokens',
      admin,
      JSON.stringify({ name: `${role}-${namespace}-${Math.random()}`, role, namespace, ...(ttl ? { ttl } : {}) }),
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as unknown as CreateTokenResponse;
  }

  beforeAll(async () => {
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1024 });
    url = t.server.url;
    admin = t.server.adminToken;
    tokens.read = (await makeToken('read', 'default')).secret;
    tokens.submit = (await makeToken('submit', 'default')).secret;
    tokens.readA = (await makeToken('read', 'team-a')).secret;
  });
  afterAll(() => t.close());

  describe('deep and huge bodies', () => {
    const deepJson = `{"spec":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const deepYaml = `name: x\ntype: batch\ntasks: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;

    it('checks the role before reading the body: a read token gets 403, not a parse', async () => {
      const r = await call('POST', '/v1/jobs', tokens.read, deepJson);
      expect(r.status).toBe(403);
      expect(r.body.error).toMatch(/role read; this needs submit/);
      // no token at all: 401 without the body being looked at
      expect((await call('POST', '/v1/jobs', undefined, deepJson)).status).toBe(401);
    });

    it('refuses JSON, YAML and a job source nested too deeply, with 400 naming the limit', async () => {
      for (const [body, type] of [
        [deepJson, 'application/json'],
        [deepYaml, 'application/yaml'],
        [JSON.stringify({ source: deepYaml }), 'application/json'],
      ]) {
        const r = await call('POST', '/v1/jobs', tokens.submit, body, type);
        expect(r.status, r.body.error).toBe(400);
        expect(r.body.error).toMatch(/nested too deeply/);
      }
      const indented = `name: x\ntype: batch\ntasks:\n${Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`;
      const r = await call('POST', '/v1/jobs', tokens.submit, indented, 'application/yaml');
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/indented by/);
    });

    it('survives hundreds of deep bodies and still takes an ordinary job', async () => {
      for (let i = 0; i < 200; i++) {
        const r = await call('POST', '/v1/jobs', tokens.submit, i % 2 ? deepJson : deepYaml, i % 2 ? 'application/json' : 'application/yaml');
        expect(r.status).toBe(400);
      }
      const ok = await call('POST', '/v1/jobs', tokens.submit, job('after-deep'), 'application/yaml');
      expect(ok.status).toBe(200);
    });

    it('refuses a YAML alias bomb ("billion laughs") with 400', async () => {
      const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (let i = 1; i < 10; i++)
        lines.push(
          `a${i}: &a${i} [${Array(9)
            .fill(`*a${i - 1}`)
            .join(',')}]`,
        );
      const r = await call('POST', '/v1/jobs', tokens.submit, `name: x\ntype: batch\n${lines.join('\n')}\ntasks: *a9\n`, 'application/yaml');
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/alias/i);
    });

    it('keeps protection against prototype poisoning in JSON bodies', async () => {
      const r = await call('POST', '/v1/jobs', tokens.submit, '{"__proto__": {"x": 1}, "spec": {}}');
      expect(r.status).toBe(400);
    });
  });

  describe('event-stream tickets', () => {
    it('opens the stream with a ticket, refuses ?token= and unknown tickets', async () => {
      const issued = await call('POST', '/v1/events/ticket', tokens.read);
      expect(issued.status).toBe(200);
      const ticket = issued.body.ticket as string;
      expect(ticket).toMatch(/^evt_/);
      expect(Date.parse(issued.body.expiresAt as string) - Date.now()).toBeLessThanOrEqual(60_000);
      const ctrl = new AbortController();
      const res = await fetch(`${url}/v1/events?ticket=${ticket}`, { signal: ctrl.signal });
      expect(res.status).toBe(200);
      ctrl.abort();
      const old = await call('GET', `/v1/events?token=${admin}`, undefined);
      expect(old.status).toBe(400);
      expect(old.body.error).toMatch(/no longer accepted/);
      const bad = await call('GET', '/v1/events?ticket=evt_nope&follow=false', undefined);
      expect(bad.status).toBe(401);
      expect(bad.body.error).toMatch(/ticket/);
    });

    it('refuses a ticket with its token or expiry changed, and the tickets of a revoked token', async () => {
      const made = await makeToken('read', 'default');
      const { ticket } = (await call('POST', '/v1/events/ticket', made.secret)).body as { ticket: string };
      const open = (tk: string) => call('GET', `/v1/events?ticket=${tk}&follow=false`, undefined);
      expect((await open(ticket)).status).toBe(200);
      const [head, sig] = ticket.slice(4).split('.');
      const [tokenId, expires] = Buffer.from(head, 'base64url').toString().split('.');
      const forge = (body: string) => `evt_${Buffer.from(body).toString('base64url')}.${sig}`;
      // another token's id, a later expiry: the signature no longer matches
      expect((await open(forge(`${tokenId.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'))}.${expires}`))).status).toBe(401);
      expect((await open(forge(`${tokenId}.${Number(expires) + 3_600_000}`))).status).toBe(401);
      expect((await open(`${ticket.slice(0, -2)}xx`)).status).toBe(401);
      // revoked: its tickets are refused at once, though they have not expired
      expect((await call('DELETE', `/v1/tokens/${made.token.id}`, admin)).status).toBe(200);
      const after = await open(ticket);
      expect(after.status).toBe(401);
      expect(after.body.error).toMatch(/unknown or expired event-stream ticket/);
    });

    it("gives a ticket its token's namespace: team-a's ticket sees team-a only", async () => {
      await call('POST', '/v1/jobs', admin, job('seen', 'team-a'), 'application/yaml');
      await call('POST', '/v1/jobs', admin, job('hidden', 'default'), 'application/yaml');
      const { ticket } = (await call('POST', '/v1/events/ticket', tokens.readA)).body as { ticket: string };
      const r = await call('GET', `/v1/events?ticket=${ticket}&follow=false&namespace=*`, undefined);
      expect(r.status).toBe(200);
      const events = r.body.events as Array<{ namespace?: string; key: string }>;
      expect(events.some((e) => e.namespace === 'team-a')).toBe(true);
      expect(events.every((e) => e.namespace === undefined || e.namespace === 'team-a')).toBe(true);
    });
  });

  describe('scoped tokens', () => {
    it('creates, lists (without secrets) and revokes; a revoked token stops working at once', async () => {
      const created = await makeToken('submit', 'team-b', '30d');
      expect(created.secret).toMatch(/^tok_/);
      expect(Date.parse(created.token.expiresAt!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
      expect((await call('GET', '/v1/status', created.secret)).status).toBe(200);
      const list = await call('GET', '/v1/tokens', admin);
      const text = JSON.stringify(list.body);
      expect(text).toContain(created.token.id);
      expect(text).not.toContain(created.secret);
      expect(text).not.toMatch(/secret/i);
      expect((await call('DELETE', `/v1/tokens/${created.token.id}`, admin)).status).toBe(200);
      expect((await call('GET', '/v1/status', created.secret)).status).toBe(401);
    });

    it("ends a revoked token's open event stream", async () => {
      const created = await makeToken('read', '*');
      const res = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${created.secret}` } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read(); // the stream's first comment: it is open
      expect((await call('DELETE', `/v1/tokens/${created.token.id}`, admin)).status).toBe(200);
      // the server hangs up: the read ends (done, or an error for the cut connection) instead of waiting forever
      const ended = await reader.read().then(
        (r) => r.done,
        () => true,
      );
      expect(ended).toBe(true);
    });

    it('is admin only', async () => {
      const op = await makeToken('operator', '*');
      expect((await call('POST', '/v1/tokens', op.secret, JSON.stringify({ name: 'x', role: 'admin', namespace: '*' }))).status).toBe(403);
      expect((await call('GET', '/v1/tokens', op.secret)).status).toBe(403);
    });

    it('never revokes the last admin token', async () => {
      const list = (await call('GET', '/v1/tokens', admin)).body as unknown as TokenInfo[];
      const admins = list.filter((x) => x.role === 'admin' && x.namespace === '*');
      expect(admins).toHaveLength(1);
      const r = await call('DELETE', `/v1/tokens/${admins[0].id}`, admin);
      expect(r.status).toBe(409);
      expect(r.body.error).toMatch(/last admin token/);
      // with a second admin token, the first may go (rotation)
      const next = await makeToken('admin', '*');
      expect((await call('DELETE', `/v1/tokens/${next.token.id}`, admin)).status).toBe(200);
    });

    it('refuses bad roles, namespaces and ttls with 400', async () => {
      for (const body of [
        { name: 'x', role: 'root', namespace: '*' },
        { name: 'x', role: 'read', namespace: 'Bad NS' },
        { name: 'x', role: 'read', namespace: 'a', ttl: 'forever' },
        { name: 'x', role: 'read', namespace: 'a', ttl: '100000000000h' },
        { name: '\u001b[31m', role: 'read', namespace: 'a' },
      ]) {
        const r = await call('POST', '/v1/tokens', admin, JSON.stringify(body));
        expect(r.status, JSON.stringify(body)).toBe(400);
      }
    });
  });

  describe('nodes', () => {
    let secretA: string;
    let nodeA: string;

    beforeAll(async () => {
      const reg = await new AgentClient(url, t.server.joinToken).register(nodeRequest('node-a'));
      secretA = reg.secret;
      nodeA = reg.nodeId;
    });

    it("shows a namespaced token only its namespace's allocs on a node", async () => {
      await call('POST', '/v1/jobs', admin, job('mine', 'team-a'), 'application/yaml');
      await call('POST', '/v1/jobs', admin, job('theirs', 'default'), 'application/yaml');
      await until(async () => {
        const r = await call('GET', `/v1/nodes/${nodeA}`, admin);
        const names = (r.body.allocs as Array<{ jobId: string }>).map((x) => x.jobId);
        return names.includes('mine') && names.includes('theirs');
      }, 'both jobs placed on node-a');
      const r = await call('GET', `/v1/nodes/${nodeA}`, tokens.readA);
      const allocs = r.body.allocs as Array<{ namespace: string }>;
      expect(allocs.length).toBeGreaterThan(0);
      expect(allocs.every((x) => x.namespace === 'team-a')).toBe(true);
    });

    it('lists a namespaced token nothing of other namespaces when it asks for every namespace', async () => {
      const lists: Array<[string, (b: Answer['body']) => Array<{ namespace?: string }>]> = [
        ['/v1/jobs?namespace=*', (b) => b.items as Array<{ namespace: string }>],
        ['/v1/allocs?namespace=*', (b) => b.items as Array<{ namespace: string }>],
        ['/v1/evals?namespace=*', (b) => b.items as Array<{ namespace: string }>],
        ['/v1/deployments?namespace=*', (b) => b as unknown as Array<{ namespace: string }>],
        ['/v1/events?namespace=*&follow=false', (b) => b.events as Array<{ namespace?: string }>],
      ];
      for (const [path, items] of lists) {
        const all = await call('GET', path, admin);
        // the admin sees default's objects there (no deployments exist: that list is empty for everyone)
        if (!path.includes('deployments'))
          expect(
            items(all.body).some((x) => x.namespace === 'default'),
            path,
          ).toBe(true);
        const mine = await call('GET', path, tokens.readA);
        expect(mine.status, path).toBe(200);
        expect(
          items(mine.body).filter((x) => x.namespace !== undefined && x.namespace !== 'team-a'),
          path,
        ).toEqual([]);
      }
      const ns = await call('GET', '/v1/namespaces', tokens.readA);
      expect(ns.body).toEqual(['team-a']);
    });

    it("refuses a node taking another node's name, absurd capacity, and control characters", async () => {
      await new AgentClient(url, t.server.joinToken).register(nodeRequest('node-b'));
      const rename = await call('PUT', '/v1/agent/node', secretA, JSON.stringify(nodeRequest('node-b')));
      expect(rename.status).toBe(409);
      expect(rename.body.error).toMatch(/another node's name/);
      const huge = await call('PUT', '/v1/agent/node', secretA, JSON.stringify(nodeRequest('node-a', { capacity: { cpu: 1e15, memory: 1e20, disk: 0 } })));
      expect(huge.status).toBe(400);
      const esc = await call('PUT', '/v1/agent/node', secretA, JSON.stringify(nodeRequest('node-\u001b[2Jx')));
      expect(esc.status).toBe(400);
      expect(esc.body.error).toMatch(/control characters/);
      const label = await call('PUT', '/v1/agent/node', secretA, JSON.stringify(nodeRequest('node-a', { labels: { '': 'x' } })));
      expect(label.status).toBe(400);
      // its own facts it may still report
      expect((await call('PUT', '/v1/agent/node', secretA, JSON.stringify(nodeRequest('node-a', { nodeClass: 'big' })))).status).toBe(200);
    });

    it('answers 400, not 500, for a drain deadline past any date', async () => {
      const r = await call('POST', `/v1/nodes/${nodeA}/drain`, admin, JSON.stringify({ deadline: '100000000000h' }));
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/at most 1 year/);
    });
  });

  describe('input at the edge', () => {
    it('refuses env keys and values the exec driver would mangle', async () => {
      for (const env of ['"A=B": x', '"": x', '"A\\u0000B": x', '"A\\nB": x', 'A: "x\\u0000y"']) {
        const src = `name: envy\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    env: { ${env} }\n`;
        const r = await call('POST', '/v1/jobs', tokens.submit, src, 'application/yaml');
        expect(r.status, env).toBe(400);
      }
    });

    it('refuses dispatch meta keys with NUL, newlines, "=" or no name', async () => {
      const parent = 'name: para\ntype: batch\nparameterized: { meta_optional: [K] }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n';
      expect((await call('POST', '/v1/jobs', tokens.submit, parent, 'application/yaml')).status).toBe(200);
      for (const key of ['K\u0000', 'K\nX', 'K=V', '']) {
        const r = await call('POST', '/v1/jobs/para/dispatch', tokens.submit, JSON.stringify({ runs: [{ meta: { [key]: 'v' } }] }));
        expect(r.status, JSON.stringify(key)).toBe(400);
      }
    });
  });
});

describe('failed sign-ins', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1024 });
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After after 20 wrong tokens from one source, on every route, valid tokens included', async () => {
    const url = t.server.url;
    // successful requests never count
    for (let i = 0; i < 50; i++) expect((await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${t.server.adminToken}` } })).status).toBe(200);
    // nor do requests without a token
    for (let i = 0; i < 30; i++) expect((await fetch(`${url}/v1/status`)).status).toBe(401);
    for (let i = 0; i < 20; i++) expect((await fetch(`${url}/v1/jobs`, { headers: { authorization: `Bearer guess${i}` } })).status).toBe(401);
    const limited = await fetch(`${url}/v1/nodes`, { headers: { authorization: 'Bearer guess' } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: string }).error).toMatch(/too many failed sign-ins/);
    expect((await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${t.server.adminToken}` } })).status).toBe(429);
    // public routes stay open
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });
});
