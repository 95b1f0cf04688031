/**
 * The shared vocabulary of baton: every type that crosses a process boundary
 * (HTTP bodies between server, agent, CLI and UI; rows in the store) lives here,
 * so the server, the typed client and the UI cannot drift apart.
 *
 * Glossary (docs/architecture.md shows how the parts fit; the README's
 * Concepts table says the same for users):
 * - node: a machine running `baton agent`, with capacity (cpu, memory, disk) minus what is reserved;
 *   status ready/down, eligibility eligible/ineligible, attributes, labels, class, datacenter.
 * - driver: how a node runs a task: `docker` (the Engine API) or `exec` (a process group with cgroup limits).
 * - job: a submitted spec; each change is a new version. Id = spec name, unique per namespace.
 *   Types: batch (runs to completion), service (kept running), system (one alloc per eligible node).
 * - task: one container (docker) or process (exec) with its command, env, resources and health checks.
 * - alloc: one instance of a job's tasks placed on one node (`web[2]`); a desired status (run/stop)
 *   set by the server and a client status (pending, running, complete, failed, lost) reported by the agent.
 * - eval: one unit of scheduling work ("look at job J again because X changed"); one that cannot
 *   place everything waits as *blocked*, with the reasons per dimension, until room frees.
 * - plan: what one eval decided (allocs to place and stop); applied atomically against fresh state.
 * - preemption: a job with `preempt: true` may have lower-priority batch allocs stopped to get placed.
 * - parent job: a parameterized or periodic job, a template that never runs itself; its runs are its children.
 * - run: one execution of a parent job (`simulate/1c974d3c-12`): a row with its meta and payload,
 *   queued on its parent until there is room, then placed as a child job of its own.
 * - dispatch: starting runs of a parameterized job (`baton dispatch`), with meta and an optional payload.
 * - sweep: the runs of one dispatch request (a CSV, a list, a matrix), up to millions under one sweep id;
 *   a sweep view counts and lists them.
 * - periodic: a parent job launched on a cron schedule, each launch a run.
 * - deployment: a rolling update of a service from one job version to the next (max_parallel,
 *   health, auto-revert).
 * - canary: a new-version alloc started beside the old ones; the deployment waits for a promote.
 * - service: (a) the job type kept running; (b) a task's `service:` entry, which registers its
 *   healthy endpoints in the service registry (`baton service ls`, upstreams).
 * - drain: moving a node's allocs elsewhere before maintenance (services replaced healthy first,
 *   batch runs until a deadline); the node gets no new placements.
 * - namespace: a tenant boundary for jobs, tokens, secrets and fair share; a token may be limited to one.
 * - token roles: read < submit < operator < admin, each with a namespace (or `*`); the join token
 *   only registers nodes, and each node then uses its own node secret.
 * - secret: a value encrypted at rest in the store, given only to the tasks that name it, as files.
 * - stack: the service jobs made from one docker-compose file (`baton deploy -f`).
 * - heartbeat: a node's periodic report; a node whose heartbeats stop for the TTL is marked down
 *   and its allocs lost and replaced.
 * - leader: the one server (of several on PostgreSQL) that schedules, under a lease with an epoch.
 *
 * Units: cpu is in millicores (1000 = one core), memory and disk in bytes.
 * Times on the wire are ISO-8601 strings; durations in spec are milliseconds.
 */

// ---------------------------------------------------------------- resources

export interface Resources {
  /**
   * millicores: 1000 = one core. What the scheduler places by, and on the node
   * a weight (cgroup cpu.shares / cpu.weight, Docker CpuShares): a task may use
   * idle cores beyond it and gets at least its share when cores are contended.
   */
  cpu: number;
  /** millicores; a hard cap (cfs quota, cpu.max, Docker NanoCpus), only when the task sets one (at least cpu) */
  cpuLimit?: number;
  /** bytes */
  memory: number;
  /** bytes; 0 when not requested */
  disk: number;
}

// ---------------------------------------------------------------- job spec

/** system: one alloc on every eligible node that can run it, including nodes that join later */
export type JobType = 'batch' | 'service' | 'system';
export type DriverName = 'docker' | 'exec';

/**
 * A placement rule on node facts. `attribute` is an interpolation such as
 * `${node.class}`, `${node.name}`, `${attr.os.name}`, `${attr.cpu.cores}`,
 * `${label.zone}` or `${driver.docker}`.
 */
