/**
 * Who an agent is, from its TLS client certificate: the cluster CA signed it
 * for one node id (its common name). Over TLS an agent's node secret counts
 * only with the certificate of the same node, so a stolen secret alone, or a
 * node's certificate with another node's secret, gets nothing.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { Store } from '../store/store.js';
import type { ServerTls } from '../tls/server-tls.js';
import { createCsr, generateKeyPair } from '../tls/x509.js';
import { HttpError } from './errors.js';

const tlsOfStore = new WeakMap<Store, ServerTls>();

/** the server's TLS material, for the routes that hand out the CA and node certificates */
export function setServerTls(store: Store, tls: ServerTls): void {
  tlsOfStore.set(store, tls);
}

export function serverTlsOf(store: Store): ServerTls | undefined {
  return tlsOfStore.get(store);
}

export type PeerIdentity = { tls: false } | { tls: true; nodeId?: string; error?: string };

/** the node id of a verified client certificate on this request's connection */
export function peerIdentity(req: FastifyRequest): PeerIdentity {
  const socket = req.raw.socket as Partial<TLSSocket>;
  if (!socket.encrypted || typeof socket.getPeerCertificate !== 'function') return { tls: false };
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { tls: true, error: 'no client certificate' };
  if (!socket.authorized) return { tls: true, error: `the client certificate is not one this cluster's CA issued (${String(socket.authorizationError)})` };
  const cn = cert.subject?.CN;
  return typeof cn === 'string' ? { tls: true, nodeId: cn } : { tls: true, error: 'the client certificate names no node' };
}

/**
 * Throws 403 unless the connection carries the certificate of `nodeId`. A
 * server on plain HTTP (--insecure-http, tests) has no certificates to check.
 */
export function assertNodeCert(req: FastifyRequest, nodeId: string): void {
  const peer = peerIdentity(req);
  if (!peer.tls) return;
  if (peer.error) {
    throw new HttpError(
      403,
      `agent routes need the node's client certificate (mutual TLS): ${peer.error}. An agent gets one when it registers (node.pem in its data dir)`,
    );
  }
  if (peer.nodeId !== nodeId) {
    throw new HttpError(403, `the client certificate is node ${peer.nodeId}'s, the node secret is node ${nodeId}'s: a node may act only as itself`);
  }
}

/** a node certificate and its key, as an agent would get at registration (for tests such as the permission matrix) */
export async function issueNodeCert(tls: ServerTls, nodeId: string): Promise<{ cert: string; key: string; ca: string }> {
  const kp = await generateKeyPair();
  const cert = await tls.issueNode(await createCsr(kp, nodeId), nodeId);
  return { cert, key: kp.keyPem, ca: tls.caPem };
}
