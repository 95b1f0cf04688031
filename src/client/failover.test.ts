/**
 * Several servers of one cluster, as real local HTTP servers: a request moves
 * on only when its server is unreachable, never after an answer, and a
 * non-idempotent one only when it cannot have been received.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { BatonApiError, HttpClient } from './http.js';
import { BatonClient } from './client.js';
import { createCa, fingerprintOf, generateKeyPair, issueLeaf } from '../tls/x509.js';

interface Fake {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

const open: Fake[] = [];
const clients: HttpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(open.splice(0).map((f) => f.close()));
});

function track<T extends Fake>(f: T): T {
  open.push(f);
  return f;
}

function urlOf(server: HttpServer | HttpsServer | NetServer, scheme = 'http'): string {
  const addr = server.address();
  return `${scheme}://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

/** an HTTP server that answers every request with `answer`, counting them */
async function httpServer(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Fake> {
  const hits: string[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push(`${req.method} ${req.url}${body ? ` ${body}` : ''}`);
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return track({
    url: urlOf(server),
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  });
}

const json = (status: number, body: unknown) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** a port nothing listens on: bound, then closed */
async function closedPort(): Promise<string> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const url = urlOf(s);
  await new Promise<void>((r) => s.close(() => r()));
  return url;
}

/** accepts the connection, reads the request, then drops the connection without a word */
async function dropper(): Promise<Fake> {
  const hits: string[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    let seen = '';
    s.on('data', (c: Buffer) => {
      seen += c.toString();
      if (seen.includes('\r\n\r\n')) {
        hits.push(seen.split('\r\n')[0]);
        s.destroy();
      }
    });
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return track({
    url: urlOf(server),
    hits,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  });
}

/** accepts the connection and reads, but never answers (a partition that drops packets) */
async function silent(): Promise<Fake> {
  const hits: string[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    // requests, not connections: undici may open a spare one after an aborted request
    s.on('data', (c: Buffer) => {
      for (const line of c.toString().split('\r\n')) if (/^[A-Z]+ \/\S* HTTP\/1\.1$/.test(line)) hits.push(line);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return track({
    url: urlOf(server),
    hits,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  });
}

function client(...urls: string[]): HttpClient {
  const c = new HttpClient({ baseUrl: urls, token: 't' });
  clients.push(c);
  return c;
}

const failure = (p: Promise<unknown>): Promise<BatonApiError> =>
  p.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e as BatonApiError,
  );

describe('HttpClient with several servers', () => {
  it('answers from the second server when the first refuses the connection', async () => {
    const down = await closedPort();
    const up = await httpServer(json(200, { ok: 'b' }));
    const c = client(down, up.url);
    await expect(c.request('GET', '/v1/status')).resolves.toEqual({ ok: 'b' });
    expect(up.hits).toEqual(['GET /v1/status']);
  });

  it.each([404, 400, 500])('takes an HTTP %i as the answer: thrown, the second server never asked', async (status) => {
    const first = await httpServer(json(status, { error: `no such thing (${status})` }));
    const second = await httpServer(json(200, {}));
    const c = client(first.url, second.url);
    const err = await failure(c.request('GET', '/v1/jobs/x'));
    expect(err).toBeInstanceOf(BatonApiError);
    expect(err.status).toBe(status);
    expect(err.message).toBe(`no such thing (${status})`);
    expect(first.hits).toHaveLength(1);
    expect(second.hits).toHaveLength(0);
    // and a POST too
    await failure(c.request('POST', '/v1/jobs', { body: { spec: {} } }));
    expect(first.hits).toHaveLength(2);
    expect(second.hits).toHaveLength(0);
  });

  it('moves on after an HTTP 503 (a server shutting down), a GET and a POST alike', async () => {
    const first = await httpServer(json(503, { error: 'shutting down' }));
    const second = await httpServer(json(200, { ok: true }));
    await expect(client(first.url, second.url).request('GET', '/v1/status')).resolves.toEqual({ ok: true });
    await expect(client(first.url, second.url).request('POST', '/v1/jobs', { body: { a: 1 } })).resolves.toEqual({ ok: true });
    expect(first.hits).toEqual(['GET /v1/status', 'POST /v1/jobs {"a":1}']);
    expect(second.hits).toEqual(['GET /v1/status', 'POST /v1/jobs {"a":1}']);
  });

  it('moves a GET on after a 502 from a proxy, but not a POST: the proxy may have passed it on', async () => {
    const proxy = await httpServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    });
    const second = await httpServer(json(200, { ok: true }));
    const c = client(proxy.url, second.url);
    await expect(c.request('GET', '/v1/nodes')).resolves.toEqual({ ok: true });
    const c2 = client(proxy.url, second.url);
    const err = await failure(c2.request('POST', '/v1/jobs', { body: {} }));
    expect(err.status).toBe(502);
    expect(second.hits).toEqual(['GET /v1/nodes']);
    // the next request starts on the other server
    expect(c2.currentUrl).toBe(second.url);
  });

  it('sends a POST whose connection was refused to the next server', async () => {
    const down = await closedPort();
    const up = await httpServer(json(201, { id: 'j1' }));
    await expect(client(down, up.url).request('POST', '/v1/jobs', { body: { spec: 'x' } })).resolves.toEqual({ id: 'j1' });
    expect(up.hits).toEqual(['POST /v1/jobs {"spec":"x"}']);
  });

  it('does not send a POST elsewhere when the connection dropped after the request was read: it may have been done', async () => {
    const drop = await dropper();
    const second = await httpServer(json(201, { id: 'j1' }));
    const c = client(drop.url, second.url);
    const err = await failure(c.request('POST', '/v1/jobs', { body: { spec: 'x' } }));
    expect(err).toBeInstanceOf(BatonApiError);
    expect(err.status).toBe(0);
    expect(err.message).toContain(drop.url);
    expect(err.message).toMatch(/POST not retried on another server: it may have been received/);
    expect(drop.hits).toEqual(['POST /v1/jobs HTTP/1.1']);
    expect(second.hits).toEqual([]);
    // a GET may go on: asking again does nothing twice
    await expect(c.request('GET', '/v1/jobs')).resolves.toEqual({ id: 'j1' });
  });

  it('moves a GET on when its server does not answer in time, and a POST not', async () => {
    const hang = await silent();
    const up = await httpServer(json(200, { ok: true }));
    await expect(client(hang.url, up.url).request('GET', '/v1/status', { timeoutMs: 200 })).resolves.toEqual({ ok: true });
    const err = await failure(client(hang.url, up.url).request('POST', '/v1/agent/heartbeat', { body: {}, timeoutMs: 200 }));
    expect(err.message).toMatch(/timed out after 0\.2s; POST not retried/);
    expect(up.hits).toEqual(['GET /v1/status']);
  });

  it('after trying every server once, names each and why it failed', async () => {
    const down = await closedPort();
    const hang = await silent();
    const busy = await httpServer(json(503, { error: 'shutting down' }));
    const err = await failure(client(down, hang.url, busy.url).request('GET', '/v1/status', { timeoutMs: 300 }));
    expect(err).toBeInstanceOf(BatonApiError);
    expect(err.message).toBe(
      `no baton server answered GET /v1/status: ${down} (connection refused), ${hang.url} (timed out after 0.3s), ${busy.url} (HTTP 503: shutting down)`,
    );
    expect(hang.hits).toEqual(['GET /v1/status HTTP/1.1']);
    expect(busy.hits).toEqual(['GET /v1/status']);
  });

  it('with one server, errors read as they always did', async () => {
    const down = await closedPort();
    const err = await failure(client(down).request('GET', '/v1/status'));
    expect(err.message).toMatch(new RegExp(`^cannot reach the baton server at ${down}: ECONNREFUSED`));
    const busy = await httpServer(json(503, { error: 'shutting down' }));
    const e503 = await failure(client(busy.url).request('GET', '/v1/status'));
    expect([e503.status, e503.message]).toEqual([503, 'shutting down']);
  });

  it('stays with the server that answered: the next request goes straight to it', async () => {
    const first = await httpServer(json(503, { error: 'starting' }));
    const second = await httpServer(json(200, { ok: true }));
    const c = client(first.url, second.url);
    await c.request('GET', '/v1/status');
    expect(c.currentUrl).toBe(second.url);
    await c.request('GET', '/v1/nodes');
    await c.request('POST', '/v1/jobs', { body: {} });
    expect(first.hits).toEqual(['GET /v1/status']);
    expect(second.hits).toEqual(['GET /v1/status', 'GET /v1/nodes', 'POST /v1/jobs {}']);
  });

  it('does not retry a request the caller aborted, nor after its own deadline', async () => {
    const hang = await silent();
    const up = await httpServer(json(200, { ok: true }));
    const c = client(hang.url, up.url);
    const err = await failure(c.request('GET', '/v1/agent/allocs', { signal: AbortSignal.timeout(200) }));
    expect(err.message).toMatch(new RegExp(`no baton server answered GET /v1/agent/allocs: ${hang.url} \\(no answer before the deadline\\)`));
    expect(up.hits).toEqual([]);
    // the next one starts on the other server
    expect(c.currentUrl).toBe(up.url);
    const ac = new AbortController();
    ac.abort();
    await expect(c.request('GET', '/v1/status', { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('BatonClient and its event stream fail over too', async () => {
    const down = await closedPort();
    const up = await httpServer((req, res) => {
      if (req.url?.startsWith('/v1/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify({ index: 7, topic: 'Job', type: 'JobRegistered' })}\n\n`);
        return;
      }
      json(200, { leader: true })(req, res);
    });
    const c = new BatonClient({ baseUrl: [down, up.url], token: 't' });
    clients.push(c.http);
    await expect(c.status()).resolves.toEqual({ leader: true });
    const events = [];
    for await (const e of new BatonClient({ baseUrl: [down, up.url], token: 't' }).followEvents({ index: 3 })) events.push(e);
    expect(events).toEqual([{ index: 7, topic: 'Job', type: 'JobRegistered' }]);
    expect(up.hits).toEqual(['GET /v1/status', 'GET /v1/events?index=3']);
  });
});

describe('HttpClient with several TLS servers of one cluster', () => {
  type Ca = Awaited<ReturnType<typeof createCa>>;

  async function leaf(ca: Ca, usage: 'server' | 'client', name: string): Promise<{ cert: string; key: string }> {
    const kp = await generateKeyPair();
    const cert = await issueLeaf(ca, {
      commonName: name,
      usage,
      ips: usage === 'server' ? ['127.0.0.1'] : undefined,
      lifetimeMs: 3600_000,
      publicKey: kp.keys.publicKey,
    });
    return { cert, key: kp.keyPem };
  }

  /** a server of the cluster `ca`: wants a client certificate of that CA (where it says so) and serves the CA like /v1/agent/ca */
  async function tlsServer(ca: Ca, own: Ca = ca, requireCert = true): Promise<Fake> {
    const hits: string[] = [];
    const { cert, key } = await leaf(own, 'server', 'server');
    const server = createHttpsServer({ cert, key, ca: ca.certPem, requestCert: requireCert, rejectUnauthorized: requireCert }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      hits.push(`${req.method} ${req.url} ${String(peer?.subject?.CN ?? '-')}`);
      if (req.url === '/v1/agent/ca') return json(200, { ca: ca.certPem })(req, res);
      json(200, { ok: true })(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return track({
      url: urlOf(server, 'https'),
      hits,
      close: () => {
        server.closeAllConnections();
        return new Promise<void>((r) => server.close(() => r()));
      },
    });
  }

  it('verifies every server against the one CA and shows each the node certificate', async () => {
    const ca = await createCa('cluster CA', 3600_000);
    const node = await leaf(ca, 'client', 'node-1');
    const down = (await closedPort()).replace('http:', 'https:');
    const [a, b] = [await tlsServer(ca), await tlsServer(ca)];
    const c = new HttpClient({ baseUrl: [down, a.url, b.url], token: 't', ca: ca.certPem, ...node });
    clients.push(c);
    await expect(c.request('POST', '/v1/agent/heartbeat', { body: {} })).resolves.toEqual({ ok: true });
    await a.close();
    await expect(c.request('POST', '/v1/agent/heartbeat', { body: {} })).resolves.toEqual({ ok: true });
    expect(a.hits).toEqual(['POST /v1/agent/heartbeat node-1']);
    expect(b.hits).toEqual(['POST /v1/agent/heartbeat node-1']);
  });

  it('passes over a server whose certificate is not of the cluster, a POST too (the request was never sent)', async () => {
    const ca = await createCa('cluster CA', 3600_000);
    const other = await createCa('someone else', 3600_000);
    const node = await leaf(ca, 'client', 'node-1');
    const stranger = await tlsServer(ca, other);
    const good = await tlsServer(ca);
    const c = new HttpClient({ baseUrl: [stranger.url, good.url], token: 't', ca: ca.certPem, ...node });
    clients.push(c);
    await expect(c.request('POST', '/v1/jobs', { body: {} })).resolves.toEqual({ ok: true });
    expect(stranger.hits).toEqual([]);
    expect(good.hits).toEqual(['POST /v1/jobs node-1']);
    // alone, it is named with its hint
    const lone = new HttpClient({ baseUrl: [stranger.url], token: 't', ca: ca.certPem });
    clients.push(lone);
    await expect(lone.request('GET', '/v1/status')).rejects.toThrow(
      /cannot reach the baton server at https:\/\/127\.0\.0\.1:\d+: \S+ \(the server certificate/,
    );
  });

  it('pins the CA by its fingerprint from the first server that answers', async () => {
    const ca = await createCa('cluster CA', 3600_000);
    const down = (await closedPort()).replace('http:', 'https:');
    const up = await tlsServer(ca, ca, false);
    const c = new HttpClient({ baseUrl: [down, up.url], token: 't', caFingerprint: fingerprintOf(ca.certPem) });
    clients.push(c);
    await expect(c.request('GET', '/v1/status')).resolves.toEqual({ ok: true });
    expect(await c.trustedCa()).toBe(ca.certPem);
    expect(up.hits).toEqual(['GET /v1/agent/ca -', 'GET /v1/status -']);
  });
});