export interface Constraint {
  attribute: string;
  operator:
    | '='
    | '!='
    | '<'
    | '<='
    | '>'
    | '>='
    | 'regexp'
    /** value is a comma-separated list; the attribute (a comma-separated set) contains all of them */
    | 'set_contains'
    /** ... contains at least one of them */
    | 'set_contains_any'
    /** value is a version constraint such as ">= 1.2, < 2" */
    | 'version'
    | 'is_set'
    | 'is_not_set'
    /** no two allocs of the job on nodes with the same attribute value (`${node.id}` when attribute is empty) */
    | 'distinct_hosts';
  value: string;
}

export interface TaskSpec {
  name: string;
  driver: DriverName;
  /** docker only: image reference, e.g. `busybox:latest` */
  image?: string;
  /** exec: the executable (absolute path or looked up in PATH). docker: replaces the image's CMD (first element). */
  command?: string;
  args: string[];
  env: Record<string, string>;
  resources: Resources;
  /** signal sent first when stopping; SIGKILL follows after killTimeoutMs */
  killSignal: string;
  killTimeoutMs: number;
  /** a run longer than this is stopped and reported as timed out */
  timeoutMs?: number;
  /** health checks: the alloc is healthy when all pass */
  checks?: HealthCheckSpec[];
  /** named ports: a static host port, or a dynamic one chosen by the scheduler; `to` is the container port (docker) */
  ports?: PortSpec[];
  /** registers the task's healthy endpoints under a service name (the port is one of `ports`) */
  service?: ServiceSpec;
  /** services this task needs: their healthy addresses are given as env vars at start */
  upstreams?: UpstreamSpec[];
  /** host volumes declared on the agent (`--volume data=/srv/data`) mounted into the task */
  volumes?: VolumeMount[];
  /** secrets of the job's namespace given to the task as files (and env vars where asked) */
  secrets?: TaskSecretSpec[];
  /** who the task runs as: a user name, uid or uid:gid (exec default: the agent's --task-user; docker: the image's user) */
  user?: string;
  /** docker asks an agent refuses unless its operator allows them (baton agent --allow ...) */
  privileged?: boolean;
  networkMode?: 'host';
  pidMode?: 'host';
  capAdd?: string[];
  /** host device paths, `/dev/x` or `/dev/x:/dev/in-container` */
  devices?: string[];
  /** docker: binds of host paths, allowed by prefix (baton agent --allow-host-path) */
  mounts?: HostMount[];
}

export interface HostMount {
  source: string;
  destination: string;
  readOnly: boolean;
}

/** A task's use of a secret: files at `$BATON_TASK_DIR/secrets/<name>/<key>`. */
export interface TaskSecretSpec {
  name: string;
  /** env var name → key of the secret */
  env?: Record<string, string>;
  /** docker only: also this path in the container, the file of `key` (compose's /run/secrets/<name>) */
  file?: string;
  /** the key `file` shows (default: the secret's only key) */
  key?: string;
  /** what a new version does to a running task (default restart) */
  changeMode: 'restart' | 'signal' | 'noop';
  /** changeMode signal: the signal sent (default SIGHUP) */
  changeSignal?: string;
}

export interface PortSpec {
  name: string;
  /** a fixed host port; absent = dynamic (picked from the node's range) */
  static?: number;
  /** docker: the container port the host port maps to (default: the host port) */
  to?: number;
}

export interface ServiceSpec {
  name: string;
  /** name of one of the task's ports */
  port: string;
  tags: string[];
}

export interface UpstreamSpec {
  service: string;
  /** env var that receives "host:port,host:port"; default BATON_UPSTREAM_<SERVICE> */
  env?: string;
}

export interface VolumeMount {
  /** the host volume's name on the node */
  volume: string;
  /** where it appears in the task: a path in the container (docker), or BATON_VOLUME_<NAME> env for exec */
  destination: string;
  readOnly: boolean;
}

/** How a service job moves from one version to the next. */
export interface UpdateStrategy {
  /** allocs replaced at a time */
  maxParallel: number;
  /** a new alloc must be healthy this long before it counts */
  minHealthyTimeMs: number;
  /** a new alloc not healthy by then fails the deployment */
  healthyDeadlineMs: number;
  /** a failed deployment rolls back to the last version that deployed successfully */
  autoRevert: boolean;
  /** start this many new allocs first and wait for `baton deployment promote` */
  canary: number;
}

export type DeploymentStatus = 'running' | 'paused' | 'successful' | 'failed' | 'cancelled';

