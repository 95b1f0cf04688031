import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Transport, TransportError } from './transport.js';

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: URL; server: Server }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`), server };
}

describe('the Node transport', () => {
  it('answers status, headers and body, and sends the body it is given', async () => {
    const { url } = await serve((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        res.writeHead(201, { 'x-seen': `${req.method} ${req.headers['content-length']}` });
        res.end(JSON.stringify({ got: body }));
      });
    });
    const t = new Transport();
    const res = await t.request(url, { method: 'POST', body: 'héllo' });
    expect([res.status, res.ok, res.headers.get('X-Seen')]).toEqual([201, true, 'POST 6']);
    expect(await res.json()).toEqual({ got: 'héllo' });
    t.close();
  });

  it('sends a request again on a new connection when the server closed the kept-alive one it went out on', async () => {
    let n = 0;
    const { url, server } = await serve((_req, res) => res.end(String(++n)));
    const t = new Transport();
    expect(await (await t.request(url)).text()).toBe('1');
    // the server drops its idle connections, as one does at its keep-alive timeout, while the client still holds one
    server.closeIdleConnections();
    expect(await (await t.request(url)).text()).toBe('2');
    t.close();
  });

  it('ends a body that is being read when the signal aborts, with the abort', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200);
      res.write('first\n');
    });
    const t = new Transport();
    const ctl = new AbortController();
    const res = await t.request(url, { signal: ctl.signal });
    const read = (async () => {
      const seen: string[] = [];
      for await (const c of res.body) {
        seen.push(Buffer.from(c).toString());
        ctl.abort();
      }
      return seen;
    })();
    await expect(read).rejects.toMatchObject({ name: 'AbortError' });
    t.close();
  });

  it('gives up on an answer whose headers do not come, with a code the failover logic knows', async () => {
    const { url } = await serve(() => {
      /* never answers */
    });
    const t = new Transport({ headersTimeoutMs: 200 });
    const err = (await t.request(url).catch((e: unknown) => e)) as TransportError;
    expect(err).toBeInstanceOf(TransportError);
    expect(err.cause.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    t.close();
  });

  it('reports a refused connection by its code', async () => {
    const { url, server } = await serve((_q, s) => s.end());
    await new Promise((r) => server.close(r));
    servers = [];
    const err = (await new Transport().request(url).catch((e: unknown) => e)) as TransportError;
    expect(err.cause.code).toBe('ECONNREFUSED');
  });
});
