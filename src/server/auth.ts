/**
 * Who is calling: a user with an API token (role and namespace), an agent with
 * its node secret, or an agent registering with the join token.
 */
import type { FastifyRequest } from 'fastify';
import type { NodeInfo, TokenInfo, TokenRole } from '../api/types.js';
import type { Store } from '../store/store.js';
import { hashSecret } from '../store/ids.js';
import { HttpError } from './errors.js';
import { assertNodeCert } from './node-identity.js';
import { parseJoinToken } from '../tls/join-token.js';

export type Principal = { kind: 'user'; token: TokenInfo } | { kind: 'node'; node: NodeInfo } | { kind: 'join' };

const RANK: Record<TokenRole, number> = { read: 0, submit: 1, operator: 2, admin: 3 };

export function bearer(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (!h) throw new HttpError(401, 'missing API token: send "Authorization: Bearer <token>" (the CLI takes --token or BATON_TOKEN)');
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw new HttpError(401, 'malformed Authorization header: expected "Bearer <token>"');
  return m[1];
}

export async function authenticate(store: Store, req: FastifyRequest): Promise<Principal> {
  const secret = bearer(req);
  if (secret.startsWith('node_')) {
    const node = await store.nodeBySecret(secret);
    if (node) {
      // over TLS a node secret counts only with that node's own client certificate
      assertNodeCert(req, node.id);
      return { kind: 'node', node };
    }
  } else if (secret.startsWith('join_')) {
    // the CA fingerprint in a join token is for the agent; the server checks the secret part
    const hash = hashSecret(parseJoinToken(secret).secret);
    // the cluster's token, or one of the other servers' on a shared database (server.ts ensureTokens)
    if ((await store.getMeta('join_token_hash')) === hash || (await store.getMeta(`join_token:${hash}`)) !== undefined) return { kind: 'join' };
  } else {
    const token = await store.tokenBySecret(secret);
    if (token?.expiresAt !== undefined && Date.parse(token.expiresAt) <= Date.now()) {
      throw new HttpError(401, `token "${token.name}" expired at ${token.expiresAt}: ask an admin for a new one (baton token create)`);
    }
    if (token) return { kind: 'user', token };
  }
  throw new HttpError(401, 'unknown token: it is not an API token, node secret or join token of this server');
}

export function requireUser(p: Principal, role: TokenRole, namespace?: string): TokenInfo {
  if (p.kind !== 'user') throw new HttpError(403, 'this route needs an API token, not an agent credential');
  if (RANK[p.token.role] < RANK[role]) throw new HttpError(403, `token "${p.token.name}" has role ${p.token.role}; this needs ${role} or higher`);
  if (namespace !== undefined && namespace !== '*' && p.token.namespace !== '*' && p.token.namespace !== namespace) {
    throw new HttpError(403, `token "${p.token.name}" may only use namespace "${p.token.namespace}"`);
  }
  return p.token;
}

/**
 * The route table's role check (src/server/openapi.ts), run before a body is
 * parsed. Cluster-wide changes (draining a node, collecting garbage, minting
 * tokens) need a token of every namespace: a namespace's operator or admin
 * must not reach past its namespace.
 */
export function enforcePolicy(p: Principal, auth: 'read' | 'submit' | 'operator' | 'admin' | 'node' | 'join', namespaced: boolean): void {
  if (auth === 'node') requireNode(p);
  else if (auth === 'join') {
    if (p.kind !== 'join') throw new HttpError(403, 'this route needs the join token that `baton server` printed');
  } else {
    const token = requireUser(p, auth);
    if (!namespaced && RANK[auth] >= RANK.operator && token.namespace !== '*') {
      throw new HttpError(
        403,
        `token "${token.name}" is limited to namespace "${token.namespace}"; this changes the whole cluster and needs a token for every namespace ("*")`,
      );
    }
  }
}

export function requireNode(p: Principal): NodeInfo {
  if (p.kind !== 'node') throw new HttpError(403, 'this route is for agents: authenticate with the node secret');
  return p.node;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}
