/**
 * The dashboard's side of the HTTP API: the same routes the CLI uses
 * (docs/api.md), called with the signed-in user's token. Shapes come from the
 * shared types, imported type-only so nothing of the server lands in the bundle.
 */
import type {
  Alloc,
  AllocDetail,
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
import { BatonClient } from '../../src/client/client.js';
import { fetchTransport } from '../../src/client/fetch-transport.js';

export type { JobVersionsResponse };

const TOKEN_KEY = 'baton.token';

export function savedToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}
export function saveToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** a failed call: `status` is the HTTP status (0 when the server could not be reached) */
export { BatonApiError as HttpError } from '../../src/client/http.js';

type Query = Record<string, string | number | undefined>;

/** the shared client (src/client), over the browser's fetch, signed in with this token */
export function clientFor(token: string): BatonClient {
  return new BatonClient({ baseUrl: window.location.origin, token, transport: fetchTransport });
}

/** a filter the page left empty is not sent */
function given<Q extends Query>(q: Q): Q {
  return Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined && v !== '')) as Q;
}

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
  private readonly api: BatonClient['api'];
  constructor(readonly token: string) {
    this.api = clientFor(token).api;
  }

  status = (): Promise<StatusResponse> => this.api.status();
  eventTicket = () => this.api.eventTicket();
  queue = (namespace = '*'): Promise<QueueSummary> => this.api.queue({ query: { namespace } });
  nodes = (q: PageQuery = {}): Promise<Page<NodeSummary>> => this.api.listNodes({ query: given({ ...q }) });
  /** the node with its live allocs and its most recent finished ones */
  node = (id: string): Promise<{ node: NodeSummary; allocs: Alloc[] }> => this.api.getNode({ params: { id } });
  nodeUsage = (id: string): Promise<UsageResponse> => this.api.nodeUsage({ params: { id } });
  jobs = (q: JobFilter = {}): Promise<Page<JobSummary>> => this.api.listJobs({ query: given({ ...q, namespace: q.namespace ?? '*' }) });
  job = (id: string, namespace: string): Promise<JobDetail> => this.api.getJob({ params: { id }, query: { namespace } });
  versions = (id: string, namespace: string): Promise<JobVersionsResponse> => this.api.jobVersions({ params: { id }, query: { namespace } });
  /** one page of a sweep's runs (or a batch job's indexes) in submission order, with the job's summary */
  runs = (id: string, namespace: string, q: RunFilter = {}): Promise<RunsResponse> => this.api.listRuns({ params: { id }, query: given({ namespace, ...q }) });
  deployments = (job: string, namespace: string): Promise<Deployment[]> => this.api.listDeployments({ query: { namespace, job } });
  /** oldest first */
  allocs = (q: AllocFilter = {}): Promise<Page<Alloc>> => this.api.listAllocs({ query: given({ ...q, namespace: q.namespace ?? '*' }) });
  alloc = (id: string): Promise<AllocDetail> => this.api.getAlloc({ params: { id } });
  allocUsage = (id: string): Promise<UsageResponse> => this.api.allocUsage({ params: { id } });
  /** newest first */
  evals = (q: { namespace?: string; job?: string } & PageQuery = {}): Promise<Page<Evaluation>> =>
    this.api.listEvals({ query: given({ ...q, namespace: q.namespace ?? '*' }) });
  logs = (id: string, q: { task: string; stream: string; offset: number; wait?: string }, signal?: AbortSignal): Promise<LogsResponse> =>
    this.api.readLogs({ params: { id }, query: given({ ...q }), signal });

  stopJob = (id: string, namespace: string) => this.api.stopJob({ params: { id }, query: { namespace } });
  startJob = (id: string, namespace: string) => this.api.startJob({ params: { id }, query: { namespace } });
  scaleJob = (id: string, namespace: string, count: number) => this.api.scaleJob({ params: { id }, query: { namespace }, body: { count } });
  dispatch = (id: string, namespace: string, meta: Record<string, string>, payload?: string): Promise<DispatchResponse> =>
    this.api.dispatch({ params: { id }, query: { namespace }, body: { runs: [{ meta, ...(payload !== undefined ? { payload } : {}) }] } });
  promote = (deploymentId: string): Promise<Deployment> => this.api.promoteDeployment({ params: { id: deploymentId } });
  drain = (nodeId: string, body: { deadline?: string; cancel?: boolean }): Promise<NodeInfo> => this.api.drainNode({ params: { id: nodeId }, body });
  eligibility = (nodeId: string, eligible: boolean): Promise<NodeInfo> => this.api.setEligibility({ params: { id: nodeId }, body: { eligible } });
}
