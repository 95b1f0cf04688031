/** The HTTP API as a fastify app: parsers, auth, routes, errors. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { authenticate } from './auth.js';
import type { ServerContext } from './context.js';
import { makeErrorHandler } from './errors.js';
import { eventBufferFor } from './events.js';
import { metricsFor } from './metrics.js';
import type { RegisteredRoute } from './openapi.js';
import { agentRoutes } from './routes/agent.js';
import { deploymentRoutes } from './routes/deployments.js';
import { observeRoutes } from './routes/observe.js';
import { serviceRoutes } from './routes/services.js';
import { userRoutes } from './routes/user.js';
import { registerUi } from './ui.js';

export const BODY_LIMIT = 1024 * 1024;

/** routes anyone may read: a scraper and an API browser carry no token */
const PUBLIC_ROUTES = new Set(['/v1/openapi.json']);

export function buildApp(ctx: ServerContext): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.logger as unknown as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    // agents poll all the time: logging every request would drown what matters
    logController: new LogController({ disableRequestLogging: true }),
    // blocking queries and log follows hold requests open for minutes
    requestTimeout: 0,
  });
  // a job file may be posted as it is, so the server can name its lines
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler(makeErrorHandler(BODY_LIMIT));
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: `no such route: ${req.method} ${req.url.split('?')[0]} (see docs/api.md)` });
  });
  app.decorateRequest('principal', undefined as never);
  // the event buffer must listen before the first write it should keep
  eventBufferFor(ctx.store);
  const metrics = metricsFor(ctx.store);
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url ?? r.path });
  });
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/v1/') || PUBLIC_ROUTES.has(req.routeOptions.url ?? '')) return;
    // a browser's EventSource cannot send headers: only the event stream takes ?token=
    if (req.routeOptions.url === '/v1/events' && !req.headers.authorization) {
      const token = (req.query as Record<string, unknown> | undefined)?.token;
      if (typeof token === 'string' && token.length > 0) req.headers.authorization = `Bearer ${token}`;
    }
    req.principal = await authenticate(ctx.store, req);
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.http.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  userRoutes(app, ctx);
  agentRoutes(app, ctx);
  deploymentRoutes(app, ctx);
  serviceRoutes(app, ctx);
  observeRoutes(app, ctx, routes);
  registerUi(app);
  return app;
}
