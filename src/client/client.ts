/**
 * The typed client of baton's user API, for the CLI, tests, the UI and users'
 * own scripts. One method per route of docs/api.md.
 */
import type {
  SecretInfo,
  Alloc,
  AllocDetail,
  ClusterEvent,
  Deployment,
  DispatchResponse,
  DispatchRun,
  Evaluation,
  EventTopic,
  Job,
  JobDetail,
  JobStatus,
  JobSummary,
  JobVersionsResponse,
  EventsPage,
  LogStream,
  LogsResponse,
  NodeInfo,
  NodeSummary,
  Page,
  QueueSummary,
  GcResponse,
  RunOutcome,
  RunRow,
  RunsResponse,
  ServiceEndpointsResponse,
  ServiceSummary,
  StatusResponse,
  StopJobResponse,
  SubmitJobResponse,
  UsageResponse,
} from '../api/types.js';
import { answerError, HttpClient, type HttpOptions } from './http.js';
import type { WireResponse } from './wire.js';
import { createApi, type Api } from './api.js';

export interface EventsFilter {
  topics?: EventTopic[];
  namespace?: string;
  /** only events after this store index */
  index?: number;
}

export type { EventsPage } from '../api/types.js';

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

/** one page: at most `limit` items (server default 100, at most 1000), after `cursor` (the `next` of the page before) */
export interface PageOptions {
  limit?: number;
  cursor?: string;
}

export interface JobListFilter {
  /** only the children of this parameterized or periodic job */
  parent?: string;
  status?: JobStatus;
  /** batch, service, system, parameterized or periodic */
  type?: string;
}

export interface RunListFilter {
  outcome?: RunOutcome;
  /** only the runs of this dispatch */
  sweepId?: string;
}

/** Every item of a paged listing, page after page, as they arrive. */
export async function* allPages<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.next;
  } while (cursor);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of items) out.push(x);
  return out;
}

export class BatonClient {
  readonly http: HttpClient;
  /** every route of the table as a typed function (see api.ts) */
  readonly api: Api;

  constructor(options: HttpOptions) {
    this.http = new HttpClient(options);
    this.api = createApi(this.http);
  }

  status(): Promise<StatusResponse> {
    return this.api.status();
  }

  /** submit a job file's text; the server parses it so errors can name lines */
  submitJob(source: string, filename?: string): Promise<SubmitJobResponse> {
    return this.api.submitJob({ body: { source, filename } });
  }

  /** submit an already parsed spec object */
  submitSpec(spec: unknown): Promise<SubmitJobResponse> {
    return this.api.submitJob({ body: { spec } });
  }

  /** one page of jobs; namespace '*' lists every namespace the token may read */
  jobsPage(namespace = 'default', filter: JobListFilter & PageOptions = {}): Promise<Page<JobSummary>> {
    return this.api.listJobs({
      query: { namespace, parent: filter.parent, status: filter.status, type: filter.type, limit: filter.limit, cursor: filter.cursor },
    });
  }

  /** every job, page after page */
  jobs(namespace = 'default', filter: JobListFilter & { limit?: number } = {}): AsyncGenerator<JobSummary> {
    return allPages((cursor) => this.jobsPage(namespace, { ...filter, cursor }));
  }

  /** every job in one array: for small listings; use jobs() to stream a large one */
  listJobs(namespace = 'default', filter: JobListFilter = {}): Promise<JobSummary[]> {
    return collect(this.jobs(namespace, { ...filter, limit: 1000 }));
  }

  /** what waits for capacity, cluster-wide (or in one namespace) */
  queue(namespace = '*'): Promise<QueueSummary> {
    return this.api.queue({ query: { namespace } });
  }

  /**
   * Start runs of a parameterized job, one child job per run; the server
   * stores all of them or none. With `part`, this continues a sweep whose
   * first part answered `part.sweepId`, at row `part.offset`.
   */
  dispatch(jobId: string, runs: DispatchRun[], namespace = 'default', part?: { sweepId: string; offset: number }): Promise<DispatchResponse> {
    return this.api.dispatch({ params: { id: jobId }, query: { namespace }, body: { runs, ...(part ?? {}) } });
  }

  /** one page of rows: the runs of a parent in submission order, or the alloc indexes of a plain batch job */
  runsPage(jobId: string, namespace = 'default', filter: RunListFilter & PageOptions = {}): Promise<RunsResponse> {
    return this.api.listRuns({
      params: { id: jobId },
      query: { namespace, outcome: filter.outcome, sweep: filter.sweepId, limit: filter.limit, cursor: filter.cursor },
    });
  }

