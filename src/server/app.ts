/** The HTTP API as a fastify app: parsers, auth, routes, errors. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { accessControl } from './access.js';
import { assertJsonDepth, assertYamlDepth } from './body-limits.js';
import type { ServerContext } from './context.js';
import { makeErrorHandler } from './errors.js';
import { EventTickets } from './event-tickets.js';
import { eventBufferFor } from './events.js';
import { metricsFor } from './metrics.js';
import type { RegisteredRoute } from './openapi.js';
import { SignInLimiter, type SignInLimitOptions } from './sign-in-limit.js';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { agentRoutes } from './routes/agent.js';
import { tlsRoutes } from './routes/tls.js';
import { deploymentRoutes } from './routes/deployments.js';
import { observeRoutes } from './routes/observe.js';
import { serviceRoutes } from './routes/services.js';
import { tokenRoutes } from './routes/tokens.js';
import { secretRoutes } from './routes/secrets.js';
import { SecretVault } from '../secrets/vault.js';
import { userRoutes } from './routes/user.js';
import { registerUi } from './ui.js';

export const BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  signInLimit?: SignInLimitOptions;
  /** seals and opens secrets with the server's key (absent: a key of this process only, for tests) */
  secrets?: SecretVault;
  /** serve HTTPS with these (node:tls options: key, cert, ca, requestCert...); absent: plain HTTP */
  https?: HttpsServerOptions;
}

export function buildApp(ctx: ServerContext, opts: AppOptions = {}): FastifyInstance {
  const limiter = new SignInLimiter(opts.signInLimit);
  const tickets = new EventTickets(ctx.store);
  const app = Fastify({
    ...(opts.https ? { https: opts.https } : {}),
    loggerInstance: ctx.logger as unknown as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    // agents poll all the time: logging every request would drown what matters
    logController: new LogController({ disableRequestLogging: true }),
    // the time to *receive* a request (headers and body), not to answer it: blocking
    // queries and log follows still hold their answers for minutes, but a client that
    // trickles its headers or never finishes its body is cut off (slowloris)
    requestTimeout: 60_000,
    connectionTimeout: 0,
    // the router answers a long path parameter (a 3,000-character id) with 414 before the body is read,
    // and the body left on the socket then reaches the client as a second, garbled answer; Node's 16 KiB
    // header limit bounds URLs anyway, so ids of any length reach the handlers and get an ordinary 404
    routerOptions: { maxParamLength: 16 * 1024 },
  });
  app.server.headersTimeout = 15_000;
  // the parsers recurse per nesting level: a cheap linear scan rejects deep bodies first
  app.removeContentTypeParser('application/json');
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    try {
      assertJsonDepth(String(body));
    } catch (err) {
      return done(err as Error, undefined);
    }
    // the default JSON parser answers through done and returns nothing to wait for
    void jsonParser(req, String(body), done);
  });
  // a job file may be posted as it is, so the server can name its lines
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      assertYamlDepth(body as string);
      done(null, body);
    } catch (err) {
      done(err as Error, undefined);
    }
  });
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
  // who may call a route is checked before the body is read or parsed, from the route table
  app.addHook('onRequest', accessControl(ctx, limiter, tickets));
  app.addHook('onResponse', async (req, reply) => {
    metrics.http.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  userRoutes(app, ctx);
  agentRoutes(app, ctx);
  tlsRoutes(app, ctx);
  deploymentRoutes(app, ctx);
  serviceRoutes(app, ctx);
  observeRoutes(app, ctx, routes, tickets);
  tokenRoutes(app, ctx, tickets);
  secretRoutes(app, ctx, opts.secrets ?? SecretVault.ephemeral());
  registerUi(app);
  return app;
}
