/**
 * The OpenAPI 3.1 document of the HTTP API (GET /v1/openapi.json). The list of
 * routes comes from fastify itself (an onRoute hook), so a new route can never
 * be missing; what each one means comes from ROUTES below, which mirrors
 * docs/api.md. Request bodies are the zod schemas the server validates with.
 */
import { z } from 'zod';
import {
  allocStatusSchema,
  createTokenSchema,
  dispatchSchema,
  drainSchema,
  eligibilitySchema,
  gcSchema,
  heartbeatSchema,
  registerNodeSchema,
  registerWithCsrSchema,
  nodeCertSchema,
  revertSchema,
  scaleSchema,
  shipLogsSchema,
  submitJobSchema,
} from './schemas.js';
import { putSecretSchema } from '../secrets/secret-schemas.js';

/**
 * Who may call a route; the server enforces it before reading the body
 * (app.ts) and the permission matrix test checks every cell. 'none': public;
 * a role: an API token of that role or higher; 'node': an agent's node
 * credential; 'join': the join token.
 */
export type Auth = 'none' | 'read' | 'submit' | 'operator' | 'admin' | 'node' | 'join';

export interface RouteDoc {
  summary: string;
  auth: Auth;
  /**
   * the route reads or changes one namespace's objects: a token of another
   * namespace gets 403 (404 for an id it cannot see). Routes without it are
   * cluster-wide: any namespace's token may read them (node pages and the
   * namespace list show such a token its own namespace only), but changing
   * them (operator and admin routes) needs a token of every namespace ('*').
   */
  namespaced?: boolean;
  /** query parameters, by name → description */
  query?: Record<string, string>;
  body?: z.ZodType;
  /** the response type's name in src/api/types.ts (or a short shape) */
  response: string;
  /** a media type other than JSON */
  produces?: string;
}

const NS = { namespace: 'namespace (default "default"; "*" for all where listed)' };
const PAGE = { limit: 'items per page, 1 to 1000 (default 100)', cursor: 'the next of the page before' };

