/**
 * Serves the web dashboard (ui/, built by `npm run build` into dist/ui) at `/`,
 * so `baton server` and `baton dev` need no extra step. The API (/v1), /metrics
 * and other server routes are declared explicitly and win over the catch-all;
 * every other GET that looks like a page gets index.html (SPA fallback).
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** dist/server/ui.js → dist/ui; src/server/ui.ts (tests run from source) → the built dist/ui */
export function findUiDir(): string | undefined {
  const here = import.meta.dirname;
  for (const dir of [resolve(here, '../ui'), resolve(here, '../../dist/ui')]) {
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

// the page talks only to its own origin; nothing may frame it (clickjacking of drain/stop buttons)
const PAGE_HEADERS: Record<string, string> = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** paths the SPA never owns: an unknown one there is a real 404 with the API's error body */
function isServerPath(path: string): boolean {
  return path === '/v1' || path.startsWith('/v1/') || path === '/metrics' || path.startsWith('/metrics/');
}

export function registerUi(app: FastifyInstance, dir: string | undefined = findUiDir()): void {
  if (!dir) {
    // a checkout that was compiled with tsc alone: say how to get the UI instead of a bare 404
    app.get('/', async (_req, reply) =>
      reply
        .status(404)
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><title>baton</title><p>The baton web UI is not built in this install. Run <code>npm run build</code> and restart the server. The API is at <code>/v1</code>.</p>',
        ),
    );
    return;
  }
  void app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // one route per built file, found at start: the catch-all below stays ours
    wildcard: false,
    index: false,
    // ours below: the plugin's own max-age=0 would override it
    cacheControl: false,
    setHeaders(res, path) {
      // hashed bundle names never change content: cache them for good; anything else revalidates
      if (path.includes(`${join(dir, 'assets')}`)) res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      else res.setHeader('cache-control', 'no-cache');
    },
  });
  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0];
    // a missing asset (has an extension) or a server path is a 404, not the app
    if (isServerPath(path) || /\.[a-z0-9]+$/i.test(path)) return reply.callNotFound();
    return reply.headers(PAGE_HEADERS).sendFile('index.html', dir, { cacheControl: false });
  };
  app.get('/', page);
  app.get('/*', page);
}
