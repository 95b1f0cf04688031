/**
 * A node's key and its certificate request, on Node's crypto alone. The agent
 * runs next to the user's memory-hungry work: the X.509 library the server
 * signs with (x509.ts) holds about 20 MB once loaded, and all an agent needs
 * of it is an ECDSA P-256 key and a PKCS#10 request naming the node, which
 * is a few lines of DER.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface NodeKey {
  /** PKCS#8 PEM, what node:tls takes as `key` */
  keyPem: string;
  privateKey: KeyObject;
}

export function generateNodeKey(): NodeKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, privateKey };
}

export function importNodeKey(keyPem: string): NodeKey {
  const privateKey = createPrivateKey(keyPem);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('the node key is not an ECDSA P-256 key');
  }
  return { keyPem, privateKey };
}

/** one DER element: tag, definite length, contents */
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
// 2.5.4.3 (commonName) and 1.2.840.10045.4.3.2 (ecdsa-with-SHA256)
const OID_CN = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
const OID_ECDSA_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);

/** a PKCS#10 certificate request for `commonName`, signed by the key (PEM) */
export function createNodeCsr(key: NodeKey, commonName: string): string {
  const spki = createPublicKey(key.privateKey).export({ type: 'spki', format: 'der' });
  const subject = der(SEQUENCE, der(SET, der(SEQUENCE, OID_CN, der(0x0c, Buffer.from(commonName, 'utf8')))));
  // version 0, the subject, its public key, and no attributes ([0] IMPLICIT SET OF, empty)
  const info = der(SEQUENCE, Buffer.from([0x02, 0x01, 0x00]), subject, spki, Buffer.from([0xa0, 0x00]));
  // Node signs ECDSA in DER (r and s as INTEGERs), which is what X.509 carries in the BIT STRING
  const signature = sign('sha256', info, key.privateKey);
  const csr = der(SEQUENCE, info, der(SEQUENCE, OID_ECDSA_SHA256), der(0x03, Buffer.from([0x00]), signature));
  const b64 = csr.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}-----END CERTIFICATE REQUEST-----\n`;
}