/** keyed by "METHOD /path" as fastify registers it */
export const ROUTES: Record<string, RouteDoc> = {
  'GET /v1/status': { summary: 'Server version, store index and kind, the servers of the cluster and which one leads', auth: 'read', response: 'StatusResponse' },
  'POST /v1/jobs': { namespaced: true, summary: 'Submit a job (a new version when the spec changed)', auth: 'submit', body: submitJobSchema, response: 'SubmitJobResponse' },
  'GET /v1/jobs': { namespaced: true,
    summary: 'List jobs, a page at a time (top-level jobs by namespace and id; with parent, its runs in submission order)',
    auth: 'read',
    query: { ...NS, parent: 'the runs of this parameterized or periodic job', status: 'pending, running, complete, failed or stopped', type: 'batch, service, system, parameterized or periodic', ...PAGE },
    response: 'Page<JobSummary>',
  },
  'GET /v1/queue': { namespaced: true, summary: 'What waits for capacity: queued runs and unplaced allocs, with why and when they should end', auth: 'read', query: NS, response: 'QueueSummary' },
  'POST /v1/system/gc': { summary: 'Collect finished jobs, sweeps, allocs and evals now', auth: 'operator', body: gcSchema, response: 'GcResponse' },
  'GET /v1/jobs/:id': { namespaced: true, summary: 'A job with its summary, allocs and evals', auth: 'read', query: NS, response: 'JobDetail' },
  'DELETE /v1/jobs/:id': { namespaced: true, summary: 'Stop a job (and the runs of a parent)', auth: 'submit', query: NS, response: 'StopJobResponse' },
  'POST /v1/jobs/:id/dispatch': { namespaced: true, summary: 'Dispatch runs of a parameterized job, all or none', auth: 'submit', query: NS, body: dispatchSchema, response: 'DispatchResponse' },
  'GET /v1/jobs/:id/runs': { namespaced: true,
    summary: 'A page of rows, one per run of a sweep (submission order) or alloc index of a batch job, with the totals',
    auth: 'read',
    query: { ...NS, outcome: 'only runs with this outcome', sweep: 'only the runs of this dispatch (adds its totals as sweep)', ...PAGE },
    response: 'RunsResponse',
  },
  'POST /v1/jobs/:id/start': { namespaced: true, summary: 'Run a stopped job again with its spec', auth: 'submit', query: NS, response: '{ job: Job, evalId: string }' },
  'POST /v1/jobs/:id/scale': { namespaced: true, summary: 'Change the count of a job', auth: 'submit', query: NS, body: scaleSchema, response: '{ job: Job, evalId: string }' },
  'GET /v1/jobs/:id/versions': { namespaced: true, summary: "A job's stored versions, newest first", auth: 'read', query: NS, response: 'JobVersionsResponse' },
  'POST /v1/jobs/:id/revert': { namespaced: true, summary: 'Register an earlier version as a new version', auth: 'submit', query: NS, body: revertSchema, response: '{ job: Job, evalId: string }' },
  'GET /v1/deployments': { namespaced: true, summary: 'List deployments, newest first', auth: 'read', query: { ...NS, job: 'job id' }, response: 'Deployment[]' },
  'GET /v1/deployments/:id': { namespaced: true, summary: 'One deployment', auth: 'read', response: 'Deployment' },
  'POST /v1/deployments/:id/promote': { namespaced: true, summary: 'Promote the canaries of a deployment', auth: 'submit', response: 'Deployment' },
  'POST /v1/deployments/:id/fail': { namespaced: true, summary: 'Fail a deployment (auto_revert applies)', auth: 'submit', response: 'Deployment' },
  'GET /v1/services': { namespaced: true, summary: 'List services', auth: 'read', query: NS, response: 'ServiceSummary[]' },
  'GET /v1/services/:name': { namespaced: true, summary: "A service's healthy endpoints; a blocking query with index", auth: 'read', query: { ...NS, index: 'block until the list changes after this index', wait: 'how long to block, e.g. 30s' }, response: 'ServiceEndpointsResponse' },
  'GET /v1/nodes': { summary: 'List nodes by name, a page at a time', auth: 'read', query: PAGE, response: 'Page<NodeSummary>' },
  'GET /v1/nodes/:id': { summary: 'A node, its live allocs and the last 50 it finished', auth: 'read', response: '{ node: NodeSummary, allocs: Alloc[] }' },
  'PUT /v1/nodes/:id/eligibility': { summary: 'Make a node (in)eligible for new work', auth: 'operator', body: eligibilitySchema, response: 'NodeInfo' },
  'POST /v1/nodes/:id/drain': { summary: 'Drain a node (or cancel a drain)', auth: 'operator', body: drainSchema, response: 'NodeInfo' },
  'GET /v1/nodes/:id/usage': { summary: "The last hour of a node's cpu and memory use", auth: 'read', response: 'UsageResponse' },
  'GET /v1/allocs': { namespaced: true, summary: 'List allocs, oldest first (order=desc: newest first), a page at a time', auth: 'read', query: { ...NS, job: 'job id', node: 'node id', status: 'client status', order: 'asc or desc', ...PAGE }, response: 'Page<Alloc>' },
  'GET /v1/namespaces': { summary: 'Namespaces that have jobs (those the token may read)', auth: 'read', response: 'string[]' },
  'GET /v1/allocs/:id': { namespaced: true, summary: 'One alloc, with the alloc that replaced it and the one it replaced, and why', auth: 'read', response: 'AllocDetail' },
  'GET /v1/allocs/:id/logs': { namespaced: true, summary: "A task's output; with wait, blocks for new bytes", auth: 'read', query: { task: 'task name', stream: 'stdout or stderr', offset: 'byte offset', wait: 'how long to block, e.g. 30s' }, response: 'LogsResponse' },
  'GET /v1/allocs/:id/usage': { namespaced: true, summary: "The last hour of an alloc's cpu and memory use, per task, with its memory limit", auth: 'read', response: 'UsageResponse' },
  'GET /v1/evals': { namespaced: true, summary: 'List evaluations, newest first, a page at a time', auth: 'read', query: { ...NS, job: 'job id', status: 'eval status', ...PAGE }, response: 'Page<Evaluation>' },
  'GET /v1/evals/:id': { namespaced: true, summary: 'One evaluation', auth: 'read', response: 'Evaluation' },
  'GET /v1/events': { namespaced: true,
    summary: 'Cluster events as server-sent events (one `data:` line of ClusterEvent JSON each, `id:` the index); follow=false answers the buffered events as JSON',
    auth: 'read',
    query: { topic: 'comma-separated: job, alloc, node, eval, deployment', ...NS, index: 'only events after this index (or send Last-Event-ID)', follow: '"false": answer { index, events } as JSON and end', ticket: 'a ticket from POST /v1/events/ticket, for EventSource, which cannot send headers' },
    response: 'ClusterEvent',
    produces: 'text/event-stream',
  },
  'POST /v1/events/ticket': { summary: 'A ticket for ?ticket= of the event stream: a minute long, with the role and namespace of the token that asked', auth: 'read', response: 'EventTicketResponse' },
  'POST /v1/tokens': { summary: 'Create an API token (role, namespace, optional ttl); its secret is in this answer only', auth: 'admin', body: createTokenSchema, response: 'CreateTokenResponse' },
  'GET /v1/tokens': { summary: 'List API tokens (never their secrets)', auth: 'admin', response: 'TokenInfo[]' },
  'DELETE /v1/tokens/:id': { summary: 'Revoke an API token (not the last admin token)', auth: 'admin', response: 'TokenInfo' },
  'PUT /v1/secrets/:namespace/:name': { namespaced: true, summary: 'Put a new version of a secret (body { data: { key: value } }); the answer has its version and key names, never values', auth: 'submit', body: putSecretSchema, response: 'SecretInfo' },
  'GET /v1/secrets': { namespaced: true, summary: 'List secrets: names, versions, key names, who may read; never values', auth: 'read', query: NS, response: 'SecretInfo[]' },
  'DELETE /v1/secrets/:namespace/:name': { namespaced: true, summary: 'Delete a secret (its allocs keep their files until they restart)', auth: 'submit', response: 'SecretInfo' },
  'GET /v1/openapi.json': { summary: 'This document', auth: 'none', response: 'OpenAPI 3.1 document' },
  'GET /metrics': { summary: 'Prometheus metrics (text exposition format)', auth: 'none', response: 'Prometheus text', produces: 'text/plain; version=0.0.4' },
  'POST /v1/agent/register': { summary: 'Register a node with the join token; answers its node secret and, for a csr, its client certificate', auth: 'join', body: registerWithCsrSchema, response: 'RegisterNodeResponse' },
  'GET /v1/agent/ca': { summary: "The cluster CA certificate (PEM) and its sha256 fingerprint; the caller checks it against the join token's", auth: 'none', response: '{ ca: string, fingerprint: string }' },
  'POST /v1/agent/cert': { summary: "Renew the node's client certificate (mutual TLS with the current one)", auth: 'node', body: nodeCertSchema, response: 'NodeCertResponse' },
  'PUT /v1/agent/node': { summary: "Update a node's facts (marks it ready)", auth: 'node', body: registerNodeSchema, response: 'HeartbeatResponse' },
  'POST /v1/agent/heartbeat': { summary: 'The node is alive; carries its usage', auth: 'node', body: heartbeatSchema, response: 'HeartbeatResponse' },
  'GET /v1/agent/allocs': { summary: "A blocking query for the node's allocs", auth: 'node', query: { index: 'answer once allocs changed after this index', wait: 'how long to block (max 5m)' }, response: 'AgentAllocsResponse' },
  'POST /v1/agent/allocs/status': { summary: "Report allocs' status", auth: 'node', body: allocStatusSchema, response: '{ index: number }' },
  'POST /v1/agent/logs': { summary: 'Ship task output', auth: 'node', body: shipLogsSchema, response: '{ accepted: number }' },
  'GET /v1/agent/allocs/:id/secrets': { summary: 'The values of the secrets a live alloc of this node names (its agent only)', auth: 'node', response: 'AllocSecretsResponse' },
  'GET /v1/agent/services/:name': { summary: "A service's healthy endpoints, for upstreams", auth: 'node', query: NS, response: 'ServiceEndpointsResponse' },
};

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
  return ROUTES[`${method} ${url}`];
}