export interface Deployment {
  id: string;
  namespace: string;
  jobId: string;
  jobVersion: number;
  status: DeploymentStatus;
  statusDescription: string;
  /** copied from the job's update strategy when the deployment started */
  strategy: UpdateStrategy;
  desiredTotal: number;
  desiredCanaries: number;
  /** alloc ids of the canaries placed */
  canaries: string[];
  promoted: boolean;
  placedAllocs: number;
  healthyAllocs: number;
  unhealthyAllocs: number;
  /** set when auto_revert rolled the job back: the version it went back to */
  revertedTo?: number;
  createIndex: number;
  modifyIndex: number;
  createdAt: string;
  modifiedAt: string;
}

/** one entry of the service registry: a healthy endpoint */
export interface ServiceEndpoint {
  service: string;
  namespace: string;
  jobId: string;
  allocId: string;
  task: string;
  nodeId: string;
  nodeName: string;
  address: string;
  port: number;
  tags: string[];
}

export interface ServiceSummary {
  name: string;
  namespace: string;
  tags: string[];
  healthy: number;
}

export interface ServiceEndpointsResponse {
  /** pass back as ?index= to block until the endpoints change */
  index: number;
  endpoints: ServiceEndpoint[];
}

export interface HealthCheckSpec {
  name: string;
  type: 'http' | 'tcp' | 'command';
  /** http and tcp: the port the task listens on (inside the container for docker) */
  port?: number;
  /** http: path and the status expected (default: any 2xx) */
  path?: string;
  expectStatus?: number;
  /** command: run inside the container (docker) or beside the process (exec); exit 0 = pass */
  command?: string;
  args?: string[];
  intervalMs: number;
  timeoutMs: number;
  /** consecutive failures before the task counts as unhealthy */
  retries: number;
  /** failures during this time after start do not count */
  startPeriodMs: number;
  /** restart the task (by its restart policy) when it turns unhealthy; default true */
  restartOnUnhealthy: boolean;
}

export interface CheckStatus {
  status: 'starting' | 'passing' | 'failing';
  /** last output or error, trimmed */
  output: string;
  consecutiveFailures: number;
  lastCheckAt?: string;
}

export interface RetryPolicy {
  /** batch: how many times a failed alloc is replaced by a new one (0 = never) */
  attempts: number;
  /** delay before the first retry; it doubles for each further one, up to maxDelayMs */
  delayMs: number;
  maxDelayMs: number;
  /** an OOM-killed run is retried with its memory multiplied by grow, up to max bytes */
  onOom?: OomRetryPolicy;
}

export interface OomRetryPolicy {
  grow: number;
  /** bytes */
  max: number;
}

/** A job that is a template: each `baton dispatch` makes a child job with its own meta (and payload). */
export interface ParameterizedSpec {
  metaRequired: string[];
  metaOptional: string[];
  payload: 'optional' | 'required' | 'forbidden';
}

/** A job launched on a cron schedule: each launch is a child job. */
export interface PeriodicSpec {
  cron: string;
  /** IANA zone, e.g. Europe/Paris; default UTC */
  timezone: string;
  /** skip: no launch while the previous child still runs */
  overlap: 'skip' | 'allow';
}

export interface RestartPolicy {
  /** how many local restarts of a failing task within intervalMs before the alloc fails */
  attempts: number;
  intervalMs: number;
  delayMs: number;
  /** fail: the alloc fails when attempts are used up; delay: wait out the interval and try again */
  mode: 'fail' | 'delay';
}

export interface JobSpec {
  name: string;
  namespace: string;
  type: JobType;
  count: number;
  /** 1..100, higher first; default 50 */
  priority: number;
  datacenters?: string[];
  constraints: Constraint[];
  /** binpack (default) packs nodes full; spread spreads allocs over nodes */
  scheduling: 'binpack' | 'spread';
  tasks: TaskSpec[];
  retry: RetryPolicy;
  restart: RestartPolicy;
  meta: Record<string, string>;
  /** services: how versions roll out (default: max_parallel 1, no canaries) */
  update?: UpdateStrategy;
  /** spread allocs evenly over the values of a node attribute, e.g. `${label.zone}` */
  spread?: Array<{ attribute: string; weight: number }>;
  parameterized?: ParameterizedSpec;
  periodic?: PeriodicSpec;
  /** may stop lower-priority batch runs to get placed; they requeue without using a retry */
  preempt: boolean;
  /** what happens while its node cannot reach the server; absent = the safe default (DisconnectPolicy) */
  disconnect?: DisconnectPolicy;
}

/**
 * A job's side of the trade-off when a node loses the server. By default an
 * agent stops the alloc once it has not reached the server for the bound the
 * server gives it (below the node TTL), so the copy is gone before the server
 * may place a replacement: never two live copies. A job that would rather keep
 * running through a partition sets a longer stop_after (or never) and a
 * replace_after that makes the server wait that much longer before replacing.
 */
