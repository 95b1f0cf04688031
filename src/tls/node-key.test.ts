import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { createNodeCsr, generateNodeKey, importNodeKey } from './node-key.js';
import { createCa, csrPublicKey, issueLeaf } from './x509.js';
import { X509Certificate } from 'node:crypto';

describe('a node key and its request without the X.509 library', () => {
  it('makes a request the server parses, whose signature holds, naming the node', async () => {
    const key = generateNodeKey();
    const pem = createNodeCsr(key, 'node-7f3a');
    const csr = new x509.Pkcs10CertificateRequest(pem);
    expect(await csr.verify()).toBe(true);
    expect(csr.subject).toBe('CN=node-7f3a');
    // the server signs a certificate for the request's key, which is the node's
    const ca = await createCa('test', 3_600_000);
    const certPem = await issueLeaf(ca, { commonName: 'node-7f3a', usage: 'client', lifetimeMs: 3_600_000, publicKey: await csrPublicKey(pem) });
    expect(new X509Certificate(certPem).checkPrivateKey(key.privateKey)).toBe(true);
  });

  it('carries long names (DER lengths past one byte) and non-ASCII ones', async () => {
    const key = generateNodeKey();
    for (const name of ['x'.repeat(200), 'knoten-ü-1']) {
      const csr = new x509.Pkcs10CertificateRequest(createNodeCsr(key, name));
      expect(await csr.verify()).toBe(true);
      expect(csr.subject).toBe(`CN=${name}`);
    }
  });

  it('reads back a saved key, and refuses one that is not P-256', async () => {
    const key = generateNodeKey();
    const again = importNodeKey(key.keyPem);
    expect(await new x509.Pkcs10CertificateRequest(createNodeCsr(again, 'n')).verify()).toBe(true);
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => importNodeKey(rsa)).toThrow(/not an ECDSA P-256 key/);
  });
});
