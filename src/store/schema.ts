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
}

export interface JobTable {
  namespace: string;
  id: string;
  version: number;
  data: string;
  modify_index: number;
  parent_id: string | null;
  status: string | null;
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
}
