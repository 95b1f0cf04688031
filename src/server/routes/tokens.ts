/**
 * Scoped API tokens: create (the secret is shown once), list, revoke. Admin
 * only: a token is a key to the cluster, and an operator that could mint
 * them could hand out its own reach to anyone; one admin token with every
 * namespace always stays, so the cluster cannot be locked out by accident.
 */
import type { FastifyInstance } from 'fastify';
import type { TokenInfo } from '../../api/types.js';
import { newSecret } from '../../store/ids.js';
import { parseDuration } from '../../spec/units.js';
import { requireUser } from '../auth.js';
import type { ServerContext } from '../context.js';
import { badRequest, HttpError, parseInput as parse } from '../errors.js';
import type { EventTickets } from '../event-tickets.js';
import { createTokenSchema } from '../schemas.js';
import { routes } from '../../api/routes.js';
import { on } from '../route.js';

/** ten years: past that a "ttl" is a typo, and dates stop printing */
const MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000;

const isLive = (t: TokenInfo, now: number): boolean => t.expiresAt === undefined || Date.parse(t.expiresAt) > now;
const isFullAdmin = (t: TokenInfo): boolean => t.role === 'admin' && t.namespace === '*';

/** a token by id, unique id prefix or unique name */
export function findToken(tokens: TokenInfo[], ref: string): TokenInfo {
  const exact = tokens.find((t) => t.id === ref);
  if (exact) return exact;
  const byPrefix = tokens.filter((t) => t.id.startsWith(ref));
  const byName = tokens.filter((t) => t.name === ref);
  const hits = byPrefix.length > 0 ? byPrefix : byName;
  if (hits.length === 1) return hits[0];
  if (hits.length === 0) throw new HttpError(404, `no token with id, id prefix or name "${ref}" (baton token ls lists them)`);
  throw new HttpError(409, `"${ref}" names ${hits.length} tokens (${hits.map((t) => t.id.slice(0, 8)).join(', ')}): give more of the id`);
}

export function tokenRoutes(app: FastifyInstance, ctx: ServerContext, tickets: EventTickets): void {
  const { store } = ctx;

  on(app, routes.createToken, async (req) => {
    requireUser(req.principal, 'admin');
    const body = parse(createTokenSchema, req.body, 'token request');
    let expiresAt: string | undefined;
    if (body.ttl !== undefined) {
      let ms: number;
      try {
        ms = parseDuration(body.ttl);
      } catch (err) {
        throw badRequest(`ttl: ${(err as Error).message}`, [{ path: 'ttl', message: (err as Error).message }]);
      }
      if (ms <= 0 || ms > MAX_TTL_MS)
        throw badRequest(`ttl: must be more than 0 and at most 10 years (87600h), got ${body.ttl}`, [{ path: 'ttl', message: 'out of range' }]);
      expiresAt = new Date(Date.now() + ms).toISOString();
    }
    const secret = newSecret('tok');
    const token = await store.createToken(secret, body.name, body.role, body.namespace, expiresAt);
    ctx.logger.info({ token: token.name, id: token.id, role: token.role, namespace: token.namespace }, 'API token created');
    return { token, secret };
  });

  on(app, routes.listTokens, async (req) => {
    requireUser(req.principal, 'admin');
    return store.listTokens();
  });

  on(app, routes.revokeToken, async (req) => {
    requireUser(req.principal, 'admin');
    const now = Date.now();
    const all = await store.listTokens();
    const token = findToken(all, req.params.id);
    if (isFullAdmin(token) && isLive(token, now) && all.filter((t) => t.id !== token.id && isFullAdmin(t) && isLive(t, now)).length === 0) {
      throw new HttpError(
        409,
        `token "${token.name}" is the last admin token: create another first (baton token create --role admin --namespace '*'), then revoke this one`,
      );
    }
    await store.deleteToken(token.id);
    tickets.revokeToken(token.id);
    ctx.logger.info({ token: token.name, id: token.id }, 'API token revoked');
    return token;
  });
}
