/**
 * Mutual TLS with real processes: the agent joins with the printed token (its
 * CA fingerprint pins the server) and every later call carries the node's
 * certificate; a token pinning another CA is refused; agent routes refuse a
 * caller without the node's certificate; short-lived certificates renew while
 * a task runs; plain HTTP only with --insecure-http; tokens stay out of argv
 * and out of later start banners.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent as Dispatcher, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNodeFile } from '../../src/agent/registration.js';
import { formatJoinToken, parseJoinToken } from '../../src/tls/join-token.js';
import { createCa, fingerprintOf } from '../../src/tls/x509.js';
import { runCli, startProc, TestCluster, waitFor } from '../support/cluster.js';
import { waitForJob } from '../support/e2e.js';

const subjectCn = (pem: string): string | undefined => /CN=([^\n,]+)/.exec(new X509Certificate(pem).subject)?.[1];

describe('mutual TLS between agents and the server', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    // node and server certificates live 20s: renewals happen while the suite runs
    cluster = await TestCluster.start({ env: { BATON_CERT_LIFETIME: '20s' } });
  });
  afterAll(async () => cluster?.stop());

  it('an agent joins with the printed token and gets a node certificate; its key stays in its data dir', async () => {
    expect(cluster.url).toMatch(/^https:\/\//);
    expect(parseJoinToken(cluster.joinToken).fingerprint).toBe(fingerprintOf(cluster.caPem));
    expect(cluster.caFingerprint).toBe(`sha256:${fingerprintOf(cluster.caPem)}`);
    expect((await stat(join(cluster.dataDir, 'ca.key'))).mode & 0o777).toBe(0o600);
    const agent = await cluster.addAgent({ name: 'tls-a', drivers: 'exec' });
    // the server may count the node ready as soon as it registered, a moment before the agent saved its files
    const nf = await waitFor('node.json', () => readNodeFile(agent.dataDir));
    const nodePem = await readFile(join(agent.dataDir, 'node.pem'), 'utf8');
    expect(subjectCn(nodePem)).toBe(nf.nodeId);
    expect(new X509Certificate(nodePem).verify(new X509Certificate(cluster.caPem).publicKey)).toBe(true);
    expect((await stat(join(agent.dataDir, 'node.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(agent.dataDir, 'ca.pem'), 'utf8')).toBe(cluster.caPem);
  });

  it("agent routes refuse the node's secret without its certificate, and take it with the certificate", async () => {
    const agent = cluster.agents[0];
    const nf = (await readNodeFile(agent.dataDir))!;
    const beat = (d: Dispatcher) =>
      fetch(`${cluster.url}/v1/agent/heartbeat`, {
        method: 'POST',
        dispatcher: d,
        headers: { authorization: `Bearer ${nf.secret}`, 'content-type': 'application/json' },
        body: '{}',
      });
    const noCert = await beat(new Dispatcher({ connect: { ca: cluster.caPem } }));
    expect(noCert.status).toBe(403);
    expect(((await noCert.json()) as { error: string }).error).toMatch(/client certificate/);
    const [cert, key] = await Promise.all([readFile(join(agent.dataDir, 'node.pem'), 'utf8'), readFile(join(agent.dataDir, 'node.key'), 'utf8')]);
    const withCert = await beat(new Dispatcher({ connect: { ca: cluster.caPem, cert, key } }));
    expect(withCert.status).toBe(200);
    // the admin token is no way into agent routes either
    const admin = await fetch(`${cluster.url}/v1/agent/allocs`, {
      dispatcher: new Dispatcher({ connect: { ca: cluster.caPem } }),
      headers: { authorization: `Bearer ${cluster.adminToken}` },
    });
    expect(admin.status).toBe(403);
  });

  it('a node certificate near expiry is renewed while a task runs, and the agent keeps working', async () => {
    const agent = cluster.agents[0];
    await cluster.client.submitJob(
      'name: long\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", "sleep 25; echo finished"]\n    resources: { cpu: 100m, memory: 32Mi }\n',
      'long.yaml',
    );
    await waitForJob(cluster.client, 'long', (d) => d.allocs.some((a) => a.clientStatus === 'running'), 'the task to run');
    const first = await readFile(join(agent.dataDir, 'node.pem'), 'utf8');
    const serverFirst = await readFile(join(cluster.dataDir, 'server.pem'), 'utf8');
    // a 20s certificate is renewed after 10s: twice before the task ends
    const seen = new Set([new X509Certificate(first).serialNumber]);
    await waitFor(
      'two node certificate renewals',
      async () => {
        seen.add(new X509Certificate(await readFile(join(agent.dataDir, 'node.pem'), 'utf8')).serialNumber);
        return seen.size >= 3;
      },
      60_000,
      500,
    );
    const d = await waitForJob(cluster.client, 'long', (x) => x.summary.status === 'complete' || x.summary.status === 'failed', 'the job to end', 60_000);
    expect(d.summary.status).toBe('complete');
    // the first certificate has expired by now: the node is still ready, so its calls use the new one
    expect(Date.parse(new X509Certificate(first).validTo)).toBeLessThan(Date.now());
    const node = (await cluster.client.listNodes()).find((n) => n.name === 'tls-a')!;
    expect(node.status).toBe('ready');
    // the server renewed its own certificate too, and serves the new one
    const serverNow = await readFile(join(cluster.dataDir, 'server.pem'), 'utf8');
    expect(new X509Certificate(serverNow).serialNumber).not.toBe(new X509Certificate(serverFirst).serialNumber);
    expect(await cluster.client.status()).toBeTruthy();
  }, 120_000);

  it('an agent given a token that pins another CA refuses the server and exits non-zero', async () => {
    const other = await createCa('someone else', 3600_000);
    const token = formatJoinToken(parseJoinToken(cluster.joinToken).secret, fingerprintOf(other.certPem));
    const dir = await cluster.tempDir('agent-wrong-ca');
    const p = startProc(['agent', '--server', cluster.url, '--data-dir', dir, '--name', 'mitm', '--drivers', 'exec'], { BATON_JOIN_TOKEN: token });
    const code = await p.exited;
    expect(code).not.toBe(0);
    expect(p.output()).toMatch(/presents CA sha256:[0-9a-f]{64}, but the token pins sha256:[0-9a-f]{64}.*refusing/);
    expect((await cluster.client.listNodes()).some((n) => n.name === 'mitm')).toBe(false);
  });

  it('plain HTTP to the server gets no answer; the CLI trusts it through --ca-file or BATON_CA_FILE only', async () => {
    const plain = cluster.url.replace('https:', 'http:');
    await expect(fetch(`${plain}/v1/status`, { dispatcher: new Dispatcher(), signal: AbortSignal.timeout(10_000) })).rejects.toThrow();
    const home = await cluster.tempDir('cli-home');
    const untrusted = await runCli(['node', 'ls'], {
      HOME: home,
      BATON_DATA_DIR: join(home, 'none'),
      BATON_ADDR: cluster.url,
      BATON_TOKEN: cluster.adminToken,
    });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/cannot reach the baton server .*(CERT|SIGNED|certificate)/i);
    const trusted = await runCli(['node', 'ls', '-o', 'json', '--ca-file', cluster.caFile], {
      HOME: home,
      BATON_DATA_DIR: join(home, 'none'),
      BATON_ADDR: cluster.url,
      BATON_TOKEN: cluster.adminToken,
    });
    expect(trusted.stderr).toBe('');
    expect(JSON.parse(trusted.stdout).some((n: { name: string }) => n.name === 'tls-a')).toBe(true);
  });

  it('the CLI run where the server wrote server.json finds URL, token and CA; another --addr does not get that token', async () => {
    const env = { HOME: await cluster.tempDir('cli-home2'), BATON_DATA_DIR: cluster.dataDir, BATON_ADDR: '', BATON_TOKEN: '' };
    const ok = await runCli(['node', 'ls', '-o', 'json'], env);
    expect(ok.stderr).toBe('');
    const other = await runCli(['node', 'ls', '--addr', 'https://127.0.0.1:9'], env);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/belongs to https:\/\/127\.0\.0\.1:\d+, not https:\/\/127\.0\.0\.1:9.*--token/);
  });

  it('the join token given in the environment or a file never shows in the agent command line', async () => {
    const a = cluster.agents[0];
    const cmdline = await readFile(`/proc/${a.proc!.child.pid}/cmdline`, 'utf8');
    expect(cmdline).not.toContain(parseJoinToken(cluster.joinToken).secret.slice(5));
    const tokenFile = join(await cluster.tempDir('token'), 'join');
    await writeFile(tokenFile, `${cluster.joinToken}\n`, { mode: 0o600 });
    const b = await cluster.addAgent({ name: 'tls-file', drivers: 'exec', env: { BATON_JOIN_TOKEN: '' }, extra: ['--token-file', tokenFile] });
    expect(await readFile(`/proc/${b.proc!.child.pid}/cmdline`, 'utf8')).not.toContain(parseJoinToken(cluster.joinToken).secret.slice(5));
  });
});

describe('server start banners and --insecure-http', () => {
  it('prints the tokens on the first start only; later starts say where they are', async () => {
    const c = await TestCluster.start();
    try {
      expect(c.server!.output()).toContain(c.adminToken);
      c.server!.child.kill('SIGTERM');
      await c.server!.exited;
      const again = startProc(['server', '--data-dir', c.dataDir, '--bind', new URL(c.url).host, '--log-level', 'warn'], { HOME: c.dataDir });
      try {
        await waitFor('the second start', () => again.output().includes('listening on'), 30_000);
        await waitFor('the banner', () => again.output().includes('server.json'), 5000);
        expect(again.output()).not.toContain(c.adminToken);
        expect(again.output()).not.toContain(parseJoinToken(c.joinToken).secret.slice(5));
        expect(again.output()).toMatch(/tokens are in .*server\.json/);
      } finally {
        again.child.kill('SIGTERM');
        await again.exited;
      }
    } finally {
      await c.stop();
    }
  });

  it('serves plain HTTP only when asked, with a warning; agents then join without a pin', async () => {
    const c = await TestCluster.start({ insecureHttp: true });
    try {
      expect(c.url).toMatch(/^http:\/\//);
      expect(c.server!.output()).toMatch(/WARNING: --insecure-http/);
      expect(parseJoinToken(c.joinToken).fingerprint).toBeUndefined();
      const a = await c.addAgent({ name: 'plain', drivers: 'exec' });
      expect(a.proc!.output()).toMatch(/plain http/);
      const https = c.url.replace('http:', 'https:');
      await expect(fetch(`${https}/v1/status`, { dispatcher: new Dispatcher({ connect: { rejectUnauthorized: false } }) })).rejects.toThrow();
    } finally {
      await c.stop();
    }
  });
});