  /** every run row, page after page */
  async *runs(jobId: string, namespace = 'default', filter: RunListFilter & { limit?: number } = {}): AsyncGenerator<RunRow> {
    yield* allPages(async (cursor) => {
      const r = await this.runsPage(jobId, namespace, { ...filter, cursor });
      return { items: r.runs, ...(r.next ? { next: r.next } : {}) };
    });
  }

  /** the job's summary with every run row in one array: for small sweeps; use runs() to stream a large one */
  async listRuns(jobId: string, namespace = 'default', filter: RunListFilter = {}): Promise<RunsResponse> {
    const first = await this.runsPage(jobId, namespace, { ...filter, limit: 1000 });
    const rows = [...first.runs];
    let next = first.next;
    while (next) {
      const page = await this.runsPage(jobId, namespace, { ...filter, limit: 1000, cursor: next });
      rows.push(...page.runs);
      next = page.next;
    }
    const { next: _n, ...rest } = first;
    return { ...rest, runs: rows };
  }

  getJob(id: string, namespace = 'default'): Promise<JobDetail> {
    return this.api.getJob({ params: { id }, query: { namespace } });
  }

  stopJob(id: string, namespace = 'default'): Promise<StopJobResponse> {
    return this.api.stopJob({ params: { id }, query: { namespace } });
  }

  /** start a stopped job again, with the spec it had */
  startJob(id: string, namespace = 'default'): Promise<{ job: Job; evalId: string }> {
    return this.api.startJob({ params: { id }, query: { namespace } });
  }

  scaleJob(id: string, count: number, namespace = 'default'): Promise<{ job: Job; evalId: string }> {
    return this.api.scaleJob({ params: { id }, query: { namespace }, body: { count } });
  }

  setEligibility(nodeId: string, eligible: boolean): Promise<NodeInfo> {
    return this.api.setEligibility({ params: { id: nodeId }, body: { eligible } });
  }

  /** deadline: a duration such as "10m"; cancel: end the drain and make the node eligible again */
  drainNode(nodeId: string, opts: { deadline?: string; cancel?: boolean } = {}): Promise<NodeInfo> {
    return this.api.drainNode({ params: { id: nodeId }, body: opts });
  }

  nodesPage(opts: PageOptions = {}): Promise<Page<NodeSummary>> {
    return this.api.listNodes({ query: { limit: opts.limit, cursor: opts.cursor } });
  }

  listNodes(): Promise<NodeSummary[]> {
    return collect(allPages((cursor) => this.nodesPage({ cursor })));
  }

  /** id or unique id prefix or node name */
  getNode(id: string): Promise<{ node: NodeSummary; allocs: Alloc[] }> {
    return this.api.getNode({ params: { id } });
  }

  allocsPage(filter: AllocFilter & PageOptions & { newestFirst?: boolean } = {}): Promise<Page<Alloc>> {
    return this.api.listAllocs({
      query: {
        namespace: filter.namespace ?? '*',
        job: filter.jobId,
        node: filter.nodeId,
        status: filter.status,
        limit: filter.limit,
        cursor: filter.cursor,
        order: filter.newestFirst ? 'desc' : undefined,
      },
    });
  }

  /** the namespaces that have jobs (those the token may read) */
  namespaces(): Promise<string[]> {
    return this.api.namespaces();
  }

  /** every alloc, page after page, oldest first */
  allocs(filter: AllocFilter & { limit?: number } = {}): AsyncGenerator<Alloc> {
    return allPages((cursor) => this.allocsPage({ ...filter, cursor }));
  }

  /** every alloc in one array: for small listings */
  listAllocs(filter: AllocFilter = {}): Promise<Alloc[]> {
    return collect(this.allocs({ ...filter, limit: 1000 }));
  }

  /** id or unique id prefix */
  getAlloc(id: string): Promise<AllocDetail> {
    return this.api.getAlloc({ params: { id } });
  }

  readLogs(allocId: string, opts: ReadLogsOptions = {}): Promise<LogsResponse> {
    return this.api.readLogs({
      params: { id: allocId },
      query: { task: opts.task, stream: opts.stream, offset: opts.offset, wait: opts.waitMs },
      signal: opts.signal,
    });
  }

  /** one page of evaluations, newest first */
  evalsPage(filter: { namespace?: string; jobId?: string; status?: string } & PageOptions = {}): Promise<Page<Evaluation>> {
    return this.api.listEvals({
      query: { namespace: filter.namespace ?? '*', job: filter.jobId, status: filter.status, limit: filter.limit, cursor: filter.cursor },
    });
  }

  /** the newest evaluations (one page) */
  async listEvals(filter: { namespace?: string; jobId?: string; status?: string; limit?: number } = {}): Promise<Evaluation[]> {
    return (await this.evalsPage({ limit: 200, ...filter })).items;
  }

