/**
 * A handler registered through the route table (src/api/routes.ts): its
 * method and path come from the table, its path parameters are typed from
 * the path, and it must answer the route's response type, so the server
 * cannot answer other than what the OpenAPI document and the clients say.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { ParamsOf, ResponseOf, RouteDef } from '../api/routes.js';

export type RouteRequest<R extends RouteDef> = FastifyRequest<{ Params: ParamsOf<R>; Querystring: Record<string, string | undefined>; Body: unknown }>;

/** answers the route's type, or the reply it sent itself (a stream, text) */
export type RouteHandler<R extends RouteDef> = (req: RouteRequest<R>, reply: FastifyReply) => Promise<ResponseOf<R> | FastifyReply>;

export function on<R extends RouteDef>(app: FastifyInstance, r: R, handler: RouteHandler<R>): void;
export function on<R extends RouteDef>(app: FastifyInstance, r: R, options: RouteShorthandOptions, handler: RouteHandler<R>): void;
export function on<R extends RouteDef>(app: FastifyInstance, r: R, a: RouteShorthandOptions | RouteHandler<R>, b?: RouteHandler<R>): void {
  const [options, handler] = typeof a === 'function' ? [{}, a] : [a, b!];
  app.route({ ...options, method: r.method, url: r.path, handler: handler as unknown as (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> });
}
