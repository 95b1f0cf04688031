/**
 * The HTTP API as one table: each route's method, path, who may call it, its
 * query, its body schema and its response type. Everything else is made or
 * typed from it, so a route cannot drift: the server registers its handlers
 * through it (server/route.ts: a handler must answer the response type) and
 * enforces its auth; the OpenAPI document is built from it; BatonClient and
 * AgentClient call routes by their entry here, with the path's parameters,
 * the body's type and the answer's type taken from it. A test compares the
 * routes fastify registered with this table, both ways.
 *
 * Body schemas are loaded when asked for (the server does at start): the CLI
 * and the agent import this table and never load zod.
 */
import type { z } from 'zod';
import type * as T from './types.js';

/**
 * Who may call a route; the server enforces it before reading the body
 * (server/access.ts) and the permission matrix test checks every cell.
 * 'none': public; a role: an API token of that role or higher; 'node': an
 * agent's node credential; 'join': the join token.
 */
export type Auth = 'none' | 'read' | 'submit' | 'operator' | 'admin' | 'node' | 'join';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** every answer a route names, by that name (the OpenAPI component) */
export interface ResponseTypes {
  StatusResponse: T.StatusResponse;
  SubmitJobResponse: T.SubmitJobResponse;
  'Page<JobSummary>': T.Page<T.JobSummary>;
  'Page<NodeSummary>': T.Page<T.NodeSummary>;
  'Page<Alloc>': T.Page<T.Alloc>;
  'Page<Evaluation>': T.Page<T.Evaluation>;
  QueueSummary: T.QueueSummary;
  GcResponse: T.GcResponse;
  JobDetail: T.JobDetail;
  StopJobResponse: T.StopJobResponse;
  DispatchResponse: T.DispatchResponse;
  RunsResponse: T.RunsResponse;
  JobChangeResponse: T.JobChangeResponse;
  RevertJobResponse: T.RevertJobResponse;
  JobVersionsResponse: T.JobVersionsResponse;
  Deployment: T.Deployment;
  'Deployment[]': T.Deployment[];
  'ServiceSummary[]': T.ServiceSummary[];
  ServiceEndpointsResponse: T.ServiceEndpointsResponse;
  NodeDetailResponse: T.NodeDetailResponse;
  NodeInfo: T.NodeInfo;
  UsageResponse: T.UsageResponse;
  'string[]': string[];
  AllocDetail: T.AllocDetail;
  LogsResponse: T.LogsResponse;
  Evaluation: T.Evaluation;
  /** GET /v1/events with follow=false; a stream of ClusterEvent otherwise (produces) */
  EventsPage: T.EventsPage;
  EventTicketResponse: T.EventTicketResponse;
  CreateTokenResponse: T.CreateTokenResponse;
  TokenInfo: T.TokenInfo;
  'TokenInfo[]': T.TokenInfo[];
  SecretInfo: T.SecretInfo;
  'SecretInfo[]': T.SecretInfo[];
  OpenApiDocument: T.OpenApiDocument;
  /** text, not JSON (see produces) */
  string: string;
  RegisterNodeResponse: T.RegisterNodeResponse;
  AgentCaResponse: T.AgentCaResponse;
  NodeCertResponse: T.NodeCertResponse;
  HeartbeatResponse: T.HeartbeatResponse;
  AgentAllocsResponse: T.AgentAllocsResponse;
  IndexResponse: T.IndexResponse;
  ShipLogsResponse: T.ShipLogsResponse;
  AllocSecretsResponse: T.AllocSecretsResponse;
}

export type ResponseName = keyof ResponseTypes;

export interface RouteDef {
  method: Method;
  /** as fastify registers it: `:name` for a path parameter */
  path: string;
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
  query?: Readonly<Record<string, string>>;
  /** the schema the server validates the JSON body with (loaded when asked for) */
  body?: () => Promise<z.ZodType>;
  response: ResponseName;
  /** a media type other than JSON */
  produces?: string;
}

