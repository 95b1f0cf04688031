/** The HTTP API as a fastify app: parsers, auth, routes, errors. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { authenticate } from './auth.js';
import type { ServerContext } from './context.js';
import { makeErrorHandler } from './errors.js';
import { agentRoutes } from './routes/agent.js';
import { deploymentRoutes } from './routes/deployments.js';
import { serviceRoutes } from './routes/services.js';
import { userRoutes } from './routes/user.js';

export const BODY_LIMIT = 1024 * 1024;

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
  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/v1/')) req.principal = await authenticate(ctx.store, req);
  });
  userRoutes(app, ctx);
  agentRoutes(app, ctx);
  deploymentRoutes(app, ctx);
  serviceRoutes(app, ctx);
  return app;
}
