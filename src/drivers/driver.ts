/**
 * The one interface every task driver implements. The agent never talks to
 * Docker or to processes directly, only through this.
 */
import type { LogStream, Resources } from '../api/types.js';

/** Everything a driver needs to start one task of one alloc. */
export interface TaskConfig {
  nodeId: string;
  allocId: string;
  /** `<job>[<index>]` */
  allocName: string;
  allocIndex: number;
  namespace: string;
  jobId: string;
  taskName: string;
  image?: string;
  command?: string;
  args: string[];
  /** already merged: job env plus baton's own (BATON_ALLOC_ID, BATON_ALLOC_INDEX, ...) */
  env: Record<string, string>;
  resources: Resources;
  killSignal: string;
  killTimeoutMs: number;
  /** a host directory owned by this task: the driver may keep its files here (logs, exit code, state) */
  taskDir: string;
  /** the alloc's ports for this task: docker publishes them, exec only has them as env */
  ports?: TaskPort[];
  /** host volumes to mount (docker); exec tasks only get their paths as env */
  volumes?: TaskVolume[];
  /** docker asks beyond the defaults: refused unless the agent's operator allowed them */
  docker?: DockerAsks;
  /** where published ports listen: the agent's --address when given (default: every interface) */
  bindAddress?: string;
  /** the spec's `user:` (name, uid or uid:gid); unset: exec uses the agent's --task-user, docker the image's user */
  user?: string;
}

export interface DockerAsks {
  privileged?: boolean;
  networkMode?: 'host';
  pidMode?: 'host';
  capAdd?: string[];
  devices?: string[];
  mounts?: Array<{ source: string; destination: string; readOnly: boolean }>;
}

export interface TaskPort {
  name: string;
  /** the port on the node */
  host: number;
  /** docker: the container port it maps to (default: the host port) */
  to?: number;
}

export interface TaskVolume {
  /** the host volume's name on the node */
  name: string;
  hostPath: string;
  /** the path inside the container */
  destination: string;
  readOnly: boolean;
}

/**
 * What the agent persists about a started task so a restarted agent can
 * re-attach instead of starting a duplicate. Opaque to the agent except `driver`.
 */
export interface TaskHandle {
  driver: string;
  /** container id, or pid for exec */
  id: string;
  data: Record<string, unknown>;
}

export interface ExitResult {
  /** process exit code; 128+n when killed by signal n */
  exitCode: number;
  signal?: string;
  /** the kernel killed it for exceeding its memory limit */
  oomKilled: boolean;
  /** bytes, highest memory use seen (from cgroup or Docker), when known */
  peakMemory?: number;
  /** cpu time the task used, in nanoseconds, when the driver still knows it after the exit */
  cpuNanos?: number;
  /** set when the task could not be run at all (image missing, binary not found ...) */
  error?: string;
  /**
   * ISO time the task ended, when the driver knows it (the exec wrapper's exit
   * file, a container's State.FinishedAt): a task that ended while the agent
   * was down is timed by its exit, not by when a restarted agent noticed it
   */
  finishedAt?: string;
}

export interface LogRecord {
  stream: LogStream;
  data: Buffer;
  /** resume point after this record: pass back to `logs()` to continue without repeats */
  cursor: string;
}

export interface TaskUsage {
  /** bytes in use now */
  memory: number;
  /** bytes, highest seen */
  peakMemory: number;
  /** cumulative cpu time in nanoseconds */
  cpuNanos: number;
}

export interface RunningTask {
  readonly handle: TaskHandle;
  /** resolves once when the task has exited (however it ended) */
  wait(): Promise<ExitResult>;
  /** killSignal now, SIGKILL after timeoutMs if still running; resolves when it is gone */
  stop(timeoutMs: number, signal?: string): Promise<void>;
  /**
   * stdout and stderr in order of arrival, from `cursor` (or the start) on;
   * the iterable ends after the task exited and its output is drained.
   */
  logs(cursor?: string): AsyncIterable<LogRecord>;
  usage(): Promise<TaskUsage | undefined>;
  /** free what the driver holds (container, cgroup, files) after the task is done */
  destroy(): Promise<void>;
  /** send a signal and let it run on (a secret's change_mode: signal) */
  signal?(signal: string): Promise<void>;
  /**
   * Where a health check reaches the task's ports: the container's IP on its
   * Docker network, 127.0.0.1 for a host process; undefined while it has none.
   */
  address?(): Promise<string | undefined>;
  /**
   * Run a command where the task runs (inside the container; beside the process
   * with its env and cwd), for command checks. Rejects when it cannot be run or
   * outlives timeoutMs; `output` is stdout and stderr together, possibly cut short.
   */
  exec?(command: string, args: string[], timeoutMs: number): Promise<ExecResult>;
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

/** what exec() keeps of a command's output: checks only show its gist */
export const EXEC_OUTPUT_LIMIT = 64 * 1024;

export interface Fingerprint {
  healthy: boolean;
  /** human-readable: version, or why it does not work */
  detail: string;
  /** merged into node attributes, e.g. `driver.docker.version` */
  attributes: Record<string, string>;
}

export interface Driver {
  readonly name: string;
  /**
   * where the task sees its task dir when that is not the host path (docker
   * mounts it into the container); BATON_TASK_DIR and BATON_PAYLOAD_FILE use it
   */
  readonly taskDirInTask?: string;
  fingerprint(): Promise<Fingerprint>;
  /** create and start; a second start of the same alloc/task must not create a duplicate */
  start(config: TaskConfig): Promise<RunningTask>;
  /** re-attach to a task started by an earlier agent process; undefined when it is gone for good */
  attach(handle: TaskHandle, config: TaskConfig): Promise<RunningTask | undefined>;
  /**
   * The run of this very alloc/task that an earlier agent started but did not live to record (no
   * handle saved), still running or ended since, without starting anything; undefined when there is none.
   */
  recover?(config: TaskConfig): Promise<RunningTask | undefined>;
  /**
   * The capacity the agent offers for tasks (after what is reserved), once it
   * is known: the exec driver weights baton's cgroups by its cpu.
   */
  offer?(capacity: Resources): void;
  /** every task this node still has under this driver (e.g. labelled containers), to find orphans after a crash */
  list(nodeId: string): Promise<Array<{ allocId: string; taskName: string; handle: TaskHandle; running: boolean }>>;
}
