/**
 * A function per route of the table (src/api/routes.ts), made from it: the
 * path's parameters, the query, the body and the answer are the route's
 * types, so a client cannot call a route the server does not have or send it
 * a body it would refuse. BatonClient and AgentClient are built on it;
 * programs may call it directly (`client.api.getJob({ params: { id } })`).
 */
import { pathOf, routes, type BodyOf, type ParamsOf, type ResponseOf, type RouteDef, type Routes } from '../api/routes.js';
import type { HttpClient, RequestOptions } from './http.js';

type QueryOf<R extends RouteDef> = R extends { query: infer Q } ? { [K in keyof Q]?: string | number | undefined } : Record<never, never>;

export type CallArgs<R extends RouteDef> = (keyof ParamsOf<R> extends never ? { params?: undefined } : { params: ParamsOf<R> }) &
  (BodyOf<R> extends undefined ? { body?: undefined } : { body: BodyOf<R> }) & {
    query?: QueryOf<R>;
  } & Pick<RequestOptions, 'signal' | 'timeoutMs' | 'headers' | 'rawBody'>;

/** the arguments may be left out when the route needs neither parameters nor a body */
type Args<R extends RouteDef> = keyof ParamsOf<R> extends never
  ? BodyOf<R> extends undefined
    ? [args?: CallArgs<R>]
    : [args: CallArgs<R>]
  : [args: CallArgs<R>];

export type Api = { [K in keyof Routes]: (...args: Args<Routes[K]>) => Promise<ResponseOf<Routes[K]>> };

/** one request on a route of the table, answered as its response type */
export function callRoute<R extends RouteDef>(http: HttpClient, r: R, args: Partial<CallArgs<R>> = {}): Promise<ResponseOf<R>> {
  const { params, body, query, ...rest } = args as { params?: Record<string, string>; body?: unknown; query?: Record<string, string | number | undefined> };
  return http.request<ResponseOf<R>>(r.method, pathOf(r, (params ?? {}) as ParamsOf<R>), {
    ...rest,
    ...(query ? { query } : {}),
    ...(body !== undefined ? { body } : {}),
  });
}

export function createApi(http: HttpClient): Api {
  return Object.fromEntries(
    Object.entries(routes).map(([name, r]) => [name, (args?: Partial<CallArgs<RouteDef>>) => callRoute(http, r, args)]),
  ) as unknown as Api;
}
