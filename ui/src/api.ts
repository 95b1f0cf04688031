/**
 * The dashboard's side of the HTTP API: the same routes the CLI uses
 * (docs/api.md), called with the signed-in user's token. Shapes come from the
 * shared types, imported type-only so nothing of the server lands in the bundle.
 */
import type {
  Alloc,
  AllocDetail,
  ApiError,
  Deployment,
  DispatchResponse,
  Evaluation,
  JobDetail,
  JobSummary,
  LogsResponse,
  NodeInfo,
  NodeSummary,
  Page,
  QueueSummary,
  RunOutcome,
  RunsResponse,
  StatusResponse,
  UsageResponse,
} from '../../src/api/types.js';
import type { JobVersionsResponse } from '../../src/api/types.js';

export type { JobVersionsResponse };

const TOKEN_KEY = 'baton.token';

export function savedToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}
export function saveToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined>;

export async function request<T>(token: string, method: string, path: string, opts: { query?: Query; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: opts.signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new HttpError(0, 'cannot reach the baton server: is it running?');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw new HttpError(res.status, (parsed as ApiError | undefined)?.error ?? `${method} ${url.pathname}: HTTP ${res.status}`);
  return parsed as T;
}

const enc = encodeURIComponent;

/** one page of a listing: at most `limit` items (server default 100, at most 1000) after `cursor`, the `next` of the page before */
export interface PageQuery {
  limit?: number;
  cursor?: string;
}

export interface JobFilter extends PageQuery {
  /** '*' (default) for every namespace the token may read */
  namespace?: string;
  /** the runs of this parameterized or periodic job (needs a namespace) */
  parent?: string;
  status?: string;
  type?: string;
}

export interface RunFilter extends PageQuery {
  outcome?: RunOutcome;
  /** only the runs of one dispatch */
  sweep?: string;
}

export interface AllocFilter extends PageQuery {
  namespace?: string;
  job?: string;
  node?: string;
  status?: string;
}

/**
 * One object per signed-in token; every page reads through it. Listings are
 * fetched one page at a time: a cluster may hold a million runs, and a page
 * never needs more than what it shows.
 */
export class Api {
  constructor(readonly token: string) {}
  private get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return request<T>(this.token, 'GET', path, { query, signal });
  }

  status = () => this.get<StatusResponse>('/v1/status');
  queue = (namespace = '*') => this.get<QueueSummary>('/v1/queue', { namespace });
  nodes = (q: PageQuery = {}) => this.get<Page<NodeSummary>>('/v1/nodes', { ...q });
  /** the node with its live allocs and its most recent finished ones */
  node = (id: string) => this.get<{ node: NodeSummary; allocs: Alloc[] }>(`/v1/nodes/${enc(id)}`);
  nodeUsage = (id: string) => this.get<UsageResponse>(`/v1/nodes/${enc(id)}/usage`);
  jobs = (q: JobFilter = {}) => this.get<Page<JobSummary>>('/v1/jobs', { ...q, namespace: q.namespace ?? '*' });
  job = (id: string, namespace: string) => this.get<JobDetail>(`/v1/jobs/${enc(id)}`, { namespace });
  versions = (id: string, namespace: string) => this.get<JobVersionsResponse>(`/v1/jobs/${enc(id)}/versions`, { namespace });
  /** one page of a sweep's runs (or a batch job's indexes) in submission order, with the job's summary */
  runs = (id: string, namespace: string, q: RunFilter = {}) => this.get<RunsResponse>(`/v1/jobs/${enc(id)}/runs`, { namespace, ...q });
  deployments = (job: string, namespace: string) => this.get<Deployment[]>('/v1/deployments', { namespace, job });
  /** oldest first */
  allocs = (q: AllocFilter = {}) => this.get<Page<Alloc>>('/v1/allocs', { ...q, namespace: q.namespace ?? '*' });
  alloc = (id: string) => this.get<AllocDetail>(`/v1/allocs/${enc(id)}`);
  allocUsage = (id: string) => this.get<UsageResponse>(`/v1/allocs/${enc(id)}/usage`);
  /** newest first */
  evals = (q: { namespace?: string; job?: string } & PageQuery = {}) => this.get<Page<Evaluation>>('/v1/evals', { ...q, namespace: q.namespace ?? '*' });
  logs = (id: string, q: { task: string; stream: string; offset: number; wait?: string }, signal?: AbortSignal) =>
    this.get<LogsResponse>(`/v1/allocs/${enc(id)}/logs`, q, signal);

  stopJob = (id: string, namespace: string) => request(this.token, 'DELETE', `/v1/jobs/${enc(id)}`, { query: { namespace } });
  startJob = (id: string, namespace: string) => request(this.token, 'POST', `/v1/jobs/${enc(id)}/start`, { query: { namespace } });
  scaleJob = (id: string, namespace: string, count: number) => request(this.token, 'POST', `/v1/jobs/${enc(id)}/scale`, { query: { namespace }, body: { count } });
  dispatch = (id: string, namespace: string, meta: Record<string, string>, payload?: string) =>
    request<DispatchResponse>(this.token, 'POST', `/v1/jobs/${enc(id)}/dispatch`, { query: { namespace }, body: { runs: [{ meta, payload }] } });
  promote = (deploymentId: string) => request<Deployment>(this.token, 'POST', `/v1/deployments/${enc(deploymentId)}/promote`, { body: {} });
  drain = (nodeId: string, body: { deadline?: string; cancel?: boolean }) => request<NodeInfo>(this.token, 'POST', `/v1/nodes/${enc(nodeId)}/drain`, { body });
  eligibility = (nodeId: string, eligible: boolean) => request<NodeInfo>(this.token, 'PUT', `/v1/nodes/${enc(nodeId)}/eligibility`, { body: { eligible } });
}
