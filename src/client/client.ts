/**
 * The typed client of baton's user API, for the CLI, tests, the UI and users'
 * own scripts. One method per route of docs/api.md.
 */
import type {
  Alloc,
  ClusterEvent,
  Deployment,
  DeploymentStatus,
  DispatchResponse,
  DispatchRun,
  Evaluation,
  EventTopic,
  Job,
  JobDetail,
  JobSpec,
  JobSummary,
  LogStream,
  LogsResponse,
  NodeInfo,
  NodeSummary,
  RunsResponse,
  ServiceEndpointsResponse,
  ServiceSummary,
  StatusResponse,
  StopJobResponse,
  SubmitJobResponse,
  UsageResponse,
} from '../api/types.js';
import { BatonApiError, HttpClient, type HttpOptions } from './http.js';

export interface EventsFilter {
  topics?: EventTopic[];
  namespace?: string;
  /** only events after this store index */
  index?: number;
}

/** GET /v1/events?follow=false: the events the server still keeps */
export interface EventsPage {
  /** the store index now: follow from here to miss nothing */
  index: number;
  /** the oldest index still kept (0 when none) */
  oldestIndex: number;
  events: ClusterEvent[];
}

/**
 * Splits a server-sent event stream into events. Feed it text as it arrives;
 * it returns the complete events so far (data lines joined, comments skipped).
 */
export class SseParser {
  private rest = '';
  private data: string[] = [];
  private id: string | undefined;

