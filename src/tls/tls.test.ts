import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatJoinToken, parseJoinToken } from './join-token.js';
import { ServerTls } from './server-tls.js';
import { createCa, createCsr, fingerprintOf, generateKeyPair, issueLeaf, needsRenewal, parseFingerprint } from './x509.js';

describe('join tokens', () => {
  it('carry the CA fingerprint and give back the secret the server hashes', () => {
    const fp = 'a1'.repeat(32);
    const t = formatJoinToken('join_s3cr_et-x', fp);
    expect(t).toBe(`join_${fp}_s3cr_et-x`);
    expect(parseJoinToken(t)).toEqual({ fingerprint: fp, secret: 'join_s3cr_et-x' });
    // a token of a plain-HTTP server (or of an older baton) pins nothing
    expect(parseJoinToken('join_s3cr_et-x')).toEqual({ secret: 'join_s3cr_et-x' });
    expect(formatJoinToken('join_x', undefined)).toBe('join_x');
  });

  it('fingerprints read with or without the sha256: prefix and colons', () => {
    const hex = 'ab'.repeat(32);
    expect(parseFingerprint(`sha256:${hex}`)).toBe(hex);
    expect(parseFingerprint(hex.toUpperCase().match(/../g)!.join(':'))).toBe(hex);
    expect(parseFingerprint('sha256:abc')).toBeUndefined();
  });
});

describe('certificates', () => {
  it('a node certificate names the node, chains to the CA and is due for renewal at half its life', async () => {
    const ca = await createCa('test CA', 3600_000);
    const kp = await generateKeyPair();
    const now = Date.now();
    const pem = await issueLeaf(ca, { commonName: 'node-1', usage: 'client', lifetimeMs: 100_000, publicKey: kp.keys.publicKey }, now);
    const cert = new X509Certificate(pem);
    expect(cert.subject).toContain('CN=node-1');
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(needsRenewal(pem, now + 40_000)).toBe(false);
    expect(needsRenewal(pem, now + 50_000)).toBe(true);
    // never beyond the CA's own end
    const long = await issueLeaf(ca, { commonName: 'n', usage: 'client', lifetimeMs: 10 * 3600_000, publicKey: kp.keys.publicKey }, now);
    expect(Date.parse(new X509Certificate(long).validTo)).toBeLessThanOrEqual(Date.parse(new X509Certificate(ca.certPem).validTo));
  });

  it("baton's own CA: made once, kept across opens, key 0600; the server certificate names loopback and --tls-san", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-tls-'));
    const a = await ServerTls.open({ dataDir: dir, host: '127.0.0.1', sans: ['baton.example', '10.9.8.7'] });
    const b = await ServerTls.open({ dataDir: dir, host: '127.0.0.1' });
    expect(b.fingerprint).toBe(a.fingerprint);
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'server.key'))).mode & 0o777).toBe(0o600);
    const san = new X509Certificate(a.serverCertPem).subjectAltName ?? '';
    for (const n of ['DNS:localhost', 'DNS:baton.example', 'IP Address:127.0.0.1', 'IP Address:10.9.8.7']) expect(san).toContain(n);
    // the same key across starts, so a pinned server key stays valid
    expect(new X509Certificate(b.serverCertPem).publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      new X509Certificate(a.serverCertPem).publicKey.export({ type: 'spki', format: 'der' }),
    );
    // a CSR that is not signed by its key is refused
    await expect(a.issueNode('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', 'n')).rejects.toThrow(/certificate request/);
  });

  it("the operator's certificate: join tokens pin --tls-ca; node certificates from --tls-ca-key, else the cluster CA", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-tls-own-'));
    const ca = await createCa('corp CA', 3600_000);
    const kp = await generateKeyPair();
    const cert = await issueLeaf(ca, { commonName: 'baton.corp', dns: ['baton.corp'], usage: 'server', lifetimeMs: 3600_000, publicKey: kp.keys.publicKey });
    const files = { certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem'), caFile: join(dir, 'ca.pem.in'), caKeyFile: join(dir, 'ca.key.in') };
    await Promise.all([
      writeFile(files.certFile, cert),
      writeFile(files.keyFile, kp.keyPem),
      writeFile(files.caFile, ca.certPem),
      writeFile(files.caKeyFile, ca.keyPem),
    ]);
    const nodeKey = await generateKeyPair();
    const csr = await createCsr(nodeKey, 'x');

    const withKey = await ServerTls.open({ dataDir: dir, host: '127.0.0.1', ...files });
    expect(withKey.fingerprint).toBe(fingerprintOf(ca.certPem));
    expect(withKey.files().cert).toBe(cert);
    expect(new X509Certificate(await withKey.issueNode(csr, 'n1')).verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(await withKey.renewServerIfDue(Date.now() + 10 * 3600_000)).toBe(false);

    const noKey = await ServerTls.open({ dataDir: dir, host: '127.0.0.1', ...files, caKeyFile: undefined });
    expect(noKey.fingerprint).toBe(fingerprintOf(ca.certPem));
    const cluster = await readFile(join(dir, 'ca.pem'), 'utf8');
    expect(new X509Certificate(await noKey.issueNode(csr, 'n1')).verify(new X509Certificate(cluster).publicKey)).toBe(true);
    expect(noKey.files().ca).toBe(cluster);

    await expect(ServerTls.open({ dataDir: dir, host: '127.0.0.1', certFile: files.certFile })).rejects.toThrow(/go together/);
  });
});