export interface DisconnectPolicy {
  /** ms without reaching the server before the agent stops the alloc; absent = the server's bound; null = never */
  stopAfterMs?: number | null;
  /** ms after the node is marked down before its allocs are replaced (default 0) */
  replaceAfterMs?: number;
}

/** What made a child job: a dispatch (with its meta and payload) or a periodic launch. */
export interface DispatchInfo {
  meta: Record<string, string>;
  /** base64 */
  payload?: string;
  /** the dispatch request (sweep) this child was part of, and its row there */
  sweepId?: string;
  row?: number;
  /** periodic children: the scheduled launch time */
  launchFor?: string;
}

// ---------------------------------------------------------------- stored objects

export type JobStatus = 'pending' | 'running' | 'complete' | 'failed' | 'stopped';

export type JobKind = JobType | 'parameterized' | 'periodic';

export interface Job {
  id: string;
  namespace: string;
  version: number;
  spec: JobSpec;
  /** true once `baton job stop` was asked */
  stopped: boolean;
  status: JobStatus;
  submittedAt: string;
  /** set on children of a parameterized or periodic job */
  parentId?: string;
  dispatch?: DispatchInfo;
  createIndex: number;
  modifyIndex: number;
}

/** Counts of a job's allocs by client status, for listings. */
export interface AllocCounts {
  pending: number;
  running: number;
  complete: number;
  failed: number;
  lost: number;
}

export interface JobSummary {
  id: string;
  namespace: string;
  type: JobType;
  version: number;
  priority: number;
  count: number;
  status: JobStatus;
  allocs: AllocCounts;
  submittedAt: string;
  /** set when the job waits for capacity: why, per dimension */
  blocked?: PlacementFailure[];
  parentId?: string;
  /** what `job ls --type` filters on: the type, or parameterized / periodic for a template */
  kind: JobKind;
  /** parameterized and periodic parents: their children by status */
  children?: Record<JobStatus, number>;
  /** parameterized and periodic parents: where their runs are, kept by the server as runs change */
  runs?: RunStats;
  /** periodic parents: the next launch */
  nextLaunch?: string;
}

export type NodeStatus = 'initializing' | 'ready' | 'down';
export type NodeEligibility = 'eligible' | 'ineligible';

export interface DriverInfo {
  healthy: boolean;
  detail: string;
}

export interface NodeInfo {
  id: string;
  name: string;
  status: NodeStatus;
  eligibility: NodeEligibility;
  nodeClass: string;
  datacenter: string;
  drivers: Record<string, DriverInfo>;
  /** facts found on the machine: os.name, kernel.version, cpu.cores, memory.total, cgroup.version, driver.docker.version ... */
  attributes: Record<string, string>;
  /** operator-given key/values (`--label zone=a`) */
  labels: Record<string, string>;
  /** what the scheduler may hand out: detected (or declared) minus reserved */
  capacity: Resources;
  reserved: Resources;
  heartbeatTtlMs: number;
  lastHeartbeatAt: string;
  /** set while the node is draining: its allocs move elsewhere, batch runs may finish until the deadline */
  drain?: { startedAt: string; deadline: string };
  /** the address other machines reach this node's tasks at (`--address`; default the first non-internal IPv4) */
  address?: string;
  /** host volumes the agent offers (`--volume data=/srv/data[:ro]`) */
  volumes?: Record<string, { path: string; readOnly: boolean }>;
  /** host ports the scheduler may hand out as dynamic ports */
  portRange?: { from: number; to: number };
  registeredAt: string;
  createIndex: number;
  modifyIndex: number;
}

/** A node row plus how much of it is in use, for listings. */
export interface NodeSummary extends NodeInfo {
  used: Resources;
  allocCount: number;
}

export type AllocDesiredStatus = 'run' | 'stop';
export type AllocClientStatus = 'pending' | 'running' | 'complete' | 'failed' | 'lost';

export const TERMINAL_CLIENT_STATUSES: readonly AllocClientStatus[] = ['complete', 'failed', 'lost'];

export interface TaskEvent {
  time: string;
  /** e.g. Received, Started, Terminated, OOMKilled, Restarting, Killing, Killed, DriverFailure */
  type: string;
  message: string;
}