  push(chunk: string): Array<{ id?: string; data: string }> {
    const out: Array<{ id?: string; data: string }> = [];
    this.rest += chunk;
    let nl: number;
    while ((nl = this.rest.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.rest.slice(0, nl);
      this.rest = this.rest.slice(nl + (this.rest.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.data.length > 0) out.push({ ...(this.id !== undefined ? { id: this.id } : {}), data: this.data.join('\n') });
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}

export interface AllocFilter {
  namespace?: string;
  jobId?: string;
  nodeId?: string;
  /** client status */
  status?: string;
}

export interface ReadLogsOptions {
  task?: string;
  stream?: LogStream;
  offset?: number;
  /** ms to block for new data when there is none yet (follow mode) */
  waitMs?: number;
  signal?: AbortSignal;
}

export interface JobListFilter {
  /** only the children of this parameterized or periodic job */
  parent?: string;
}

/** one stored version of a job (`baton job history`) */
export interface JobVersionInfo {
  version: number;
  submittedAt: string;
  spec: JobSpec;
  /** the latest deployment that rolled this version out, if any */
  deployment?: { id: string; status: DeploymentStatus; statusDescription: string };
}

export interface JobVersionsResponse {
  job: string;
  namespace: string;
  /** the version the job is at */
  current: number;
  /** newest first */
  versions: JobVersionInfo[];
}

export class BatonClient {
  readonly http: HttpClient;

  constructor(options: HttpOptions) {
    this.http = new HttpClient(options);
  }

  status(): Promise<StatusResponse> {
    return this.http.request('GET', '/v1/status');
  }

  /** submit a job file's text; the server parses it so errors can name lines */
  submitJob(source: string, filename?: string): Promise<SubmitJobResponse> {
    return this.http.request('POST', '/v1/jobs', { body: { source, filename } });
  }

  /** submit an already parsed spec object */
  submitSpec(spec: unknown): Promise<SubmitJobResponse> {
    return this.http.request('POST', '/v1/jobs', { body: { spec } });
  }

  /** namespace '*' lists every namespace the token may read */
  listJobs(namespace = 'default', filter: JobListFilter = {}): Promise<JobSummary[]> {
    return this.http.request('GET', '/v1/jobs', { query: { namespace, parent: filter.parent } });
  }

  /** start runs of a parameterized job, one child job per run; the server stores all of them or none */
  dispatch(jobId: string, runs: DispatchRun[], namespace = 'default'): Promise<DispatchResponse> {
    return this.http.request('POST', `/v1/jobs/${encodeURIComponent(jobId)}/dispatch`, {
      query: { namespace },
      body: { runs },
    });
  }

  /** one row per child job of a parent, or per alloc index of a plain batch job */
  listRuns(jobId: string, namespace = 'default'): Promise<RunsResponse> {
    return this.http.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/runs`, { query: { namespace } });
  }

  getJob(id: string, namespace = 'default'): Promise<JobDetail> {
    return this.http.request('GET', `/v1/jobs/${encodeURIComponent(id)}`, { query: { namespace } });
  }

  stopJob(id: string, namespace = 'default'): Promise<StopJobResponse> {
    return this.http.request('DELETE', `/v1/jobs/${encodeURIComponent(id)}`, { query: { namespace } });
  }

  /** start a stopped job again, with the spec it had */
  startJob(id: string, namespace = 'default'): Promise<{ job: Job; evalId: string }> {
    return this.http.request('POST', `/v1/jobs/${encodeURIComponent(id)}/start`, { query: { namespace } });
  }

  scaleJob(id: string, count: number, namespace = 'default'): Promise<{ job: Job; evalId: string }> {
    return this.http.request('POST', `/v1/jobs/${encodeURIComponent(id)}/scale`, { query: { namespace }, body: { count } });
  }

  setEligibility(nodeId: string, eligible: boolean): Promise<NodeInfo> {
    return this.http.request('PUT', `/v1/nodes/${encodeURIComponent(nodeId)}/eligibility`, { body: { eligible } });
  }

  /** deadline: a duration such as "10m"; cancel: end the drain and make the node eligible again */
  drainNode(nodeId: string, opts: { deadline?: string; cancel?: boolean } = {}): Promise<NodeInfo> {
    return this.http.request('POST', `/v1/nodes/${encodeURIComponent(nodeId)}/drain`, { body: opts });
  }

  listNodes(): Promise<NodeSummary[]> {
    return this.http.request('GET', '/v1/nodes');
  }

  /** id or unique id prefix or node name */
  getNode(id: string): Promise<{ node: NodeSummary; allocs: Alloc[] }> {
    return this.http.request('GET', `/v1/nodes/${encodeURIComponent(id)}`);
  }

  listAllocs(filter: AllocFilter = {}): Promise<Alloc[]> {
    return this.http.request('GET', '/v1/allocs', {
      query: { namespace: filter.namespace ?? '*', job: filter.jobId, node: filter.nodeId, status: filter.status },
    });
  }

  /** id or unique id prefix */
  getAlloc(id: string): Promise<Alloc> {
    return this.http.request('GET', `/v1/allocs/${encodeURIComponent(id)}`);
  }

  readLogs(allocId: string, opts: ReadLogsOptions = {}): Promise<LogsResponse> {
    return this.http.request('GET', `/v1/allocs/${encodeURIComponent(allocId)}/logs`, {
      query: { task: opts.task, stream: opts.stream, offset: opts.offset, wait: opts.waitMs },
      signal: opts.signal,
    });
  }

  listEvals(filter: { namespace?: string; jobId?: string } = {}): Promise<Evaluation[]> {
    return this.http.request('GET', '/v1/evals', { query: { namespace: filter.namespace ?? '*', job: filter.jobId } });
  }

  getEval(id: string): Promise<Evaluation> {
    return this.http.request('GET', `/v1/evals/${encodeURIComponent(id)}`);
  }

  /** the last hour of a node's cpu (millicores) and memory (bytes) use */
  nodeUsage(id: string): Promise<UsageResponse> {
    return this.http.request('GET', `/v1/nodes/${encodeURIComponent(id)}/usage`);
  }

  /** the last hour of an alloc's use, per task, with its memory limit */
  allocUsage(id: string): Promise<UsageResponse> {
    return this.http.request('GET', `/v1/allocs/${encodeURIComponent(id)}/usage`);
  }

  /** the events the server still keeps (about the last 10,000), oldest first */
  recentEvents(filter: EventsFilter = {}): Promise<EventsPage> {
    return this.http.request('GET', '/v1/events', { query: { ...eventsQuery(filter), follow: 'false' } });
  }

  /**
   * Follows the event stream: the kept events after `filter.index`, then each
   * new one as it happens, until `signal` aborts or the server hangs up (then
   * call again with the last index seen to resume).
   */
  async *followEvents(filter: EventsFilter = {}, signal?: AbortSignal): AsyncGenerator<ClusterEvent> {
    const { baseUrl, token } = this.http.options;
    const url = new URL('/v1/events', baseUrl);
    for (const [k, v] of Object.entries(eventsQuery(filter))) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new BatonApiError(0, `cannot reach the baton server at ${baseUrl}: ${cause?.code ?? (err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '');
      let message = `GET /v1/events failed with HTTP ${res.status}`;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? message;
      } catch {
        /* not JSON */
      }
      throw new BatonApiError(res.status, message);
    }
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const e of parser.push(decoder.decode(chunk, { stream: true }))) yield JSON.parse(e.data) as ClusterEvent;
      }
    } catch (err) {
      if ((err as Error).name === 'AbortError' || signal?.aborted) return;
      throw err;
    }
  }

