/**
 * Access control for every request, in onRequest: before fastify reads or
 * parses a body, so a caller without the right to a route never gets its
 * body parsed. The policy is the route table (ROUTES, openapi.ts); a route
 * without one is refused. Wrong credentials count against their source
 * (sign-in-limit.ts); the event stream also takes a ticket (event-tickets.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, enforcePolicy, type Principal } from './auth.js';
import type { ServerContext } from './context.js';
import { HttpError } from './errors.js';
import { peerIdentity } from './node-identity.js';
import type { EventTickets } from './event-tickets.js';
import { policyOf } from './openapi.js';
import type { SignInLimiter } from './sign-in-limit.js';

export function accessControl(ctx: ServerContext, limiter: SignInLimiter, tickets: EventTickets) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const url = req.routeOptions.url;
    // unmatched: the 404 handler answers; the UI's pages and assets are public
    if (url === undefined || (!url.startsWith('/v1/') && url !== '/metrics')) return;
    const policy = policyOf(req.method === 'HEAD' ? 'GET' : req.method, url);
    if (!policy) throw new HttpError(403, `${req.method} ${url} has no access policy (an entry in ROUTES, src/server/openapi.ts): refused`);
    if (policy.auth === 'none') return;
    const now = Date.now();
    const source = req.ip;
    // an agent with a certificate of this cluster's CA is not a guesser: guesses from its address
    // (a NAT, a shared host) must not cut nodes off and get their allocs marked lost
    const peer = peerIdentity(req);
    const certified = peer.tls && peer.nodeId !== undefined;
    const wait = certified ? 0 : limiter.retryAfterMs(source, now);
    if (wait > 0) {
      const s = Math.ceil(wait / 1000);
      void reply.header('retry-after', String(s));
      throw new HttpError(429, `too many failed sign-ins from ${source}: try again in ${s}s (Retry-After)`);
    }
    const query = req.query as Record<string, unknown> | undefined;
    if (url === '/v1/events' && query?.token !== undefined) {
      throw new HttpError(
        400,
        '?token= is no longer accepted: a token in a URL ends up in logs; send "Authorization: Bearer <token>", or get a ticket with POST /v1/events/ticket and pass ?ticket=',
      );
    }
    let principal: Principal;
    try {
      // a header wins: a ticket is for clients that cannot send one
      const ticket = url === '/v1/events' && req.headers.authorization === undefined ? query?.ticket : undefined;
      principal = typeof ticket === 'string' ? await ticketPrincipal(tickets, ticket, now) : await authenticate(ctx.store, req);
    } catch (err) {
      // a missing credential is not a guess; a wrong one is
      if (err instanceof HttpError && err.status === 401 && (req.headers.authorization !== undefined || query?.ticket !== undefined)) limiter.fail(source, now);
      throw err;
    }
    req.principal = principal;
    enforcePolicy(principal, policy.auth, policy.namespaced === true);
  };
}

async function ticketPrincipal(tickets: EventTickets, ticket: string, now: number): Promise<Principal> {
  const token = await tickets.redeem(ticket, now);
  if (!token) throw new HttpError(401, 'unknown or expired event-stream ticket: ask POST /v1/events/ticket for a new one (tickets last a minute)');
  return { kind: 'user', token };
}