export interface TaskState {
  state: 'pending' | 'running' | 'dead';
  failed: boolean;
  exitCode?: number;
  signal?: string;
  oomKilled?: boolean;
  /** stopped because it ran past its task timeout */
  timedOut?: boolean;
  /** bytes, the highest memory use seen */
  peakMemory?: number;
  /** bytes, the memory limit it ran under */
  memoryLimit?: number;
  /** cpu time used, in nanoseconds */
  cpuNanos?: number;
  restarts: number;
  /** tasks with checks: starting until they pass, then healthy or unhealthy */
  health?: 'starting' | 'healthy' | 'unhealthy';
  checks?: Record<string, CheckStatus>;
  startedAt?: string;
  finishedAt?: string;
  events: TaskEvent[];
}

export interface Alloc {
  id: string;
  namespace: string;
  jobId: string;
  jobVersion: number;
  /** `<job>[<index>]` */
  name: string;
  index: number;
  nodeId: string;
  nodeName: string;
  evalId: string;
  desiredStatus: AllocDesiredStatus;
  desiredDescription: string;
  clientStatus: AllocClientStatus;
  clientDescription: string;
  /** sum over the alloc's tasks */
  resources: Resources;
  /** per task, when they differ from the spec (an OOM retry with more memory) */
  taskResources?: Record<string, Resources>;
  /** set when a higher-priority job's placement stopped this alloc; it requeues without using a retry */
  preemptedBy?: string;
  /** running and every task's checks pass (true also for tasks without checks once running) */
  healthy?: boolean;
  /** when it last became healthy: a deployment counts it after min_healthy_time */
  healthySince?: string;
  /** the deployment that placed it, and whether it is one of its canaries */
  deploymentId?: string;
  canary?: boolean;
  /** per task, per port name: the host port assigned on the node */
  ports?: Record<string, Record<string, { host: number; to?: number }>>;
  taskStates: Record<string, TaskState>;
  /** 0 for the first placement of an index; +1 per retry */
  attempt: number;
  previousAllocId?: string;
  /** set while its node is down and the job's replace_after keeps it from being replaced yet */
  disconnectedAt?: string;
  createIndex: number;
  modifyIndex: number;
  createdAt: string;
  modifiedAt: string;
}

/** One end of a replacement: the alloc that replaced, or was replaced by, the one asked about. */
export interface AllocLink {
  id: string;
  name?: string;
  nodeName?: string;
  clientStatus: AllocClientStatus;
  /** why the replaced alloc was replaced, in words: "lost: node n1 missed its heartbeats for 15s", "failed (exit 3), retry 2 of 3", "node drain: moving off n1" ... */
  reason: string;
}

/** GET /v1/allocs/:id: the alloc, with what replaced it and what it replaced */
export interface AllocDetail extends Alloc {
  /** the alloc whose previousAllocId is this one (the newest, when there were several) */
  replacedBy?: AllocLink;
  /** the alloc named by previousAllocId; absent once that one was garbage collected */
  replaces?: AllocLink;
}

export type EvalStatus = 'pending' | 'blocked' | 'complete' | 'failed' | 'cancelled';
export type EvalTrigger =
  | 'job-register'
  | 'job-stop'
  | 'node-update'
  | 'node-down'
  /** an agent stopped an alloc itself (it lost the server for too long): place it again */
  | 'alloc-lost'
  | 'alloc-failure'
  | 'alloc-stop'
  | 'retry'
  | 'capacity-freed';

/** Why some allocs could not be placed, per dimension, with the numbers. */
export interface PlacementFailure {
  /** 'memory' | 'cpu' | 'disk' | 'driver' | 'constraint' | 'node-status' | 'eligibility' | ... */
  dimension: string;
  /** e.g. "memory: 0 of 2 nodes have 20 GiB free" */
  message: string;
  nodesEvaluated: number;
  nodesFiltered: number;
  /** true when no node could ever fit this even when empty: waiting will not help */
  neverFits: boolean;
}

export interface Evaluation {
  id: string;
  namespace: string;
  jobId: string;
  priority: number;
  triggeredBy: EvalTrigger;
  status: EvalStatus;
  statusDescription: string;
  /** allocs of the job that could not be placed, and why */
  queuedAllocs: number;
  failures: PlacementFailure[];
  /** not to be processed before this time (retry delays) */
  waitUntil?: string;
  previousEvalId?: string;
  createIndex: number;
  modifyIndex: number;
  createdAt: string;
  modifiedAt: string;
}

export type TokenRole = 'admin' | 'operator' | 'submit' | 'read';

export interface TokenInfo {
  id: string;
  name: string;
  role: TokenRole;
  /** '*' for every namespace */
  namespace: string;
  createdAt: string;
  /** when it stops working; absent: until revoked */
  expiresAt?: string;
}

/** POST /v1/tokens */
export interface CreateTokenRequest {
  name: string;
  role: TokenRole;
  namespace: string;
  /** e.g. "30d"; absent: until revoked */
  ttl?: string;
}

