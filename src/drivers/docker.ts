/**
 * The docker driver: one container per task through the Docker Engine API.
 * Containers carry baton labels and a deterministic name, so a restarted agent
 * (or a repeated start) finds the container it already made.
 */
import {
  ALLOWANCE_TEXT,
  DOCKER_ALLOWANCES,
  dockerAllowAttribute,
  dockerAsks,
  HOST_PATHS_ATTRIBUTE,
  underPrefix,
  type DockerAllowance,
} from '../spec/allowances.js';
import type Docker from 'dockerode';
import { DockerEngine, type EngineContainer, type EngineExec } from './docker-engine.js';
import { PassThrough, Writable } from 'node:stream';
import type { LogStream, Resources } from '../api/types.js';
import { cpuShares } from './cgroups.js';
import {
  EXEC_OUTPUT_LIMIT,
  type Driver,
  type ExecResult,
  type ExitResult,
  type Fingerprint,
  type LogRecord,
  type RunningTask,
  type DockerAsks,
  type TaskConfig,
  type TaskHandle,
  type TaskUsage,
} from './driver.js';
import { normaliseSignal, signalOfExitCode, sleep } from './proc.js';
import { timestampAfter, timestampNanos, splitTimestamp, timestampToSince } from './timestamps.js';

const STATS_POLL_MS = 1000;

/** where every container sees its task dir (payload, files it wants to leave on the host) */
export const CONTAINER_TASK_DIR = '/baton/task';

/** a sleep that does not keep the agent process alive on its own */
const idle = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export interface DockerDriverOptions {
  docker?: DockerEngine;
  /** what the operator allows tasks to ask for (baton agent --allow); default none */
  allow?: readonly DockerAllowance[];
  /** host path prefixes tasks may bind (baton agent --allow-host-path); default none */
  hostPaths?: readonly string[];
}

/**
 * Why the agent refuses the task's docker asks, or undefined when it allows
 * them all: the scheduler keeps such tasks off this node, this is the second line.
 */
export function refusal(asks: DockerAsks | undefined, allow: readonly DockerAllowance[], hostPaths: readonly string[]): string | undefined {
  if (!asks) return undefined;
  for (const a of dockerAsks(asks)) {
    if (!allow.includes(a)) return `${ALLOWANCE_TEXT[a].needs}, which this agent does not allow (start it with ${ALLOWANCE_TEXT[a].how})`;
  }
  const outside = (asks.mounts ?? []).find((m) => !underPrefix(m.source, hostPaths));
  if (outside) {
    return `the task binds host path ${outside.source}, which this agent does not allow (${hostPaths.length ? `allowed: ${hostPaths.join(', ')}` : 'none allowed'}; start it with --allow-host-path <prefix>)`;
  }
  return undefined;
}

/** the asks as the Engine's HostConfig fields */
export function asksHostConfig(asks: DockerAsks | undefined): Partial<Docker.HostConfig> & { binds: string[] } {
  const out: Partial<Docker.HostConfig> & { binds: string[] } = { binds: [] };
  if (!asks) return out;
  if (asks.privileged) out.Privileged = true;
  if (asks.networkMode === 'host') out.NetworkMode = 'host';
  if (asks.pidMode === 'host') out.PidMode = 'host';
  if (asks.capAdd?.length) out.CapAdd = asks.capAdd;
  if (asks.devices?.length) {
    out.Devices = asks.devices.map((d) => {
      const [host, inside, perms] = d.split(':');
      return { PathOnHost: host, PathInContainer: inside || host, CgroupPermissions: perms || 'rwm' };
    });
  }
  out.binds = (asks.mounts ?? []).map((m) => `${m.source}:${m.destination}:${m.readOnly ? 'ro' : 'rw'}`);
  return out;
}

interface DockerError {
  statusCode?: number;
  message?: string;
  json?: { message?: string };
}

const statusOf = (err: unknown) => (err as DockerError)?.statusCode;

