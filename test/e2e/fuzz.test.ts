/**
 * Fuzzing the real server process over loopback: thousands of malformed,
 * deep, huge and slow requests over every route of the route table, with
 * every kind of credential. Zero 5xx, zero crashes, and afterwards the
 * server still schedules a job onto a real agent. Deterministic: the PRNG is
 * seeded (BATON_FUZZ_SEED to replay another run), so a failure names the
 * request that caused it and reproduces.
 */
import http from 'node:http';
import https from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr, generateKeyPair } from '../../src/tls/x509.js';
import { TestCluster, waitFor } from '../support/cluster.js';

const SEED = Number(process.env.BATON_FUZZ_SEED ?? 0x5eed11);
const REQUESTS = 2000;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Answer {
  status: number;
  body: string;
}

describe('fuzz', () => {
  let cluster: TestCluster;
  let base: URL;
  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const int = (n: number) => Math.floor(rand() * n);
  const creds: Record<string, string | undefined> = {};
  let nodeCert: { cert: string; key: string } | undefined;
  let routes: Array<{ method: string; url: string; query: string[] }> = [];

  /** one request; `from` is the loopback source address (wrong credentials count against their source) */
  function send(method: string, path: string, headers: Record<string, string>, body?: Buffer | string, from = '127.0.0.1', asNode = false): Promise<Answer> {
    const secure = base.protocol === 'https:';
    const mod = secure ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          host: base.hostname,
          port: base.port,
          method,
          path,
          headers,
          localAddress: from,
          rejectUnauthorized: false,
          // a fresh connection each: a server may close a kept-alive one after refusing a body it did not read
          agent: false,
          // over TLS a node secret counts only with its node's certificate
          ...(asNode && nodeCert ? nodeCert : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
          res.on('error', reject);
        },
      );
      req.on('error', (err) => reject(new Error(`${method} ${path}: ${err.message}`)));
      req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
      if (body !== undefined) req.end(body);
      else req.end();
    });
  }

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '30s' });
    base = new URL(cluster.url);
    await cluster.addAgent({ name: 'fuzz-a', drivers: 'exec', cpu: '2', memory: '2Gi' });
    const admin = cluster.adminToken;
    creds.admin = admin;
    creds.join = cluster.joinToken;
    for (const [name, role, namespace] of [
      ['read', 'read', 'default'],
      ['submit', 'submit', 'default'],
      ['operator', 'operator', '*'],
      ['other', 'admin', 'other'],
    ]) {
      const r = await send(
        'POST',
        '/v1/tokens',
        { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        JSON.stringify({ name, role, namespace }),
      );
      expect(r.status, r.body).toBe(200);
      creds[name] = (JSON.parse(r.body) as { secret: string }).secret;
    }
    // a node of the fuzzer's own, so agent routes are reached with a real node secret (and, over TLS, its certificate)
    const kp = base.protocol === 'https:' ? await generateKeyPair() : undefined;
    const reg = await fetchAll(
      '/v1/agent/register',
      'POST',
      { authorization: `Bearer ${cluster.joinToken}`, 'content-type': 'application/json' },
      JSON.stringify({
        name: 'fuzz-node',
        nodeClass: '',
        datacenter: 'dc1',
        drivers: {},
        attributes: {},
        labels: {},
        capacity: { cpu: 0, memory: 0, disk: 0 },
        reserved: { cpu: 0, memory: 0, disk: 0 },
        ...(kp ? { csr: await createCsr(kp, 'fuzz-node') } : {}),
      }),
    );
    const registered = JSON.parse(reg) as { secret: string; certificate?: string };
    creds.node = registered.secret;
    if (kp) {
      expect(registered.certificate, reg).toBeDefined();
      nodeCert = { cert: registered.certificate!, key: kp.keyPem };
    }
    const doc = JSON.parse(await fetchAll('/v1/openapi.json')) as {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
    };
    routes = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops).map(([m, op]) => ({
        method: m.toUpperCase(),
        url: p,
        query: (op.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name),
      })),
    );
    expect(routes.length).toBeGreaterThan(40);
  }, 120_000);

  /** the whole answer's text (send() keeps only its start) */
  async function fetchAll(path: string, method = 'GET', headers: Record<string, string> = {}, body?: string): Promise<string> {
    const secure = base.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request({ host: base.hostname, port: base.port, path, method, headers, rejectUnauthorized: false }, (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  afterAll(async () => {
    await cluster?.stop();
  });

  const garbageStrings = [
    '',
    ' ',
    '%00',
    '..%2F..%2Fetc%2Fpasswd',
    'x'.repeat(3000),
    '%F0%9F%92%A9',
    '%1B%5B2J',
    '-1',
    '1e309',
    'NaN',
    '{}',
    '%5B%5D',
    '*',
    'null',
    '0x10',
    '99999999999999999999',
  ];
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const deepObj = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  const deepYaml = (n: number) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n';
  const validJob = 'name: fz\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { memory: 8Mi, cpu: 10m }\n';

  function randomBody(): { body?: Buffer | string; type?: string } {
    switch (int(17)) {
      case 0:
        return {};
      case 1:
        return { body: '', type: 'application/json' };
      case 2:
        return { body: deep(500 + int(20_000)), type: 'application/json' };
      case 3:
        return { body: deepObj(100 + int(5000)), type: 'application/json' };
      case 4:
        return { body: `{"spec":${deep(2000)}}`, type: 'application/json' };
      case 5:
        return { body: `name: x\ntasks: ${deep(3000)}\n`, type: 'application/yaml' };
      case 6:
        return { body: deepYaml(400), type: 'application/yaml' };
      case 7:
        return { body: JSON.stringify({ source: `a: ${deep(5000)}` }), type: 'application/json' };
      case 8:
        return {
          body: Buffer.from(Array.from({ length: int(2000) }, () => int(256))),
          type: pick(['application/json', 'application/yaml', 'application/octet-stream', 'text/plain']),
        };
      case 9:
        return { body: '{"a":', type: 'application/json' };
      case 10:
        return { body: '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}', type: 'application/json' };
      case 11:
        return {
          body: JSON.stringify({ runs: Array.from({ length: int(50) }, () => ({ meta: { [pick(['', 'A=B', 'K\u0000', 'K\n', 'ok'])]: 'v' } })) }),
          type: 'application/json',
        };
      case 12:
        return {
          body: JSON.stringify({
            name: pick(['\u001b[2J', '', 'n']),
            nodeClass: 1,
            capacity: { cpu: 1e300, memory: -1 },
            updates: 'x',
            chunks: [{}],
            count: 1e9,
            deadline: '100000000000h',
            eligible: 'yes',
            olderThan: 'forever',
            version: -1,
            role: 'root',
            namespace: '../',
            ttl: '1e99h',
          }),
          type: 'application/json',
        };
      case 16: {
        const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
        for (let k = 1; k < 12; k++)
          lines.push(
            `a${k}: &a${k} [${Array(9)
              .fill(`*a${k - 1}`)
              .join(', ')}]`,
          );
        return { body: `name: x\ntype: batch\n${lines.join('\n')}\ntasks: *a11\n`, type: 'application/yaml' };
      }
      case 13:
        return { body: validJob.replace('true', pick(['true', '"\u0000"', '[[[[', 'x'.repeat(5000)])), type: 'application/yaml' };
      case 14:
        return {
          body: JSON.stringify({
            spec: {
              name: 'fz',
              type: 'batch',
              tasks: [{ name: 'm', driver: 'exec', command: '/bin/true', env: { [pick(['', 'A=B', 'X\u0000', 'OK'])]: pick(['v', 'a\u0000b']) } }],
            },
          }),
          type: 'application/json',
        };
      default:
        return { body: JSON.stringify({ x: 'y'.repeat(int(100_000)) }), type: 'application/json' };
    }
  }

  it(`answers ${REQUESTS} malformed, deep and huge requests on every route with every credential, never a 5xx (seed ${SEED})`, async () => {
    const failures: string[] = [];
    // the node credential gets past auth into the agent routes' handlers (over TLS: with its certificate)
    let nodeReached = 0;
    const credNames = ['admin', 'read', 'submit', 'operator', 'other', 'node', 'join', undefined];
    for (let i = 0; i < REQUESTS; i++) {
      const r = pick(routes);
      const path = r.url.replace(/\{(\w+)\}/g, () => encodeURIComponent(decodeURIComponent(pick(garbageStrings)) || 'x'));
      const q = r.query.filter(() => rand() < 0.5).map((k) => `${k}=${pick(garbageStrings)}`);
      // blocking queries: never wait (the answer would take minutes); follow=false for the event stream
      // a garbage ticket is a wrong credential: those are sent from their own source below
      const query = [
        ...q.filter((p) => !p.startsWith('wait=') && !p.startsWith('follow=') && !p.startsWith('ticket=')),
        ...(r.url === '/v1/events' ? ['follow=false'] : []),
      ];
      const full = `${path}${query.length ? `?${query.join('&')}` : ''}`.replace(/ /g, '%20');
      const c = pick(credNames);
      const headers: Record<string, string> = {};
      if (c) headers.authorization = `Bearer ${creds[c]}`;
      const { body, type } = r.method === 'GET' || r.method === 'DELETE' ? (rand() < 0.1 ? randomBody() : {}) : randomBody();
      if (type) headers['content-type'] = type;
      let a: Answer;
      try {
        a = await send(r.method === 'HEAD' ? 'GET' : r.method, full, headers, body, '127.0.0.1', c === 'node');
      } catch (err) {
        failures.push(`#${i} ${r.method} ${full} as ${c}: ${(err as Error).message}`);
        break;
      }
      if (c === 'node' && r.url.startsWith('/v1/agent/') && a.status !== 401 && a.status !== 403) nodeReached++;
      if (a.status >= 500 || a.status === 0)
        failures.push(`#${i} ${r.method} ${full.slice(0, 200)} as ${c} (${type}, ${String(body ?? '').length} bytes): ${a.status} ${a.body}`);
    }
    expect(failures).toEqual([]);
    expect(nodeReached).toBeGreaterThan(0);
  }, 120_000);

  it('answers bodies over the limit with 413 and garbage credentials with 401, then 429, from their own source', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 0x20);
    for (let i = 0; i < 10; i++) {
      const r = await send('POST', '/v1/jobs', { authorization: `Bearer ${creds.submit}`, 'content-type': 'application/json' }, big);
      expect(r.status).toBe(413);
    }
    const statuses = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const r = pick(routes);
      const auth = pick([`Bearer guess${int(1e9)}`, 'Basic abc', 'Bearer', `Bearer node_${int(1e9)}`, `Bearer join_${int(1e9)}`, 'x'.repeat(int(8000))]);
      const path = r.url === '/v1/events' ? `/v1/events?follow=false&ticket=${pick(['', 'evt_x', 'x'.repeat(300), '%00'])}` : r.url.replace(/\{(\w+)\}/g, 'x');
      const a = await send(r.method, path, r.url === '/v1/events' && rand() < 0.5 ? {} : { authorization: auth }, undefined, '127.0.0.2');
      expect(a.status, `${r.method} ${r.url} with ${auth.slice(0, 40)}`).toBeLessThan(500);
      statuses.add(a.status);
    }
    expect(statuses.has(429)).toBe(true);
    // the limited source is that one only
    expect((await send('GET', '/v1/status', { authorization: `Bearer ${creds.read}` })).status).toBe(200);
  }, 60_000);

  it('keeps serving while slow clients trickle headers, never finish bodies, or never read the event stream', async () => {
    const secure = base.protocol === 'https:';
    const open = (): Socket =>
      secure
        ? tlsConnect({ host: base.hostname, port: Number(base.port), rejectUnauthorized: false })
        : netConnect({ host: base.hostname, port: Number(base.port) });
    const sockets: Socket[] = [];
    for (let i = 0; i < 60; i++) {
      const s = open();
      s.on('error', () => undefined);
      sockets.push(s);
      if (i % 3 === 0)
        s.write(
          `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${creds.submit}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"spec":`,
        );
      else if (i % 3 === 1) s.write('GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      else {
        // an event stream whose reader never reads
        s.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${creds.admin}\r\n\r\n`);
        s.pause();
      }
    }
    const trickle = setInterval(() => {
      for (const [i, s] of sockets.entries()) if (i % 3 === 1 && !s.destroyed) s.write('a');
    }, 100);
    try {
      // the cluster changes meanwhile (events for the stalled streams), and ordinary requests are answered
      for (let i = 0; i < 20; i++) {
        const r = await send(
          'POST',
          '/v1/jobs',
          { authorization: `Bearer ${creds.submit}`, 'content-type': 'application/yaml' },
          validJob.replace('name: fz', `name: slow-${i}`),
        );
        expect(r.status, r.body).toBe(200);
      }
      expect((await send('GET', '/v1/status', { authorization: `Bearer ${creds.read}` })).status).toBe(200);
    } finally {
      clearInterval(trickle);
      for (const s of sockets) s.destroy();
    }
  }, 60_000);

  it('still schedules afterwards: a job is placed on the agent and runs', async () => {
    const r = await send(
      'POST',
      '/v1/jobs',
      { authorization: `Bearer ${creds.submit}`, 'content-type': 'application/yaml' },
      validJob.replace('name: fz', 'name: after-fuzz'),
    );
    expect(r.status, r.body).toBe(200);
    const done = await waitFor(
      'after-fuzz to complete',
      async () => {
        const j = await cluster.client.getJob('after-fuzz', 'default');
        return j.allocs.some((a) => a.clientStatus === 'complete') ? j : undefined;
      },
      60_000,
    );
    expect(done.allocs[0].nodeId).toBeTruthy();
  }, 90_000);
});