const route = <const D extends RouteDef>(d: D): D => d;

const NS = { namespace: 'namespace (default "default"; "*" for all where listed)' } as const;
const PAGE = { limit: 'items per page, 1 to 1000 (default 100)', cursor: 'the next of the page before' } as const;

export const routes = {
  status: route({
    method: 'GET',
    path: '/v1/status',
    summary: 'Server version, store index and kind, the servers of the cluster and which one leads',
    auth: 'read',
    response: 'StatusResponse',
  }),
  submitJob: route({
    method: 'POST',
    path: '/v1/jobs',
    namespaced: true,
    summary: 'Submit a job (a new version when the spec changed)',
    auth: 'submit',
    body: async () => (await import('../server/schemas.js')).submitJobSchema,
    response: 'SubmitJobResponse',
  }),
  listJobs: route({
    method: 'GET',
    path: '/v1/jobs',
    namespaced: true,
    summary: 'List jobs, a page at a time (top-level jobs by namespace and id; with parent, its runs in submission order)',
    auth: 'read',
    query: {
      ...NS,
      parent: 'the runs of this parameterized or periodic job',
      status: 'pending, running, complete, failed or stopped',
      type: 'batch, service, system, parameterized or periodic',
      ...PAGE,
    },
    response: 'Page<JobSummary>',
  }),
  queue: route({
    method: 'GET',
    path: '/v1/queue',
    namespaced: true,
    summary: 'What waits for capacity: queued runs and unplaced allocs, with why and when they should end',
    auth: 'read',
    query: NS,
    response: 'QueueSummary',
  }),
  gc: route({
    method: 'POST',
    path: '/v1/system/gc',
    summary: 'Collect finished jobs, sweeps, allocs and evals now',
    auth: 'operator',
    body: async () => (await import('../server/schemas.js')).gcSchema,
    response: 'GcResponse',
  }),
  getJob: route({
    method: 'GET',
    path: '/v1/jobs/:id',
    namespaced: true,
    summary: 'A job with its summary, allocs and evals',
    auth: 'read',
    query: NS,
    response: 'JobDetail',
  }),
  stopJob: route({
    method: 'DELETE',
    path: '/v1/jobs/:id',
    namespaced: true,
    summary: 'Stop a job (and the runs of a parent)',
    auth: 'submit',
    query: NS,
    response: 'StopJobResponse',
  }),
  dispatch: route({
    method: 'POST',
    path: '/v1/jobs/:id/dispatch',
    namespaced: true,
    summary: 'Dispatch runs of a parameterized job, all or none',
    auth: 'submit',
    query: NS,
    body: async () => (await import('../server/schemas.js')).dispatchSchema,
    response: 'DispatchResponse',
  }),
  listRuns: route({
    method: 'GET',
    path: '/v1/jobs/:id/runs',
    namespaced: true,
    summary: 'A page of rows, one per run of a sweep (submission order) or alloc index of a batch job, with the totals',
    auth: 'read',
    query: { ...NS, outcome: 'only runs with this outcome', sweep: 'only the runs of this dispatch (adds its totals as sweep)', ...PAGE },
    response: 'RunsResponse',
  }),
  startJob: route({
    method: 'POST',
    path: '/v1/jobs/:id/start',
    namespaced: true,
    summary: 'Run a stopped job again with its spec',
    auth: 'submit',
    query: NS,
    response: 'JobChangeResponse',
  }),
  scaleJob: route({
    method: 'POST',
    path: '/v1/jobs/:id/scale',
    namespaced: true,
    summary: 'Change the count of a job',
    auth: 'submit',
    query: NS,
    body: async () => (await import('../server/schemas.js')).scaleSchema,
    response: 'JobChangeResponse',
  }),
  jobVersions: route({
    method: 'GET',
    path: '/v1/jobs/:id/versions',
    namespaced: true,
    summary: "A job's stored versions, newest first",
    auth: 'read',
    query: NS,
    response: 'JobVersionsResponse',
  }),
  revertJob: route({
    method: 'POST',
    path: '/v1/jobs/:id/revert',
    namespaced: true,
    summary: 'Register an earlier version as a new version',
    auth: 'submit',
    query: NS,
    body: async () => (await import('../server/schemas.js')).revertSchema,
    response: 'RevertJobResponse',
  }),
  listDeployments: route({
    method: 'GET',
    path: '/v1/deployments',
    namespaced: true,
    summary: 'List deployments, newest first',
    auth: 'read',
    query: { ...NS, job: 'job id' },
    response: 'Deployment[]',
  }),
  getDeployment: route({ method: 'GET', path: '/v1/deployments/:id', namespaced: true, summary: 'One deployment', auth: 'read', response: 'Deployment' }),
  promoteDeployment: route({
    method: 'POST',
    path: '/v1/deployments/:id/promote',
    namespaced: true,
    summary: 'Promote the canaries of a deployment',
    auth: 'submit',
    response: 'Deployment',
  }),
  failDeployment: route({
    method: 'POST',
    path: '/v1/deployments/:id/fail',
    namespaced: true,
    summary: 'Fail a deployment (auto_revert applies)',
    auth: 'submit',
    response: 'Deployment',
  }),
  listServices: route({
    method: 'GET',
    path: '/v1/services',
    namespaced: true,
    summary: 'List services',
    auth: 'read',
    query: NS,
    response: 'ServiceSummary[]',
  }),
  serviceEndpoints: route({
    method: 'GET',
    path: '/v1/services/:name',
    namespaced: true,
    summary: "A service's healthy endpoints; a blocking query with index",
    auth: 'read',
    query: { ...NS, index: 'block until the list changes after this index', wait: 'how long to block, e.g. 30s' },
    response: 'ServiceEndpointsResponse',
  }),
  listNodes: route({
    method: 'GET',
    path: '/v1/nodes',
    summary: 'List nodes by name, a page at a time',
    auth: 'read',
    query: PAGE,
    response: 'Page<NodeSummary>',
  }),
  getNode: route({
    method: 'GET',
    path: '/v1/nodes/:id',
    summary: 'A node, its live allocs and the last 50 it finished',
    auth: 'read',
    response: 'NodeDetailResponse',
  }),
  setEligibility: route({
    method: 'PUT',
    path: '/v1/nodes/:id/eligibility',
    summary: 'Make a node (in)eligible for new work',
    auth: 'operator',
    body: async () => (await import('../server/schemas.js')).eligibilitySchema,
    response: 'NodeInfo',
  }),
  drainNode: route({
    method: 'POST',
    path: '/v1/nodes/:id/drain',
    summary: 'Drain a node (or cancel a drain)',
    auth: 'operator',
    body: async () => (await import('../server/schemas.js')).drainSchema,
    response: 'NodeInfo',
  }),
  nodeUsage: route({
    method: 'GET',
    path: '/v1/nodes/:id/usage',
    summary: "The last hour of a node's cpu and memory use",
    auth: 'read',
    response: 'UsageResponse',
  }),
  listAllocs: route({
    method: 'GET',
    path: '/v1/allocs',
    namespaced: true,
    summary: 'List allocs, oldest first (order=desc: newest first), a page at a time',
    auth: 'read',
    query: { ...NS, job: 'job id', node: 'node id', status: 'client status', order: 'asc or desc', ...PAGE },
    response: 'Page<Alloc>',
  }),
  namespaces: route({
    method: 'GET',
    path: '/v1/namespaces',
    summary: 'Namespaces that have jobs (those the token may read)',
    auth: 'read',
    response: 'string[]',
  }),
  getAlloc: route({
    method: 'GET',
    path: '/v1/allocs/:id',
    namespaced: true,
    summary: 'One alloc, with the alloc that replaced it and the one it replaced, and why',
    auth: 'read',
    response: 'AllocDetail',
  }),
  readLogs: route({
    method: 'GET',
    path: '/v1/allocs/:id/logs',
    namespaced: true,
    summary: "A task's output; with wait, blocks for new bytes",
    auth: 'read',
    query: { task: 'task name', stream: 'stdout or stderr', offset: 'byte offset', wait: 'how long to block, e.g. 30s' },
    response: 'LogsResponse',
  }),
  allocUsage: route({
    method: 'GET',
    path: '/v1/allocs/:id/usage',
    namespaced: true,
    summary: "The last hour of an alloc's cpu and memory use, per task, with its memory limit",
    auth: 'read',
    response: 'UsageResponse',
  }),
  listEvals: route({
    method: 'GET',
    path: '/v1/evals',
    namespaced: true,
    summary: 'List evaluations, newest first, a page at a time',
    auth: 'read',
    query: { ...NS, job: 'job id', status: 'eval status', ...PAGE },
    response: 'Page<Evaluation>',
  }),
  getEval: route({ method: 'GET', path: '/v1/evals/:id', namespaced: true, summary: 'One evaluation', auth: 'read', response: 'Evaluation' }),
  events: route({
    method: 'GET',
    path: '/v1/events',
    namespaced: true,
    summary:
      'Cluster events as server-sent events (one `data:` line of ClusterEvent JSON each, `id:` the index); follow=false answers the buffered events as JSON',
    auth: 'read',
    query: {
      topic: 'comma-separated: job, alloc, node, eval, deployment',
      ...NS,
      index: 'only events after this index (or send Last-Event-ID)',
      follow: '"false": answer { index, events } as JSON and end',
      ticket: 'a ticket from POST /v1/events/ticket, for EventSource, which cannot send headers',
    },
    response: 'EventsPage',
    produces: 'text/event-stream',
  }),
  eventTicket: route({
    method: 'POST',
    path: '/v1/events/ticket',
    summary: 'A ticket for ?ticket= of the event stream: a minute long, with the role and namespace of the token that asked',
    auth: 'read',
    response: 'EventTicketResponse',
  }),
  createToken: route({
    method: 'POST',
    path: '/v1/tokens',
    summary: 'Create an API token (role, namespace, optional ttl); its secret is in this answer only',
    auth: 'admin',
    body: async () => (await import('../server/schemas.js')).createTokenSchema,
    response: 'CreateTokenResponse',
  }),
  listTokens: route({ method: 'GET', path: '/v1/tokens', summary: 'List API tokens (never their secrets)', auth: 'admin', response: 'TokenInfo[]' }),
  revokeToken: route({
    method: 'DELETE',
    path: '/v1/tokens/:id',
    summary: 'Revoke an API token (not the last admin token)',
    auth: 'admin',
    response: 'TokenInfo',
  }),
  putSecret: route({
    method: 'PUT',
    path: '/v1/secrets/:namespace/:name',
    namespaced: true,
    summary: 'Put a new version of a secret (body { data: { key: value } }); the answer has its version and key names, never values',
    auth: 'submit',
    body: async () => (await import('../secrets/secret-schemas.js')).putSecretSchema,
    response: 'SecretInfo',
  }),
  listSecrets: route({
    method: 'GET',
    path: '/v1/secrets',
    namespaced: true,
    summary: 'List secrets: names, versions, key names, who may read; never values',
    auth: 'read',
    query: NS,
    response: 'SecretInfo[]',
  }),
  deleteSecret: route({
    method: 'DELETE',
    path: '/v1/secrets/:namespace/:name',
    namespaced: true,
    summary: 'Delete a secret (its allocs keep their files until they restart)',
    auth: 'submit',
    response: 'SecretInfo',
  }),
  openapi: route({ method: 'GET', path: '/v1/openapi.json', summary: 'This document', auth: 'none', response: 'OpenApiDocument' }),
  metrics: route({
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    auth: 'none',
    response: 'string',
    produces: 'text/plain; version=0.0.4',
  }),
  agentRegister: route({
    method: 'POST',
    path: '/v1/agent/register',
    summary: 'Register a node with the join token; answers its node secret and, for a csr, its client certificate',
    auth: 'join',
    body: async () => (await import('../server/schemas.js')).registerWithCsrSchema,
    response: 'RegisterNodeResponse',
  }),
  agentCa: route({
    method: 'GET',
    path: '/v1/agent/ca',
    summary: "The cluster CA certificate (PEM) and its sha256 fingerprint; the caller checks it against the join token's",
    auth: 'none',
    response: 'AgentCaResponse',
  }),
  agentCert: route({
    method: 'POST',
    path: '/v1/agent/cert',
    summary: "Renew the node's client certificate (mutual TLS with the current one)",
    auth: 'node',
    body: async () => (await import('../server/schemas.js')).nodeCertSchema,
    response: 'NodeCertResponse',
  }),
  agentUpdateNode: route({
    method: 'PUT',
    path: '/v1/agent/node',
    summary: "Update a node's facts (marks it ready)",
    auth: 'node',
    body: async () => (await import('../server/schemas.js')).registerNodeSchema,
    response: 'HeartbeatResponse',
  }),
  agentHeartbeat: route({
    method: 'POST',
    path: '/v1/agent/heartbeat',
    summary: 'The node is alive; carries its usage',
    auth: 'node',
    body: async () => (await import('../server/schemas.js')).heartbeatSchema,
    response: 'HeartbeatResponse',
  }),
  agentAllocs: route({
    method: 'GET',
    path: '/v1/agent/allocs',
    summary: "A blocking query for the node's allocs",
    auth: 'node',
    query: { index: 'answer once allocs changed after this index', wait: 'how long to block (max 5m)' },
    response: 'AgentAllocsResponse',
  }),
  agentAllocStatus: route({
    method: 'POST',
    path: '/v1/agent/allocs/status',
    summary: "Report allocs' status",
    auth: 'node',
    body: async () => (await import('../server/schemas.js')).allocStatusSchema,
    response: 'IndexResponse',
  }),
  agentShipLogs: route({
    method: 'POST',
    path: '/v1/agent/logs',
    summary: 'Ship task output',
    auth: 'node',
    body: async () => (await import('../server/schemas.js')).shipLogsSchema,
    response: 'ShipLogsResponse',
  }),
  agentAllocSecrets: route({
    method: 'GET',
    path: '/v1/agent/allocs/:id/secrets',
    summary: 'The values of the secrets a live alloc of this node names (its agent only)',
    auth: 'node',
    response: 'AllocSecretsResponse',
  }),
  agentServiceEndpoints: route({
    method: 'GET',
    path: '/v1/agent/services/:name',
    summary: "A service's healthy endpoints, for upstreams",
    auth: 'node',
    query: NS,
    response: 'ServiceEndpointsResponse',
  }),
} as const;

export type Routes = typeof routes;
export type RouteName = keyof Routes;
export type AnyRoute = Routes[RouteName];

/** what a route answers */
export type ResponseOf<R extends RouteDef> = ResponseTypes[R['response']];

/** what a route's body must be (what the client sends: before defaults and transforms); undefined without a body */
export type BodyOf<R extends RouteDef> = R extends { body: () => Promise<infer S extends z.ZodType> } ? z.input<S> : undefined;

type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

/** the path's parameters by name */
export type ParamsOf<R extends RouteDef> = { [K in ParamNames<R['path']>]: string };

/** the path with its parameters filled in (each URI-encoded) */
export function pathOf<R extends RouteDef>(r: R, params: ParamsOf<R>): string {
  return r.path.replace(/:([A-Za-z_]+)/g, (_m, name: string) => {
    const v = (params as Record<string, string | undefined>)[name];
    if (v === undefined) throw new Error(`${r.method} ${r.path}: no value for :${name}`);
    return encodeURIComponent(v);
  });
}

/** "METHOD /path" → its route, as fastify names a registered route */
export const routeByKey: ReadonlyMap<string, AnyRoute> = new Map(Object.values(routes).map((r) => [`${r.method} ${r.path}`, r]));
