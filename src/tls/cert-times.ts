/** When a certificate is valid and when to renew it, from Node's own X.509 parser. */
import { X509Certificate } from 'node:crypto';

export interface CertTimes {
  notBefore: number;
  notAfter: number;
}

export function certTimes(certPem: string): CertTimes {
  const c = new X509Certificate(certPem);
  return { notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
}

/** renew once less than half of the certificate's life is left */
export function needsRenewal(certPem: string, now = Date.now()): boolean {
  const t = certTimes(certPem);
  return now >= t.notBefore + (t.notAfter - t.notBefore) / 2;
}

/** when needsRenewal turns true, for timers */
export function renewalDue(certPem: string): number {
  const t = certTimes(certPem);
  return t.notBefore + (t.notAfter - t.notBefore) / 2;
}