export interface RegisteredRoute {
  method: string;
  url: string;
}

/** a name usable in components: "JobSummary[]" → "JobSummary"; shapes get none */
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

export function buildOpenApi(routes: RegisteredRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const components: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const r of routes) {
    const method = r.method.toUpperCase();
    // HEAD is fastify's automatic twin of GET
    if (method === 'HEAD' || method === 'OPTIONS') continue;
    // the web UI's pages and assets are not part of the API
    if (!r.url.startsWith('/v1/') && r.url !== '/metrics') continue;
    const key = `${method} ${r.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // a route without a policy is refused by the server; it is listed as admin-only so the document does not promise more
    const doc: RouteDoc = ROUTES[key] ?? { summary: `${r.url} (no policy declared: refused)`, auth: 'admin', response: 'unknown' };
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const params: unknown[] = [];
    for (const m of r.url.matchAll(/:([A-Za-z_]+)/g)) params.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    for (const [name, description] of Object.entries(doc.query ?? {})) params.push({ name, in: 'query', required: false, description, schema: { type: 'string' } });
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
        ...(doc.auth === 'none' ? {} : {
          401: { description: 'missing or unknown token', content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } } },
          403: { description: `the credential may not call this (needs ${doc.auth}${doc.namespaced ? ' in the namespace' : ''})`, content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } } },
          429: { description: 'too many failed sign-ins from this address: see Retry-After', content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } } },
        }),
        400: { description: 'bad input', content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } } },
      },
    };
    if (doc.body) op.requestBody = { required: true, content: { 'application/json': { schema: bodySchema(doc.body) } } };
    (paths[path] ??= {})[method.toLowerCase()] = op;
  }
  components.ApiError = {
    type: 'object', required: ['error'],
    properties: { error: { type: 'string' }, details: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } } },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'baton', version, description: 'The HTTP API of baton (docs/api.md). Tokens go in "Authorization: Bearer <token>".' },
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: { schemas: components, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}
