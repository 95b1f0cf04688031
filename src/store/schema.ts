/**
 * The tables of the state store. Entities are kept as JSON documents (the
 * types of src/api/types.ts) beside the few columns queries filter on, so the
 * row shape cannot drift from the API shape.
 */
import type { Generated } from 'kysely';

export interface MetaTable {
  key: string;
  value: string;
}

export interface TokenTable {
  id: string;
  secret_hash: string;
  name: string;
  role: string;
  namespace: string;
  created_at: string;
  /** ISO time; null: until revoked */
  expires_at: string | null;
}

export interface JobTable {
  namespace: string;
  id: string;
  version: number;
  data: string;
  modify_index: number;
  parent_id: string | null;
  status: string | null;
  /** batch, service, system, parameterized or periodic: `job ls --type` */
  kind: string | null;
  /** ms since epoch when the job ended (complete, failed or stopped); garbage collected after the retention */
  finished_at: number | null;
}

export interface JobVersionTable {
  namespace: string;
  id: string;
  version: number;
  spec: string;
  submitted_at: string;
}

export interface NodeTable {
  id: string;
  name: string;
  secret_hash: string;
  status: string;
  last_heartbeat: number;
  data: string;
  modify_index: number;
}

export interface AllocTable {
  id: string;
  namespace: string;
  job_id: string;
  node_id: string;
  desired_status: string;
  client_status: string;
  data: string;
  create_index: number;
  modify_index: number;
  /** ms since epoch when the alloc ended on both sides (desired stop or finished, and not running) */
  finished_at: number | null;
}

export interface EvalTable {
  id: string;
  namespace: string;
  job_id: string;
  status: string;
  priority: number;
  wait_until: number;
  data: string;
  create_index: number;
  /** JSON Resources of one alloc of a blocked eval, to unblock only what could fit */
  ask: string | null;
  /** ms since epoch when the eval reached complete, failed or cancelled */
  finished_at: number | null;
}

/**
 * One run of a sweep: a child job of a parameterized or periodic parent. A
 * queued run is this row and nothing else (no eval, no stored spec): its spec
 * is the parent's at `parent_version` with the run's meta merged in, made when
 * it is read. The columns a listing or the queue filters on are the truth;
 * `result` is what its latest alloc said, for listings that must not read allocs.
 */
export interface RunTable {
  namespace: string;
  /** `<parent>/<sweep8>-<row>`: the child job's id */
  id: string;
  parent_id: string;
  sweep_id: string;
  /** submission order among the parent's runs, from 0: the queue's order */
  seq: number;
  /** the row in its sweep */
  row: number;
  parent_version: number;
  version: number;
  /** JSON Record<string, string> */
  meta: string;
  payload: string | null;
  /** JSON JobSpec when the run does not follow its parent's version (runs stored before #10) */
  spec: string | null;
  status: string;
  outcome: string;
  /** 1 while the run waits for its first placement by its parent's queue */
  queued: number;
  stopped: number;
  /** JSON RunResult */
  result: string | null;
  submitted_at: string;
  launch_for: string | null;
  create_index: number;
  modify_index: number;
  finished_at: number | null;
}

/**
 * The running totals of a parent's runs: one row per sweep and one (sweep_id
 * '') over all of them, which also holds the queue's counters.
 */
export interface RunStatsTable {
  namespace: string;
  parent_id: string;
  sweep_id: string;
  /** JSON StoredRunStats */
  data: string;
  /** parent row: the seq the next dispatched run gets */
  next_seq: number;
  /** parent row: queued runs below this seq were stopped with their parent and are not to be placed */
  stop_seq: number;
  created_at: string;
}

export interface LogTable {
  seq: Generated<number>;
  alloc_id: string;
  task: string;
  stream: string;
  offset: number;
  size: number;
  data: string;
}

export interface DeploymentTable {
  id: string;
  namespace: string;
  job_id: string;
  job_version: number;
  status: string;
  data: string;
  create_index: number;
}

/** The latest version of each secret; `sealed` is AES-GCM (src/secrets/crypto.ts), the key is never in the database. */
export interface SecretTable {
  namespace: string;
  name: string;
  version: number;
  /** JSON string[]: the names of its keys, for listings */
  keys: string;
  sealed: string;
  created_at: string;
  updated_at: string;
}

/**
 * One row per write on a store several servers share (PostgreSQL): its
 * events and the nodes whose allocs it changed, so every server can wake its
 * watchers and an event stream can resume from an index on any server.
 */
export interface ChangeTable {
  at_index: number;
  /** ms since epoch of the commit */
  time: number;
  /** JSON string[] */
  nodes: string;
  /** JSON: the write's events without index and time */
  events: string;
}

export interface Database {
  meta: MetaTable;
  tokens: TokenTable;
  jobs: JobTable;
  job_versions: JobVersionTable;
  nodes: NodeTable;
  allocs: AllocTable;
  evals: EvalTable;
  logs: LogTable;
  deployments: DeploymentTable;
  runs: RunTable;
  run_stats: RunStatsTable;
  secrets: SecretTable;
  changes: ChangeTable;
}
