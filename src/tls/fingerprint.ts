/**
 * CA fingerprints: sha256 of the certificate's DER, 64 lowercase hex digits,
 * shown as sha256:<hex>. Only node:crypto here, so every CLI command can load
 * it without the X.509 library.
 */
import { createHash, X509Certificate } from 'node:crypto';

/** of the first certificate in the PEM */
export function fingerprintOf(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

export const showFingerprint = (fp: string): string => `sha256:${fp}`;

/** "sha256:abc..." or "abc..." (colons allowed): the hex form, or undefined when it is not one */
export function parseFingerprint(text: string): string | undefined {
  const hex = text
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '')
    .replace(/:/g, '');
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}
