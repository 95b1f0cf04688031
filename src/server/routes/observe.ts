/**
 * Observing the cluster: the event stream (server-sent events), usage
 * history, Prometheus metrics and the OpenAPI document.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { ClusterEvent } from '../../api/types.js';
import { requireUser } from '../auth.js';
import type { ServerContext } from '../context.js';
import { parseInput as parse } from '../errors.js';
import type { EventTickets } from '../event-tickets.js';
import { eventBufferFor, formatSse, matches, SseConnection, type EventFilter } from '../events.js';
import { metricsFor } from '../metrics.js';
import { buildOpenApi, type RegisteredRoute } from '../openapi.js';
import { eventsQuerySchema } from '../schemas.js';
import { usageHistoryFor } from '../usage-history.js';
import { routes } from '../../api/routes.js';
import { on } from '../route.js';

/** proxies close idle connections after 30-60 s; a comment line keeps them open */
export const KEEPALIVE_MS = 15_000;
/** a client that reads slower than the cluster changes is cut off; it resumes with Last-Event-ID */
export const eventStreamLimits = { maxBufferedBytes: 8 * 1024 * 1024 };

export function observeRoutes(app: FastifyInstance, ctx: ServerContext, registered: RegisteredRoute[], tickets: EventTickets): void {
  const { store } = ctx;
  const events = eventBufferFor(store);
  const usage = usageHistoryFor(store);
  const metrics = metricsFor(store);
  const streams = new Set<ServerResponse>();

  // open streams never end by themselves: end them so closing the server does not wait for clients
  app.addHook('preClose', async () => {
    for (const s of streams) s.end();
  });

  on(app, routes.events, async (req, reply) => {
    const q = parse(eventsQuerySchema, req.query, 'query');
    const token = requireUser(req.principal, 'read', q.namespace);
    const filter: EventFilter = {
      topics: new Set(q.topic),
      // a namespaced token sees its namespace only, whatever it asked for
      namespace: token.namespace !== '*' ? token.namespace : q.namespace,
    };
    const lastId = Number(req.headers['last-event-id']);
    const after = Math.max(q.index, Number.isSafeInteger(lastId) && lastId > 0 ? lastId : 0);
    if (q.follow === 'false' || q.follow === '0') {
      // one page, perhaps from an index another server handed out: first catch up with what the
      // other servers committed (one small read), so the page holds it even while NOTIFY lags
      await store.follow();
      return { index: store.currentIndex(), oldestIndex: events.oldestIndex(), events: events.since(after, filter) };
    }

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses unless told not to
      'x-accel-buffering': 'no',
    });
    streams.add(res);
    let head = ': baton events\n\n';
    if (after > 0 && events.oldestIndex() > after + 1) head += `: events up to index ${events.oldestIndex() - 1} are no longer kept\n\n`;
    // backlog and subscription in one synchronous step: nothing recorded in between is lost or sent twice
    const backlog = events.since(after, filter);
    let unsubscribe = (): void => {};
    let keepalive: ReturnType<typeof setInterval> | undefined;
    // a revoked token's stream ends with it, instead of reading on until the client hangs up
    const unRevoke = tickets.onRevoke((id) => {
      if (id === token.id) conn.close();
    });
    const conn = new SseConnection(res, eventStreamLimits.maxBufferedBytes, () => {
      clearInterval(keepalive);
      unsubscribe();
      unRevoke();
      streams.delete(res);
    });
    const send = (list: ClusterEvent[]): void => {
      let out = '';
      for (const e of list) if (matches(e, filter)) out += formatSse(e);
      conn.write(out);
    };
    unsubscribe = events.subscribe(send);
    conn.write(head);
    send(backlog);
    // each keepalive also asks the store whether the token still stands: revoked or expired on another
    // server of the database (which cannot tell this one's streams), the stream ends within a keepalive
    const stillValid = async (): Promise<void> => {
      const t = await store.tokenById(token.id).catch(() => token);
      if (!t || (t.expiresAt !== undefined && Date.parse(t.expiresAt) <= Date.now())) conn.close();
    };
    if (conn.isOpen) {
      keepalive = setInterval(() => {
        conn.write(': keepalive\n\n');
        void stillValid();
      }, KEEPALIVE_MS);
    }
    req.raw.on('close', () => conn.close());
    // answered by hand on the raw response (hijacked)
    return reply;
  });

  on(app, routes.eventTicket, async (req) => {
    const token = requireUser(req.principal, 'read');
    return tickets.issue(token, Date.now());
  });

  on(app, routes.nodeUsage, async (req) => {
    requireUser(req.principal, 'read');
    const node = await store.getNode(req.params.id);
    return { samples: usage.nodeSamples(node.id, Date.now()) };
  });

  on(app, routes.allocUsage, async (req) => {
    const alloc = await store.getAlloc(req.params.id);
    requireUser(req.principal, 'read', alloc.namespace);
    const { samples, tasks } = usage.allocSamples(alloc.id, Date.now());
    return { samples, tasks, memoryLimit: alloc.resources.memory };
  });

  on(app, routes.metrics, async (_req, reply) => {
    await metrics.refresh(store, usage, Date.now());
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  let openapi: Record<string, unknown> | undefined;
  on(app, routes.openapi, async () => {
    // routes are all registered by the first request: build once
    openapi ??= await buildOpenApi(registered, ctx.version);
    return openapi;
  });
}
