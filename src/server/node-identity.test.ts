import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, fetch } from 'undici';
import { BatonClient } from '../client/client.js';
import { HttpClient } from '../client/http.js';
import { fingerprintOf } from '../tls/x509.js';
import { parseJoinToken } from '../tls/join-token.js';
import { issueNodeCert } from './node-identity.js';
import { nodeRequest, startTestServer, type TestServer } from './server.fixture.js';

describe('agent routes over mutual TLS', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1 << 20, tls: true });
  });
  afterAll(() => t.close());

  const register = async (name: string): Promise<{ nodeId: string; secret: string; http: HttpClient }> => {
    const join = new HttpClient({ baseUrl: t.server.url, token: t.server.joinToken, ca: t.server.tls!.caPem });
    const r = await join.request<{ nodeId: string; secret: string }>('POST', '/v1/agent/register', { body: nodeRequest(name) });
    const { cert, key } = await issueNodeCert(t.server.tls!, r.nodeId);
    return { ...r, http: new HttpClient({ baseUrl: t.server.url, token: r.secret, ca: t.server.tls!.caPem, cert, key }) };
  };

  it('the join token pins the CA the server serves', async () => {
    expect(t.server.url.startsWith('https://')).toBe(true);
    expect(parseJoinToken(t.server.joinToken).fingerprint).toBe(fingerprintOf(t.server.tls!.caPem));
    expect(await t.client.status()).toBeTruthy();
  });

  it("a node's own certificate with its own secret passes; another node's secret or no certificate gets 403", async () => {
    const a = await register('a');
    const b = await register('b');
    await expect(a.http.request('POST', '/v1/agent/heartbeat', { body: {} })).resolves.toBeTruthy();
    const aCertBSecret = new HttpClient({ ...a.http.options, token: b.secret });
    await expect(aCertBSecret.request('POST', '/v1/agent/heartbeat', { body: {} })).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/a node may act only as itself/),
    });
    const noCert = new HttpClient({ baseUrl: t.server.url, token: a.secret, ca: t.server.tls!.caPem });
    await expect(noCert.request('POST', '/v1/agent/heartbeat', { body: {} })).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/client certificate/),
    });
  });

  it('guesses from an address lock out its tokens for a while, but not an agent with its node certificate', async () => {
    // a server of its own: the lockout covers the whole loopback address for a minute
    const own = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1 << 20, tls: true });
    try {
      const ca = own.server.tls!.caPem;
      const join = new HttpClient({ baseUrl: own.server.url, token: own.server.joinToken, ca });
      const r = await join.request<{ nodeId: string; secret: string }>('POST', '/v1/agent/register', { body: nodeRequest('guessed') });
      const { cert, key } = await issueNodeCert(own.server.tls!, r.nodeId);
      const node = new HttpClient({ baseUrl: own.server.url, token: r.secret, ca, cert, key });
      const guesser = new HttpClient({ baseUrl: own.server.url, token: 'guess-not-a-token', ca });
      for (let i = 0; i < 25; i++) await guesser.request('GET', '/v1/status').catch(() => undefined);
      await expect(own.client.status()).rejects.toMatchObject({ status: 429 });
      await expect(node.request('POST', '/v1/agent/heartbeat', { body: {} })).resolves.toBeTruthy();
    } finally {
      await own.close();
    }
  });

  it('a certificate of another CA does not count', async () => {
    const a = await register('c');
    const { startTestServer: start } = await import('./server.fixture.js');
    const other = await start({ heartbeatTtlMs: 60_000, logCapBytes: 1 << 20, tls: true });
    try {
      const foreign = await issueNodeCert(other.server.tls!, a.nodeId);
      const http = new HttpClient({ baseUrl: t.server.url, token: a.secret, ca: t.server.tls!.caPem, cert: foreign.cert, key: foreign.key });
      await expect(http.request('POST', '/v1/agent/heartbeat', { body: {} })).rejects.toMatchObject({
        status: 403,
        message: expect.stringMatching(/not one this cluster's CA issued/),
      });
    } finally {
      await other.close();
    }
  });

  it('a renewal gives a new certificate for the same node', async () => {
    const a = await register('d');
    const { createCsr, generateKeyPair } = await import('../tls/x509.js');
    const kp = await generateKeyPair();
    const r = await a.http.request<{ certificate: string }>('POST', '/v1/agent/cert', { body: { csr: await createCsr(kp, 'ignored') } });
    const renewed = new HttpClient({ ...a.http.options, cert: r.certificate, key: kp.keyPem });
    await expect(renewed.request('POST', '/v1/agent/heartbeat', { body: {} })).resolves.toBeTruthy();
  });

  it('a client pinning a wrong fingerprint refuses the server; the right one connects', async () => {
    const wrong = new BatonClient({ baseUrl: t.server.url, token: t.server.adminToken, caFingerprint: '0'.repeat(64) });
    await expect(wrong.status()).rejects.toThrow(/pins sha256:0000/);
    const right = new BatonClient({ baseUrl: t.server.url, token: t.server.adminToken, caFingerprint: fingerprintOf(t.server.tls!.caPem) });
    await expect(right.status()).resolves.toBeTruthy();
  });

  it('plain HTTP to the TLS port gets no answer', async () => {
    const plain = t.server.url.replace('https:', 'http:');
    await expect(fetch(`${plain}/v1/status`, { dispatcher: new Agent() })).rejects.toThrow();
    // and a TLS connection that does not trust the CA fails the handshake
    const url = new URL(t.server.url);
    const err = await new Promise<Error>((res) => {
      const s = connect({ host: url.hostname, port: Number(url.port) }, () => res(new Error('connected')));
      s.on('error', res);
    });
    expect(err.message).toMatch(/self.signed|unable to verify|certificate/i);
  });
});