function reason(err: unknown): string {
  const e = err as DockerError;
  return e?.json?.message ?? e?.message ?? String(err);
}

/**
 * Ports and host volumes as the Engine wants them: every port published on
 * the address the operator gave the agent (--address), else on all interfaces
 * of the node; every volume bound at its destination.
 */
export function networkHostConfig(config: Pick<TaskConfig, 'ports' | 'volumes' | 'bindAddress'>): {
  exposed: Record<string, object>;
  bindings: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  binds: string[];
} {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of config.ports ?? []) {
    const key = `${p.to ?? p.host}/tcp`;
    exposed[key] = {};
    // two host ports may map to one container port: keep both
    (bindings[key] ??= []).push({ HostIp: config.bindAddress ?? '0.0.0.0', HostPort: String(p.host) });
  }
  const binds = (config.volumes ?? []).map((v) => `${v.hostPath}:${v.destination}:${v.readOnly ? 'ro' : 'rw'}`);
  return { exposed, bindings, binds };
}

export function containerName(allocId: string, taskName: string): string {
  // docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*
  return `baton-${allocId}-${taskName}`.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

interface MemoryStats {
  usage?: number;
  max_usage?: number;
  limit?: number;
}

function memoryOf(stats: Docker.ContainerStats | undefined): { usage: number; max: number } {
  const m = (stats?.memory_stats ?? {}) as MemoryStats;
  const usage = m.usage ?? 0;
  return { usage, max: Math.max(usage, m.max_usage ?? 0) };
}

/** State.FinishedAt (RFC 3339 with nanoseconds) as an ISO time; undefined for the zero time of a container that never ended */
export function containerFinishedAt(ts: string | undefined): string | undefined {
  if (!ts) return undefined;
  const ns = timestampNanos(ts);
  if (ns === undefined || ns <= 0n) return undefined;
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

class DockerTask implements RunningTask {
  readonly handle: TaskHandle;
  private readonly container: EngineContainer;
  private result?: Promise<ExitResult>;
  private peak = 0;
  private polling = false;
  private done = false;

  constructor(
    private readonly docker: DockerEngine,
    id: string,
    name: string,
    private readonly killSignal: string,
    private readonly memoryLimit: number,
  ) {
    this.container = docker.getContainer(id);
    this.handle = { driver: 'docker', id, data: { name } };
    this.pollStats();
  }

  /** Tracks the peak: v2 hosts only report current usage, so it must be sampled while running. */
  private pollStats(): void {
    if (this.polling) return;
    this.polling = true;
    void (async () => {
      while (!this.done) {
        try {
          const s = await this.stats();
          if (!s) break;
          this.peak = Math.max(this.peak, memoryOf(s).max);
        } catch (err) {
          if (statusOf(err) === 404) break;
          // daemon busy: try again next round
        }
        await idle(STATS_POLL_MS);
      }
      this.polling = false;
    })();
  }

  private async stats(): Promise<Docker.ContainerStats | undefined> {
    const info = await this.container.inspect();
    if (!info.State.Running) return undefined;
    // one-shot skips the second sample docker otherwise waits for (cpu percent we do not need)
    return await this.container.stats({ stream: false, 'one-shot': true });
  }

  wait(): Promise<ExitResult> {
    this.result ??= this.waitExit().finally(() => {
      this.done = true;
    });
    return this.result;
  }

  private async waitExit(): Promise<ExitResult> {
    try {
      await this.container.wait();
    } catch (err) {
      if (statusOf(err) === 404) return { exitCode: 137, signal: 'SIGKILL', oomKilled: false, error: 'container removed' };
      throw err;
    }
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.container.inspect();
    } catch (err) {
      if (statusOf(err) === 404) return { exitCode: 137, signal: 'SIGKILL', oomKilled: false, error: 'container removed' };
      throw err;
    }
    const exitCode = info.State.ExitCode;
    const oomKilled = info.State.OOMKilled === true;
    const res: ExitResult = { exitCode, oomKilled };
    const signal = signalOfExitCode(exitCode);
    if (signal) res.signal = signal;
    // killed at the limit: the limit is a truer peak than a sample taken before the spike
    const peak = oomKilled && this.memoryLimit > this.peak ? this.memoryLimit : this.peak;
    if (peak > 0) res.peakMemory = peak;
    if (info.State.Error) res.error = info.State.Error;
    // the engine's own time of the exit: a container that ended while the agent was down keeps its duration
    const finishedAt = containerFinishedAt(info.State.FinishedAt);
    if (finishedAt) res.finishedAt = finishedAt;
    return res;
  }

  private async running(): Promise<boolean> {
    try {
      return (await this.container.inspect()).State.Running;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  private async kill(signal: string): Promise<void> {
    try {
      await this.container.kill({ signal });
    } catch (err) {
      // 409: not running, 404: gone; both mean there is nothing to stop
      if (statusOf(err) !== 409 && statusOf(err) !== 404) throw err;
    }
  }

  private async exitedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const exited = this.container.wait({ condition: 'not-running' }).then(
      () => true as const,
      () => true as const,
    );
    const ok = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    return ok;
  }

  async signal(signal: string): Promise<void> {
    await this.kill(normaliseSignal(signal));
  }

  async stop(timeoutMs: number, signal?: string): Promise<void> {
    if (!(await this.running())) return;
    await this.kill(normaliseSignal(signal ?? this.killSignal));
    if (await this.exitedWithin(Math.max(0, timeoutMs))) return;
    await this.kill('SIGKILL');
    while (await this.running()) await sleep(100);
  }

  async *logs(cursor?: string): AsyncIterable<LogRecord> {
    const opts: Record<string, unknown> = { follow: true, stdout: true, stderr: true, timestamps: true };
    if (cursor) opts.since = timestampToSince(cursor);
    const raw = (await this.container.logs(opts)) as NodeJS.ReadableStream & { destroy?: () => void };
    const records = new PassThrough({ objectMode: true });
    const sink = (stream: LogStream) =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          // demuxStream writes whole frames; each frame is one log message with its timestamp
          const { timestamp, data } = splitTimestamp(chunk);
          if (!timestamp || !cursor || timestampAfter(timestamp, cursor)) {
            records.write({ stream, data, cursor: timestamp ?? cursor ?? '' } satisfies LogRecord);
          }
          cb();
        },
      });
    this.docker.modem.demuxStream(raw, sink('stdout'), sink('stderr'));
    raw.on('end', () => records.end());
    raw.on('close', () => records.end());
    raw.on('error', (err: Error) => records.destroy(err));
    try {
      for await (const rec of records) yield rec as LogRecord;
    } finally {
      raw.destroy?.();
    }
  }

  async usage(): Promise<TaskUsage | undefined> {
    let s: Docker.ContainerStats | undefined;
    try {
      s = await this.stats();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    if (!s) return undefined;
    const m = memoryOf(s);
    this.peak = Math.max(this.peak, m.max);
    return { memory: m.usage, peakMemory: this.peak, cpuNanos: s.cpu_stats?.cpu_usage?.total_usage ?? 0 };
  }

  /**
   * The container's IP on its network (the default bridge, or the first of its
   * networks); loopback when it shares the host's network; undefined while it
   * has none (not running).
   */
  async address(): Promise<string | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.container.inspect();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    if (!info.State.Running) return undefined;
    if (info.HostConfig?.NetworkMode === 'host') return '127.0.0.1';
    // newer Engines only list per-network addresses (the top-level IPAddress is gone)
    const networks = info.NetworkSettings?.Networks ?? {};
    const preferred = networks[info.HostConfig?.NetworkMode ?? ''] ?? networks.bridge;
    if (preferred?.IPAddress) return preferred.IPAddress;
    for (const n of Object.values(networks)) if (n?.IPAddress) return n.IPAddress;
    return undefined;
  }

  /**
   * Runs the command inside the container through the Engine's exec API. The
   * API cannot kill an exec: on timeout the answer is given up and the command
   * is left to end by itself (or with its container).
   */
  async exec(command: string, args: string[], timeoutMs: number): Promise<ExecResult> {
    let exec: EngineExec;
    try {
      exec = await this.container.exec({ Cmd: [command, ...args], AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false });
    } catch (err) {
      throw new Error(`could not run ${command} in the container: ${reason(err)}`);
    }
    const stream = await exec.start({ hijack: true, stdin: false });
    let output = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (output.length < EXEC_OUTPUT_LIMIT) output += chunk.toString('utf8').slice(0, EXEC_OUTPUT_LIMIT - output.length);
        cb();
      },
    });
    this.docker.modem.demuxStream(stream, sink, sink);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          stream.on('end', () => resolve());
          stream.on('close', () => resolve());
          stream.on('error', reject);
        }),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${command} timed out after ${timeoutMs} ms`)), Math.max(0, timeoutMs)))),
      ]);
    } finally {
      clearTimeout(timer);
      stream.destroy();
    }
    // the stream may end a moment before the Engine records the exit code
    for (let i = 0; i < 50; i++) {
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) return { exitCode: info.ExitCode, output };
      await sleep(20);
    }
    throw new Error(`${command}: the Engine did not report an exit code`);
  }

  async destroy(): Promise<void> {
    this.done = true;
    try {
      await this.container.remove({ force: true });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }
}

/**
 * The cpu part of a container's HostConfig: the request as a weight
 * (CpuShares, 1024 per core, as the exec driver's cgroups), a hard cap
 * (NanoCpus) only when the task sets a cpu limit.
 */
export function cpuHostConfig(resources: Resources): Pick<Docker.HostConfig, 'CpuShares' | 'NanoCpus'> {
  return { CpuShares: cpuShares(resources.cpu), ...(resources.cpuLimit ? { NanoCpus: resources.cpuLimit * 1_000_000 } : {}) };
}

export class DockerDriver implements Driver {
  readonly name = 'docker';
  readonly taskDirInTask = CONTAINER_TASK_DIR;
  private readonly docker: DockerEngine;

  private readonly allow: readonly DockerAllowance[];
  private readonly hostPaths: readonly string[];

  constructor(options: DockerDriverOptions = {}) {
    this.docker = options.docker ?? new DockerEngine();
    this.allow = options.allow ?? [];
    this.hostPaths = options.hostPaths ?? [];
  }

  /** what the scheduler needs to know of this agent's allowances */
  private allowanceAttributes(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const a of DOCKER_ALLOWANCES) out[dockerAllowAttribute(a)] = String(this.allow.includes(a));
    out[HOST_PATHS_ATTRIBUTE] = this.hostPaths.join(',');
    return out;
  }

  async fingerprint(): Promise<Fingerprint> {
    try {
      const v = await this.docker.version();
      return {
        healthy: true,
        detail: `Docker Engine ${v.Version} (API ${v.ApiVersion})`,
        attributes: { 'driver.docker.version': v.Version, ...this.allowanceAttributes() },
      };
    } catch (err) {
      return { healthy: false, detail: `Docker Engine not reachable: ${reason(err)}`, attributes: {} };
    }
  }

  private task(id: string, name: string, config: TaskConfig): DockerTask {
    return new DockerTask(this.docker, id, name, config.killSignal, config.resources.memory);
  }

  async start(config: TaskConfig): Promise<RunningTask> {
    const name = containerName(config.allocId, config.taskName);
    const existing = await this.resume(name, config);
    if (existing) return existing;

    if (!config.image) throw new Error(`docker task "${config.taskName}" has no image`);
    const refused = refusal(config.docker, this.allow, this.hostPaths);
    if (refused) throw new Error(refused);
    await this.ensureImage(config.image);

    const cmd = config.command ? [config.command, ...config.args] : config.args.length > 0 ? config.args : undefined;
    // read-write: the task may leave results next to its payload
    const net = networkHostConfig(config);
    const { binds: hostBinds, ...asked } = asksHostConfig(config.docker);
    const hostConfig: Docker.HostConfig = { Binds: [`${config.taskDir}:${CONTAINER_TASK_DIR}:rw`, ...net.binds, ...hostBinds], ...asked };
    if (Object.keys(net.bindings).length > 0) hostConfig.PortBindings = net.bindings;
    if (config.resources.memory > 0) {
      hostConfig.Memory = config.resources.memory;
      hostConfig.MemorySwap = config.resources.memory;
    }
    Object.assign(hostConfig, cpuHostConfig(config.resources));
    let container: EngineContainer;
    try {
      container = await this.docker.createContainer({
        name,
        Image: config.image,
        Cmd: cmd,
        Env: Object.entries(config.env).map(([k, v]) => `${k}=${v}`),
        StopSignal: normaliseSignal(config.killSignal),
        // the image's user unless the task names one
        ...(config.user !== undefined ? { User: config.user } : {}),
        ...(Object.keys(net.exposed).length > 0 ? { ExposedPorts: net.exposed } : {}),
        Labels: {
          'baton.alloc_id': config.allocId,
          'baton.node_id': config.nodeId,
          'baton.task': config.taskName,
          'baton.job': config.jobId,
          'baton.namespace': config.namespace,
        },
        HostConfig: hostConfig,
      });
    } catch (err) {
      // 409: a concurrent start created it first
      if (statusOf(err) === 409) {
        const raced = await this.resume(name, config);
        if (raced) return raced;
      }
      throw new Error(`could not create container for task "${config.taskName}": ${reason(err)}`);
    }
    try {
      await container.start();
    } catch (err) {
      if (statusOf(err) !== 304) {
        throw new Error(`could not start container ${name}: ${reason(err)}`);
      }
    }
    return this.task(container.id, name, config);
  }

  /** Attach to the container a previous start made; start it if it was only created. */
  /** the container of that name; undefined when there is none */
  private async inspectByName(name: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(name).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async recover(config: TaskConfig): Promise<RunningTask | undefined> {
    const name = containerName(config.allocId, config.taskName);
    const info = await this.inspectByName(name);
    if (!info) return undefined;
    // created and never started: nothing ran, the next start() starts it
    if (info.State.Status === 'created') return undefined;
    return this.task(info.Id, name, config);
  }

  private async resume(name: string, config: TaskConfig): Promise<RunningTask | undefined> {
    const info = await this.inspectByName(name);
    if (!info) return undefined;
    if (info.State.Status === 'created') {
      try {
        await this.docker.getContainer(info.Id).start();
      } catch (err) {
        if (statusOf(err) !== 304) throw new Error(`could not start container ${name}: ${reason(err)}`);
      }
    }
    return this.task(info.Id, name, config);
  }

  private async ensureImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if (statusOf(err) !== 404) throw new Error(`image "${image}" is not available on this node: ${reason(err)}`);
    }
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
          const failed = err ?? out?.find((o) => o.error);
          if (failed) reject(failed instanceof Error ? failed : new Error((failed as { error: string }).error));
          else resolve();
        });
      });
    } catch (err) {
      throw new Error(`image "${image}" is not available on this node: ${reason(err)}`);
    }
  }

  async attach(handle: TaskHandle, config: TaskConfig): Promise<RunningTask | undefined> {
    if (handle.driver !== 'docker') return undefined;
    try {
      const info = await this.docker.getContainer(handle.id).inspect();
      return this.task(info.Id, info.Name.replace(/^\//, ''), config);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async list(nodeId: string): Promise<Array<{ allocId: string; taskName: string; handle: TaskHandle; running: boolean }>> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: [`baton.node_id=${nodeId}`] } });
    return containers.map((c) => ({
      allocId: c.Labels['baton.alloc_id'] ?? '',
      taskName: c.Labels['baton.task'] ?? '',
      handle: { driver: 'docker', id: c.Id, data: { name: (c.Names[0] ?? '').replace(/^\//, '') } },
      running: c.State === 'running',
    }));
  }
}