/** GET /v1/secrets: what a secret is, never its values */
export interface SecretInfo {
  namespace: string;
  name: string;
  version: number;
  /** the names of its keys */
  keys: string[];
  createdAt: string;
  updatedAt: string;
  /** who may read its values: only the tasks of jobs in its namespace, through their agents */
  readableBy: string;
  /** put answered: the data was the current version's, no new version made */
  unchanged?: boolean;
}

/** PUT /v1/secrets/:namespace/:name */
export interface PutSecretRequest {
  data: Record<string, string>;
}

/** GET /v1/agent/allocs/:id/secrets: the values an alloc's tasks name, for its agent only */
export interface AllocSecretsResponse {
  secrets: Array<{ name: string; version: number; data: Record<string, string> }>;
  /** names the tasks ask for that do not exist */
  missing: string[];
}

/** the secret is in this answer only: the server keeps its hash */
export interface CreateTokenResponse {
  token: TokenInfo;
  secret: string;
}

/** POST /v1/events/ticket */
export interface EventTicketResponse {
  ticket: string;
  expiresAt: string;
}

export type LogStream = 'stdout' | 'stderr';

// ---------------------------------------------------------------- HTTP bodies (user API)

/** Every error the API returns has this shape, with a 4xx/5xx status. */
export interface ApiError {
  error: string;
  /** where: a field path like `tasks[0].resources.memory`, with a line for files */
  details?: ApiErrorDetail[];
}

