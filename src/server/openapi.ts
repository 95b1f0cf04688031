/**
 * The OpenAPI 3.1 document of the HTTP API (GET /v1/openapi.json), built from
 * the route table (src/api/routes.ts): each route's summary, auth, query,
 * body schema (the zod schema the server validates with) and response type.
 * The list of routes comes from fastify itself (an onRoute hook), so a route
 * registered without an entry in the table still shows, as refused.
 */
import { z } from 'zod';
import { routeByKey, routes, type Auth, type RouteDef } from '../api/routes.js';

export type { Auth };
/** a route's policy and documentation: its entry in the route table */
export type RouteDoc = RouteDef;

/** keyed by "METHOD /path" as fastify registers it */
export const ROUTES: Readonly<Record<string, RouteDoc>> = Object.fromEntries(Object.values(routes).map((r) => [`${r.method} ${r.path}`, r]));

const AUTH_ORDER: Auth[] = ['none', 'read', 'submit', 'operator', 'admin', 'node', 'join'];
const AUTH_WHO: Record<Auth, string> = {
  none: 'anyone (no token)',
  read: '`read` and up',
  submit: '`submit` and up',
  operator: '`operator` and up',
  admin: '`admin`',
  node: 'a node: its secret, with its own certificate over TLS (its own node only)',
  join: 'the join token',
};

/**
 * The README's table of who may call what, from ROUTES: the docs and the
 * enforcement come from one place (a test compares the README with this).
 * `*`: a token of another namespace gets 403 for this namespace's objects.
 */
export function roleTableMarkdown(): string {
  const lines = ['| who | routes (`*`: namespaced) |', '| --- | --- |'];
  for (const auth of AUTH_ORDER) {
    const keys = Object.keys(ROUTES).filter((k) => ROUTES[k].auth === auth);
    if (keys.length === 0) continue;
    lines.push(`| ${AUTH_WHO[auth]} | ${keys.map((k) => `\`${k}\`${ROUTES[k].namespaced ? '\\*' : ''}`).join(', ')} |`);
  }
  return lines.join('\n');
}

/** the policy of a route as fastify registered it; undefined: none declared (the server refuses it) */
export function policyOf(method: string, url: string): RouteDoc | undefined {
  return routeByKey.get(`${method} ${url}`);
}

export interface RegisteredRoute {
  method: string;
  url: string;
}

/** a name usable in components: "JobSummary[]" → "JobSummary"; string and Page<...> get none */
function typeName(response: string): string | undefined {
  const m = /^([A-Z][A-Za-z]+)(\[\])?$/.exec(response);
  return m ? m[1] : undefined;
}

function bodySchema(schema: z.ZodType): Record<string, unknown> {
  // the input side: what a client sends (before defaults and transforms)
  const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

export async function buildOpenApi(registered: RegisteredRoute[], version: string): Promise<Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  const components: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const r of registered) {
    const method = r.method.toUpperCase();
    // HEAD is fastify's automatic twin of GET
    if (method === 'HEAD' || method === 'OPTIONS') continue;
    // the web UI's pages and assets are not part of the API
    if (!r.url.startsWith('/v1/') && r.url !== '/metrics') continue;
    const key = `${method} ${r.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // a route without a policy is refused by the server; it is listed as admin-only so the document does not promise more
    const doc: Omit<RouteDoc, 'response'> & { response: string } = routeByKey.get(key) ?? {
      method: method as RouteDoc['method'],
      path: r.url,
      summary: `${r.url} (no policy declared: refused)`,
      auth: 'admin',
      response: 'unknown',
    };
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const params: unknown[] = [];
    for (const m of r.url.matchAll(/:([A-Za-z_]+)/g)) params.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    for (const [name, description] of Object.entries(doc.query ?? {}))
      params.push({ name, in: 'query', required: false, description, schema: { type: 'string' } });
    const name = typeName(doc.response);
    if (name) components[name] ??= { type: 'object', description: `${name}: see src/api/types.ts` };
    const ref = name ? { $ref: `#/components/schemas/${name}` } : { description: doc.response };
    const schema = doc.response.endsWith('[]') && name ? { type: 'array', items: ref } : ref;
    const op: Record<string, unknown> = {
      summary: doc.summary,
      operationId: `${method.toLowerCase()}${r.url.replace(/[/:.{}-]+(\w)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      ...(params.length > 0 ? { parameters: params } : {}),
      security: doc.auth === 'none' ? [] : [{ bearer: [] }],
      'x-baton-auth': doc.auth,
      ...(doc.namespaced ? { 'x-baton-namespaced': true } : {}),
      responses: {
        200: { description: doc.response, content: { [doc.produces ?? 'application/json']: { schema: doc.produces ? { type: 'string' } : schema } } },
        ...(doc.auth === 'none'
          ? {}
          : {
              401: { description: 'missing or unknown token', content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } } },
              403: {
                description: `the credential may not call this (needs ${doc.auth}${doc.namespaced ? ' in the namespace' : ''})`,
                content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
              },
              429: {
                description: 'too many failed sign-ins from this address: see Retry-After',
                content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
              },
            }),
        400: { description: 'bad input', content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } } },
      },
    };
    if (doc.body) op.requestBody = { required: true, content: { 'application/json': { schema: bodySchema(await doc.body()) } } };
    (paths[path] ??= {})[method.toLowerCase()] = op;
  }
  components.ApiError = {
    type: 'object',
    required: ['error'],
    properties: {
      error: { type: 'string' },
      details: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'baton', version, description: 'The HTTP API of baton (docs/api.md). Tokens go in "Authorization: Bearer <token>".' },
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: { schemas: components, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}
