/**
 * Observing the cluster: the event stream (server-sent events), usage
 * history, Prometheus metrics and the OpenAPI document.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { ClusterEvent, UsageResponse } from '../../api/types.js';
import { requireUser } from '../auth.js';
import type { ServerContext } from '../context.js';
import { parseInput as parse } from '../errors.js';
import { eventBufferFor, formatSse, matches, type EventFilter } from '../events.js';
import { metricsFor } from '../metrics.js';
import { buildOpenApi, type RegisteredRoute } from '../openapi.js';
import { eventsQuerySchema } from '../schemas.js';
import { usageHistoryFor } from '../usage-history.js';

/** proxies close idle connections after 30-60 s; a comment line keeps them open */
export const KEEPALIVE_MS = 15_000;
/** a client that reads slower than the cluster changes is cut off; it resumes with Last-Event-ID */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export function observeRoutes(app: FastifyInstance, ctx: ServerContext, routes: RegisteredRoute[]): void {
  const { store } = ctx;
  const events = eventBufferFor(store);
  const usage = usageHistoryFor(store);
  const metrics = metricsFor(store);
  const streams = new Set<ServerResponse>();

  // open streams never end by themselves: end them so closing the server does not wait for clients
  app.addHook('preClose', async () => {
    for (const s of streams) s.end();
  });

  app.get('/v1/events', async (req, reply) => {
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
    const send = (list: ClusterEvent[]): void => {
      let out = '';
      for (const e of list) if (matches(e, filter)) out += formatSse(e);
      if (out.length === 0) return;
      res.write(out);
      if (res.writableLength > MAX_BUFFERED_BYTES) res.end();
    };
    const unsubscribe = events.subscribe(send);
    res.write(head);
    send(backlog);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const cleanup = (): void => {
      clearInterval(keepalive);
      unsubscribe();
      streams.delete(res);
    };
    res.on('close', cleanup);
    req.raw.on('close', () => res.end());
  });

  app.get<{ Params: { id: string } }>('/v1/nodes/:id/usage', async (req): Promise<UsageResponse> => {
    requireUser(req.principal, 'read');
    const node = await store.getNode(req.params.id);
    return { samples: usage.nodeSamples(node.id, Date.now()) };
  });

  app.get<{ Params: { id: string } }>('/v1/allocs/:id/usage', async (req): Promise<UsageResponse> => {
    const alloc = await store.getAlloc(req.params.id);
    requireUser(req.principal, 'read', alloc.namespace);
    const { samples, tasks } = usage.allocSamples(alloc.id, Date.now());
    return { samples, tasks, memoryLimit: alloc.resources.memory };
  });

  app.get('/metrics', async (_req, reply) => {
    await metrics.refresh(store, usage, Date.now());
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  let openapi: Record<string, unknown> | undefined;
  app.get('/v1/openapi.json', async () => {
    // routes are all registered by the first request: build once
    openapi ??= buildOpenApi(routes, ctx.version);
    return openapi;
  });
}