  /** newest first; namespace '*' lists every namespace the token may read */
  listDeployments(filter: { namespace?: string; jobId?: string } = {}): Promise<Deployment[]> {
    return this.http.request('GET', '/v1/deployments', { query: { namespace: filter.namespace ?? '*', job: filter.jobId } });
  }

  /** id or unique id prefix */
  getDeployment(id: string): Promise<Deployment> {
    return this.http.request('GET', `/v1/deployments/${encodeURIComponent(id)}`);
  }

  /** the canaries are good: roll out the rest */
  promoteDeployment(id: string): Promise<Deployment> {
    return this.http.request('POST', `/v1/deployments/${encodeURIComponent(id)}/promote`, { body: {} });
  }

  /** stop the rollout; with auto_revert the last good version is registered again */
  failDeployment(id: string): Promise<Deployment> {
    return this.http.request('POST', `/v1/deployments/${encodeURIComponent(id)}/fail`, { body: {} });
  }

  jobVersions(id: string, namespace = 'default'): Promise<JobVersionsResponse> {
    return this.http.request('GET', `/v1/jobs/${encodeURIComponent(id)}/versions`, { query: { namespace } });
  }

  /** registers the spec of `version` as a new version of the job */
  revertJob(id: string, version: number, namespace = 'default'): Promise<{ job: Job; evalId: string; changed: boolean }> {
    return this.http.request('POST', `/v1/jobs/${encodeURIComponent(id)}/revert`, { query: { namespace }, body: { version } });
  }

  /** services declared by running allocs, with their healthy endpoint count; namespace '*' = every one the token may read */
  listServices(namespace = '*'): Promise<ServiceSummary[]> {
    return this.http.request('GET', '/v1/services', { query: { namespace } });
  }

  /**
   * A service's healthy endpoints. With `index` (from an earlier answer) and
   * `waitMs` the server holds the request until the list changes.
   */
  serviceEndpoints(name: string, opts: { namespace?: string; index?: number; waitMs?: number; signal?: AbortSignal } = {}): Promise<ServiceEndpointsResponse> {
    return this.http.request('GET', `/v1/services/${encodeURIComponent(name)}`, {
      query: { namespace: opts.namespace ?? 'default', index: opts.index, wait: opts.waitMs },
      signal: opts.signal,
    });
  }
}

function eventsQuery(f: EventsFilter): Record<string, string | number | undefined> {
  return {
    topic: f.topics && f.topics.length > 0 ? f.topics.join(',') : undefined,
    namespace: f.namespace,
    index: f.index,
  };
}