export interface ApiErrorDetail {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** POST /v1/jobs: either `spec` (an object) or `source` (YAML or JSON text, so the server can name lines). */
export interface SubmitJobRequest {
  spec?: unknown;
  source?: string;
  /** file name shown in errors, e.g. `job.yaml` */
  filename?: string;
}

export interface SubmitJobResponse {
  job: Job;
  evalId: string;
  warnings: string[];
}

export interface JobDetail {
  job: Job;
  summary: JobSummary;
  /** the newest allocs (at most 200), oldest first; GET /v1/allocs?job= pages through all */
  allocs: Alloc[];
  /** how many allocs the job has in all */
  allocsTotal: number;
  evals: Evaluation[];
}

export interface StopJobResponse {
  evalId: string;
}

export interface LogsResponse {
  data: string;
  /** byte offset to ask for next */
  nextOffset: number;
  /** true when the task ended and every byte is here: following can stop */
  complete: boolean;
}

// ---------------------------------------------------------------- events and usage (UI, `baton events`)

export type EventTopic = 'job' | 'alloc' | 'node' | 'eval' | 'deployment' | 'secret';

/** One change in the cluster, as streamed by GET /v1/events (server-sent events). */
export interface ClusterEvent {
  /** the store index of the write that made it; resume with ?index= */
  index: number;
  topic: EventTopic;
  /** e.g. JobRegistered, JobStopped, AllocUpdated, NodeDown, EvalBlocked, DeploymentUpdated */
  type: string;
  namespace?: string;
  /** the id of the object (job id, alloc id, node id ...) */
  key: string;
  time: string;
  /** the object after the change (Job, Alloc, NodeInfo, Evaluation, Deployment) */
  payload?: unknown;
}

/** One usage sample, from agents' heartbeats; the server keeps about an hour of them in memory. */
export interface UsageSample {
  time: string;
  /** millicores in use */
  cpu: number;
  /** bytes in use */
  memory: number;
}

/** What an agent sends with its heartbeat: the node's use and each running task's. */
export interface HeartbeatRequest {
  usage?: {
    node: { cpu: number; memory: number };
    allocs: Record<string, Record<string, { cpu: number; memory: number }>>;
  };
}

export interface UsageResponse {
  samples: UsageSample[];
  /** alloc usage: per task */
  tasks?: Record<string, UsageSample[]>;
  /** the limit, for charts (bytes) */
  memoryLimit?: number;
}

/**
 * POST /v1/jobs/:id/dispatch: one run (a child job) per entry, stored all or
 * none. A sweep too large for one request (more than MAX_RUNS_PER_DISPATCH
 * runs) is sent in parts: the first part makes the sweep, each later one names
 * it and says which row it starts at, so a part sent twice (a retry after a
 * timeout) is recognised instead of stored twice.
 */
export interface DispatchRequest {
  runs: DispatchRun[];
  /**
   * The sweep: a UUID the client picks for its first part (offset 0), so a
   * first part sent twice is recognised too, or the sweepId the first part
   * answered. Absent: the server picks one.
   */
  sweepId?: string;
  /** with sweepId: the row the first of these runs is in the sweep (the number of runs sent before) */
  offset?: number;
}

export interface DispatchRun {
  meta: Record<string, string>;
  /** base64 */
  payload?: string;
}

export interface DispatchResponse {
  sweepId: string;
  /** child job ids, in the order of the runs */
  jobs: string[];
  /** runs in the sweep so far, this part included */
  total: number;
  /** true when this part had been stored already (a retried request): nothing new was stored */
  repeated?: boolean;
}

/** How one run ended, or where it is. */
export type RunOutcome = 'queued' | 'running' | 'complete' | 'failed' | 'oom-killed' | 'timed-out' | 'lost' | 'stopped' | 'preempted';

/** One run of a sweep (a child job) or one alloc index of a batch job, for status tables and exports. */
export interface RunRow {
  jobId: string;
  /** a run of a parent: its place in the parent's submission order (from 0, over all its sweeps); an index of a batch job: the alloc index */
  index: number;
  meta: Record<string, string>;
  /** for a run of a parent, where it is as its sweep's totals count it: a run waiting for a retry is queued, a placed one running */
  outcome: RunOutcome;
  /** exit code, OOM kill with limit and peak, timeout ... in words */
  reason: string;
  allocId?: string;
  node?: string;
  attempt: number;
  exitCode?: number;
  durationMs?: number;
  peakMemory?: number;
  memoryLimit?: number;
  requestedMemory: number;
  cpuNanos?: number;
  startedAt?: string;
  finishedAt?: string;
}

/**
 * GET /v1/jobs/:id/runs: one page of runs, oldest first (a sweep's rows in
 * submission order), with the job's summary. Follow `next` for the rest.
 */
export interface RunsResponse {
  job: JobSummary;
  runs: RunRow[];
  /** pass back as ?cursor= for the next page; absent on the last page */
  next?: string;
  /** with ?sweep=: the totals of that one dispatch */
  sweep?: RunStats;
}

/** Where a sweep's runs are: a run is in exactly one of these states. */
export type RunState = 'queued' | 'running' | 'complete' | 'failed' | 'stopped';

/** Quantiles of finished runs, from a histogram: each value is within about 5% of the true one (min and max are exact). */
export interface ApproxQuantiles {
  p50: number;
  p90: number;
  p95: number;
  min: number;
  max: number;
  /** how many values they were computed from */
  n: number;
}

/**
 * A sweep's runs (all runs of a parameterized or periodic parent, or those of
 * one dispatch) at a glance. Kept up to date by the server in the same write
 * that changes a run, so reading it costs the same for 10 runs as for a
 * million.
 */
export interface RunStats {
  total: number;
  /** by state: queued (waiting for a place, or for a retry), running, complete, failed, stopped */
  states: Record<RunState, number>;
  /** by outcome: how finished runs ended (failed, oom-killed, timed-out, lost ...) and where the rest are */
  outcomes: Partial<Record<RunOutcome, number>>;
  /** complete + failed + stopped */
  finished: number;
  /** wall time of finished runs that started, ms */
  durationMs?: ApproxQuantiles;
  /** peak memory of finished runs that reported one, bytes */
  peakMemory?: ApproxQuantiles;
  /** memory each run asks for (the parent's current spec), bytes */
  requestedMemory: number;
  /** the memory limits OOM-killed runs ran under, lowest and highest */
  oomLimit?: { min: number; max: number };
  firstStartedAt?: string;
  lastFinishedAt?: string;
  /** when the last run should end at the current pace (runs left × mean duration ÷ runs running); absent when there is no pace yet */
  estimatedEnd?: string;
}

/** A page of a listing. Pass `next` back as ?cursor= for the following page; absent on the last page. */
export interface Page<T> {
  items: T[];
  next?: string;
}

/** POST /v1/system/gc: what one garbage collection removed. */
export interface GcResponse {
  /** everything finished before this time was eligible */
  before: string;
  jobs: number;
  runs: number;
  allocs: number;
  evals: number;
  deployments: number;
  logChunks: number;
  durationMs: number;
}

/** GET /v1/queue: the cluster's waiting work at a glance (the overview page). */
export interface QueueSummary {
  /** runs and allocs waiting for a place, over every namespace the token may read */
  queued: number;
  running: number;
  /** jobs and sweeps with work waiting, most waiting first (at most 20) */
  waiting: Array<{ namespace: string; jobId: string; queued: number; running: number; blocked?: PlacementFailure[]; estimatedEnd?: string }>;
}

export interface StatusResponse {
  version: string;
  index: number;
  /** the server that answered leads */
  leader: boolean;
  store: 'sqlite' | 'postgres';
  /** the id of the server that answered */
  serverId: string;
  /** the leading server's id, absent while none leads (a failover in progress) */
  leaderId?: string;
  /** when it took the lead (ISO) */
  leaderSince?: string;
  /** the leader lease's epoch: bumped each time the lead changes hands */
  leaderEpoch?: number;
  /** every server of the database seen in the last few seconds */
  servers: ServerEntry[];
}

/** one server of the cluster, as `baton server status` lists it */
export interface ServerEntry {
  id: string;
  url: string;
  version: string;
  /** ISO */
  startedAt: string;
  /** ISO: its latest announcement */
  seenAt: string;
  leader: boolean;
}

// ---------------------------------------------------------------- HTTP bodies (agent API)

export interface RegisterNodeRequest {
  name: string;
  nodeClass: string;
  datacenter: string;
  drivers: Record<string, DriverInfo>;
  attributes: Record<string, string>;
  labels: Record<string, string>;
  capacity: Resources;
  reserved: Resources;
  address?: string;
  volumes?: Record<string, { path: string; readOnly: boolean }>;
  portRange?: { from: number; to: number };
}

export interface RegisterNodeResponse {
  nodeId: string;
  /** the node's own secret: the agent keeps it and sends it as its bearer token */
  secret: string;
  heartbeatTtlMs: number;
  /** how long the agent may run allocs without reaching the server (see DisconnectPolicy) */
  stopAfterMs?: number;
  /** the node's client certificate (PEM), when the request carried a CSR and the server has TLS */
  certificate?: string;
  /** the CA (PEM) the server's certificate chains to */
  ca?: string;
}

/** POST /v1/agent/cert: a renewed node certificate */
export interface NodeCertResponse {
  certificate: string;
  ca: string;
}

/** PUT /v1/agent/node: refresh facts after a restart (authenticated by node secret) */
export type UpdateNodeRequest = RegisterNodeRequest;

export interface HeartbeatResponse {
  heartbeatTtlMs: number;
  /** how long the agent may run allocs without reaching the server (see DisconnectPolicy) */
  stopAfterMs?: number;
  status: NodeStatus;
}

/** What an agent gets for each alloc of its node: the alloc plus the job version it must run. */
export interface AgentAlloc {
  alloc: Alloc;
  job: JobSpec;
  /** base64 payload of a dispatched job: written to `$BATON_TASK_DIR/payload` */
  payload?: string;
  /** the versions of the secrets its tasks name ("db@3,api@0", 0: missing): a change means fetch them again */
  secretsStamp?: string;
}

export interface AgentAllocsResponse {
  /** pass back as ?index= to block until something changes */
  index: number;
  allocs: AgentAlloc[];
}

export interface AllocStatusUpdate {
  allocId: string;
  clientStatus: AllocClientStatus;
  clientDescription: string;
  taskStates: Record<string, TaskState>;
}

export interface AllocStatusRequest {
  updates: AllocStatusUpdate[];
}

export interface LogChunk {
  allocId: string;
  task: string;
  stream: LogStream;
  /** utf-8 text */
  data: string;
}

export interface ShipLogsRequest {
  chunks: LogChunk[];
}

/** GET /v1/jobs/:id/versions */
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

/** POST /v1/jobs/:id/start and /scale: the job as it is now and the eval that acts on it */
export interface JobChangeResponse {
  job: Job;
  evalId: string;
}

/** POST /v1/jobs/:id/revert; changed: false when the version asked for is the current spec */
export interface RevertJobResponse extends JobChangeResponse {
  changed: boolean;
}

/** GET /v1/nodes/:id: the node, its live allocs and the last 50 it finished */
export interface NodeDetailResponse {
  node: NodeSummary;
  allocs: Alloc[];
}

/** GET /v1/agent/ca: the cluster CA and its sha256 fingerprint, which the caller checks against its join token's */
export interface AgentCaResponse {
  ca: string;
  fingerprint: string;
}

/** POST /v1/agent/allocs/status: the store index the report was written at */
export interface IndexResponse {
  index: number;
}

/** POST /v1/agent/logs: how many chunks were stored */
export interface ShipLogsResponse {
  accepted: number;
}

/** GET /v1/openapi.json: an OpenAPI 3.1 document */
export type OpenApiDocument = Record<string, unknown>;

/** GET /v1/events?follow=false: the events the server still keeps */
export interface EventsPage {
  /** the store index now: follow from here to miss nothing */
  index: number;
  /** the oldest index still kept (0 when none) */
  oldestIndex: number;
  events: ClusterEvent[];
}
