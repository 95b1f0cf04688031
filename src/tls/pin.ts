/**
 * Trust on first connection, but pinned: the CA is fetched over a connection
 * that verifies nothing, and used only when its sha256 is the one the join
 * token (or the CLI's saved server file) names. Every later connection is
 * verified against that CA alone.
 */
/// <reference types="node" />
import { Transport } from '../client/transport.js';
import { fingerprintOf, showFingerprint } from './fingerprint.js';

export const CA_ROUTE = '/v1/agent/ca';

export class PinMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PinMismatchError';
  }
}

export async function fetchPinnedCa(baseUrl: string, fingerprint: string): Promise<string> {
  const url = new URL(CA_ROUTE, baseUrl);
  if (url.protocol !== 'https:') throw new PinMismatchError(`${baseUrl} is not an https:// URL, but the token pins the server's CA: use https://`);
  const unverified = new Transport({ rejectUnauthorized: false });
  let body: { ca?: unknown };
  try {
    const res = await unverified.request(url, { signal: AbortSignal.timeout(30_000) });
    // a proxy without a server behind it, or a server shutting down: not an answer about the CA, worth another try
    if (res.status === 502 || res.status === 503 || res.status === 504) throw new Error(`GET ${url.pathname} at ${baseUrl} answered HTTP ${res.status}`);
    if (!res.ok) throw new PinMismatchError(`GET ${url.pathname} at ${baseUrl} answered HTTP ${res.status}: not a baton server with TLS, refusing`);
    body = (await res.json()) as { ca?: unknown };
  } finally {
    unverified.close();
  }
  if (typeof body.ca !== 'string') throw new PinMismatchError(`${baseUrl} answered ${url.pathname} without a CA certificate: refusing`);
  const got = fingerprintOf(body.ca);
  if (got !== fingerprint) {
    throw new PinMismatchError(
      `the server at ${baseUrl} presents CA ${showFingerprint(got)}, but the token pins ${showFingerprint(fingerprint)}: ` +
        'this is not the server the token belongs to (or something is in between); refusing to connect. Check the URL and the token (server.json of that server).',
    );
  }
  return body.ca;
}

/**
 * The CA from the first of these servers that answers: the servers of one
 * cluster share it. One that presents another CA is refused at once, not
 * passed over: something is wrong with the URL, the token or the path to it.
 */
export async function fetchPinnedCaFrom(baseUrls: readonly string[], fingerprint: string): Promise<string> {
  let last: unknown = new Error('no server URL to fetch the CA from');
  for (const url of baseUrls) {
    try {
      return await fetchPinnedCa(url, fingerprint);
    } catch (err) {
      if (err instanceof PinMismatchError) throw err;
      last = err;
    }
  }
  throw last;
}
