/**
 * The environment baton gives every task: who it is (alloc, job, node), where
 * its files are, the job's meta as BATON_META_* variables and, for dispatched
 * runs, where its payload is. Pure, so the naming rules are tested alone.
 */
import { join } from 'node:path';

export interface TaskEnvInput {
  /** the task spec's own env: baton's variables override it */
  specEnv: Record<string, string>;
  meta: Record<string, string>;
  allocId: string;
  allocName: string;
  allocIndex: number;
  jobId: string;
  namespace: string;
  taskName: string;
  nodeId: string;
  /** the task dir as the task sees it (inside the container for docker) */
  taskDir: string;
  hasPayload: boolean;
}

export const PAYLOAD_FILE = 'payload';

/** `scenario-id` → `BATON_META_SCENARIO_ID`: env names are portable only in [A-Z0-9_] */
export function metaEnvName(key: string): string {
  return `BATON_META_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

export function taskEnv(i: TaskEnvInput): Record<string, string> {
  const env: Record<string, string> = { ...i.specEnv };
  for (const [k, v] of Object.entries(i.meta)) env[metaEnvName(k)] = v;
  Object.assign(env, {
    BATON_ALLOC_ID: i.allocId,
    BATON_ALLOC_NAME: i.allocName,
    BATON_ALLOC_INDEX: String(i.allocIndex),
    BATON_JOB_ID: i.jobId,
    BATON_NAMESPACE: i.namespace,
    BATON_TASK_NAME: i.taskName,
    BATON_TASK_DIR: i.taskDir,
    BATON_NODE_ID: i.nodeId,
  });
  if (i.hasPayload) env.BATON_PAYLOAD_FILE = join(i.taskDir, PAYLOAD_FILE);
  return env;
}
