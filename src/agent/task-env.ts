/**
 * The environment baton gives every task: who it is (alloc, job, node), where
 * its files are, the job's meta as BATON_META_* variables, for dispatched
 * runs where its payload is, and its network: its ports, the addresses of the
 * services it needs, and (exec) where its host volumes are. Pure, so the
 * naming rules are tested alone.
 */
import { join } from 'node:path';
import type { PortSpec, TaskSpec, VolumeMount } from '../api/types.js';
import type { DockerAsks, TaskPort, TaskVolume } from '../drivers/driver.js';

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
  /** the node's address other machines reach its ports at */
  address?: string;
  ports?: TaskPort[];
  /**
   * docker: BATON_PORT_<NAME> is the port inside the container (`to`, else the
   * host port); exec: the host port, which is where the process must listen
   */
  containerPorts?: boolean;
  /** exec only: BATON_VOLUME_<NAME> = host path (docker mounts them at their destination instead) */
  volumes?: TaskVolume[];
  /** env name → "addr:port,addr:port" of each upstream service */
  upstreams?: Record<string, string>;
}

export const PAYLOAD_FILE = 'payload';

/** `scenario-id` → `BATON_META_SCENARIO_ID`: env names are portable only in [A-Z0-9_] */
export function metaEnvName(key: string): string {
  return `BATON_META_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/** the portable env form of a name: upper case, [A-Z0-9_] only */
export function envSuffix(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export function upstreamEnvName(service: string, env?: string): string {
  return env ?? `BATON_UPSTREAM_${envSuffix(service)}`;
}

/**
 * The host port of each declared port: what the scheduler assigned on the
 * alloc, else the static port. A dynamic port without an assignment cannot
 * be run: the task would not know where to listen.
 */
export function resolvePorts(ports: PortSpec[] | undefined, assigned: Record<string, { host: number; to?: number }> | undefined): TaskPort[] {
  return (ports ?? []).map((p) => {
    const a = assigned?.[p.name];
    const host = a?.host ?? p.static;
    if (host === undefined) throw new Error(`port "${p.name}" has no host port assigned: the server placed the alloc without picking one`);
    const to = a?.to ?? p.to;
    return { name: p.name, host, ...(to !== undefined ? { to } : {}) };
  });
}

/** Each mount against the node's declared volumes; read-only if either side says so. */
export function resolveVolumes(mounts: VolumeMount[] | undefined, declared: Record<string, { path: string; readOnly: boolean }> | undefined): TaskVolume[] {
  return (mounts ?? []).map((m) => {
    const v = declared?.[m.volume];
    if (!v) {
      const known = Object.keys(declared ?? {});
      throw new Error(
        `host volume "${m.volume}" is not declared on this node (start the agent with --volume ${m.volume}=/path); ` +
          `this node has ${known.length ? known.join(', ') : 'no volumes'}`,
      );
    }
    return { name: m.volume, hostPath: v.path, destination: m.destination, readOnly: m.readOnly || v.readOnly };
  });
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
  for (const p of i.ports ?? []) {
    const suffix = envSuffix(p.name);
    env[`BATON_PORT_${suffix}`] = String(i.containerPorts ? (p.to ?? p.host) : p.host);
    // what others dial: always the node's address and the host port
    env[`BATON_ADDR_${suffix}`] = `${i.address ?? '127.0.0.1'}:${p.host}`;
  }
  for (const v of i.volumes ?? []) env[`BATON_VOLUME_${envSuffix(v.name)}`] = v.hostPath;
  Object.assign(env, i.upstreams ?? {});
  return env;
}

/** the docker asks of a task spec, as the driver takes them */
export function dockerAsksOf(t: TaskSpec): DockerAsks {
  return {
    ...(t.privileged ? { privileged: true } : {}),
    ...(t.networkMode ? { networkMode: t.networkMode } : {}),
    ...(t.pidMode ? { pidMode: t.pidMode } : {}),
    ...(t.capAdd?.length ? { capAdd: t.capAdd } : {}),
    ...(t.devices?.length ? { devices: t.devices } : {}),
    ...(t.mounts?.length ? { mounts: t.mounts } : {}),
  };
}