  /** collect finished jobs, runs, allocs and evals now; `olderThan` (e.g. "0s") overrides the server's retention */
  gc(olderThan?: string): Promise<GcResponse> {
    return this.api.gc({ body: olderThan !== undefined ? { olderThan } : {} });
  }

  getEval(id: string): Promise<Evaluation> {
    return this.api.getEval({ params: { id } });
  }

  /** the last hour of a node's cpu (millicores) and memory (bytes) use */
  nodeUsage(id: string): Promise<UsageResponse> {
    return this.api.nodeUsage({ params: { id } });
  }

  /** the last hour of an alloc's use, per task, with its memory limit */
  allocUsage(id: string): Promise<UsageResponse> {
    return this.api.allocUsage({ params: { id } });
  }

  /** the events the server still keeps (about the last 10,000), oldest first */
  recentEvents(filter: EventsFilter = {}): Promise<EventsPage> {
    return this.api.events({ query: { ...eventsQuery(filter), follow: 'false' } });
  }

  /**
   * Follows the event stream: the kept events after `filter.index`, then each
   * new one as it happens, until `signal` aborts or the server hangs up (then
   * call again with the last index seen to resume).
   */
  async *followEvents(filter: EventsFilter = {}, signal?: AbortSignal): AsyncGenerator<ClusterEvent> {
    let res: WireResponse;
    try {
      ({ res } = await this.http.send('GET', '/v1/events', { query: eventsQuery(filter), headers: { accept: 'text/event-stream' }, signal }));
    } catch (err) {
      if ((err as Error).name === 'AbortError' || signal?.aborted) return;
      throw err;
    }
    if (!res.ok) throw await answerError(res, 'GET', '/v1/events');
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        for (const e of parser.push(decoder.decode(chunk, { stream: true }))) yield JSON.parse(e.data) as ClusterEvent;
      }
    } catch (err) {
      if ((err as Error).name === 'AbortError' || signal?.aborted) return;
      throw err;
    }
  }

  /** newest first; namespace '*' lists every namespace the token may read */
  listDeployments(filter: { namespace?: string; jobId?: string } = {}): Promise<Deployment[]> {
    return this.api.listDeployments({ query: { namespace: filter.namespace ?? '*', job: filter.jobId } });
  }

  /** id or unique id prefix */
  getDeployment(id: string): Promise<Deployment> {
    return this.api.getDeployment({ params: { id } });
  }

  /** the canaries are good: roll out the rest */
  promoteDeployment(id: string): Promise<Deployment> {
    return this.api.promoteDeployment({ params: { id } });
  }

  /** stop the rollout; with auto_revert the last good version is registered again */
  failDeployment(id: string): Promise<Deployment> {
    return this.api.failDeployment({ params: { id } });
  }

  jobVersions(id: string, namespace = 'default'): Promise<JobVersionsResponse> {
    return this.api.jobVersions({ params: { id }, query: { namespace } });
  }

  /** registers the spec of `version` as a new version of the job */
  revertJob(id: string, version: number, namespace = 'default'): Promise<{ job: Job; evalId: string; changed: boolean }> {
    return this.api.revertJob({ params: { id }, query: { namespace }, body: { version } });
  }

  /** services declared by running allocs, with their healthy endpoint count; namespace '*' = every one the token may read */
  listServices(namespace = '*'): Promise<ServiceSummary[]> {
    return this.api.listServices({ query: { namespace } });
  }

  /**
   * A service's healthy endpoints. With `index` (from an earlier answer) and
   * `waitMs` the server holds the request until the list changes.
   */
  serviceEndpoints(name: string, opts: { namespace?: string; index?: number; waitMs?: number; signal?: AbortSignal } = {}): Promise<ServiceEndpointsResponse> {
    return this.api.serviceEndpoints({
      params: { name },
      query: { namespace: opts.namespace ?? 'default', index: opts.index, wait: opts.waitMs },
      signal: opts.signal,
    });
  }

  /** a new version of a secret; the answer carries its version and key names, never values */
  putSecret(namespace: string, name: string, data: Record<string, string>): Promise<SecretInfo> {
    return this.api.putSecret({ params: { namespace, name }, body: { data } });
  }

  listSecrets(namespace = 'default'): Promise<SecretInfo[]> {
    return this.api.listSecrets({ query: { namespace } });
  }

  deleteSecret(namespace: string, name: string): Promise<SecretInfo> {
    return this.api.deleteSecret({ params: { namespace, name } });
  }
}

function eventsQuery(f: EventsFilter): Record<string, string | number | undefined> {
  return {
    topic: f.topics && f.topics.length > 0 ? f.topics.join(',') : undefined,
    namespace: f.namespace,
    index: f.index,
  };
}
