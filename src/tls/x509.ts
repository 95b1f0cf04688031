/**
 * The X.509 primitives baton needs, on @peculiar/x509 with Node's webcrypto:
 * ECDSA P-256 keys, a self-signed CA, leaf certificates signed by it, CSRs,
 * and the CA fingerprint that join tokens pin.
 */
// tsyringe, which @peculiar/x509 uses inside, needs the Reflect metadata API before it loads
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { createNodeCsr, importNodeKey } from './node-key.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface KeyPair {
  /** PKCS#8 PEM, what node:tls takes as `key` */
  keyPem: string;
  keys: CryptoKeyPair;
}

export async function generateKeyPair(): Promise<KeyPair> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), keys };
}

/** a key pair from its PKCS#8 PEM (the public half is derived through the JWK) */
export async function importKeyPair(keyPem: string): Promise<KeyPair> {
  const der = x509.PemConverter.decodeFirst(keyPem);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
  const jwk = await webcrypto.subtle.exportKey('jwk', privateKey);
  const publicKey = await webcrypto.subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, ALG, true, ['verify']);
  return { keyPem, keys: { privateKey, publicKey } };
}

export { fingerprintOf, parseFingerprint, showFingerprint } from './fingerprint.js';

export async function createCa(commonName: string, lifetimeMs: number, now = Date.now()): Promise<{ certPem: string; keyPem: string }> {
  const kp = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}, O=baton`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + lifetimeMs),
    signingAlgorithm: SIGN,
    keys: kp.keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(kp.keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: kp.keyPem };
}

export interface LeafRequest {
  commonName: string;
  /** DNS names and IP addresses */
  dns?: string[];
  ips?: string[];
  usage: 'server' | 'client';
  lifetimeMs: number;
  publicKey: CryptoKey;
}

export async function issueLeaf(ca: { certPem: string; keyPem: string }, req: LeafRequest, now = Date.now()): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPair(ca.keyPem);
  const names = [...(req.dns ?? []).map((value) => ({ type: 'dns' as const, value })), ...(req.ips ?? []).map((value) => ({ type: 'ip' as const, value }))];
  const eku = req.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth;
  const notAfter = Math.min(now + req.lifetimeMs, caCert.notAfter.getTime());
  // back-dated for clocks a little behind, but not by so much that a short life is half gone at birth
  const backdate = Math.min(60_000, req.lifetimeMs / 10);
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${req.commonName}, O=baton`,
    issuer: caCert.subject,
    notBefore: new Date(now - backdate),
    notAfter: new Date(notAfter),
    signingAlgorithm: SIGN,
    publicKey: req.publicKey,
    signingKey: caKey.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([eku], false),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return cert.toString('pem');
}

/** a CSR for `commonName` (the agent's own, see node-key.ts) */
export async function createCsr(kp: KeyPair, commonName: string): Promise<string> {
  return createNodeCsr(importNodeKey(kp.keyPem), commonName);
}

/** the public key of a CSR whose signature holds (the requester has the private key) */
export async function csrPublicKey(csrPem: string): Promise<CryptoKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new Error(`not a PEM certificate request (PKCS#10): ${(err as Error).message}`);
  }
  if (!(await csr.verify())) throw new Error('the certificate request is not signed by its own key');
  return csr.publicKey.export(ALG, ['verify']);
}

export { certTimes, needsRenewal, renewalDue, type CertTimes } from './cert-times.js';
