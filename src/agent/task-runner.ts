/**
 * Runs one task of an alloc through its driver for as long as the alloc
 * lives: start (or re-attach after an agent restart), ship its logs, wait for
 * its exit, restart it by policy, and keep its TaskState and events current.
 * The handle is persisted before anything else happens, so a crash at any
 * point leaves enough on disk to find the task again.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentAlloc, AllocSecretsResponse, Resources, TaskSpec } from '../api/types.js';
import { ensureSecretsDir, pickSecrets, releaseSecrets, SECRETS_DIR, secretsForStart, writeSecrets } from './secrets.js';
import type { ExitResult, RunningTask, TaskConfig, TaskPort, TaskUsage, TaskVolume } from '../drivers/driver.js';
import { formatBytes, formatDuration } from '../spec/units.js';
import { errorMessage, sleep } from './backoff.js';
import { unlessAborted, type AgentContext } from './context.js';
import { HealthChecker } from './health-checks.js';
import { initialChecks } from './health-state.js';
import { LogShipper } from './log-shipper.js';
import { decideRestart, exitSucceeded } from './restart-policy.js';
import type { PersistedTask } from './state-file.js';
import { PAYLOAD_FILE, resolvePorts, resolveVolumes, taskEnv, upstreamEnvName } from './task-env.js';
import { writeTaskFile } from './task-files.js';
import { dockerAsksOf } from './task-env.js';
import { UsagePoller } from './usage-poller.js';
import { cpuMillicores, type CpuSample } from './usage-report.js';

const MAX_EVENTS = 50;
const MAX_RESTART_TIMES = 100;
export const LOST_MESSAGE = 'task lost while the agent was down';
/** setTimeout fires at once for delays past ~24.8 days: longer timeouts are re-armed in steps */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface TaskHost {
  readonly ctx: AgentContext;
  readonly agentAlloc: AgentAlloc;
  /** the node the alloc's tasks belong to */
  readonly nodeId: string;
  /** the task's state changed: persist it and report the alloc's status */
  changed(): { saved: Promise<void>; acked: Promise<void> };
  /** persist without reporting (handle, log cursor) */
  save(): Promise<void>;
  /** the values of the alloc's secrets at its current version stamp */
  secrets?(): Promise<AllocSecretsResponse>;
  /** the task ended on its own past the alloc's disconnect bound: the alloc is lost, the task not restarted (AllocRunner) */
  endedPastBound?(succeeded: boolean): boolean;
}

type Start = 'fresh' | 'lost' | { attached: RunningTask };

/** what a start needs beyond the spec: the alloc's ports, the node's volumes, the upstreams' addresses now */
export interface TaskNetwork {
  ports: TaskPort[];
  volumes: TaskVolume[];
  /** env name → "addr:port,addr:port" */
  upstreams: Record<string, string>;
}

export class TaskRunner {
  private begun = false;
  private loop: Promise<void> | undefined;
  private running: RunningTask | undefined;
  /** the latest usage of the run in progress, for heartbeats; cleared when it ends */
  private current: { cpu: number; memory: number } | undefined;
  private lastCpu: CpuSample | undefined;
  private stopRequested = false;
  /** a stop that must be over sooner than the task's kill_timeout (stop({ killTimeoutMs })) */
  private killTimeoutOverrideMs: number | undefined;
  /** a secret it uses changed and its change_mode is restart: the exit that follows is not a failure */
  private secretRestart = false;
  private loopActive = false;
  /** aborted by stop(), to cut a restart delay short */
  private readonly wake = new AbortController();
  /** the health checks of the current run, while it runs */
  private checker: HealthChecker | undefined;
  /** set when this run is being killed for failing a check: why, for its events and the restart decision */
  private unhealthy: string | undefined;
  /** the exec read-only warning is said once per task, not at every restart */
  private warnedReadOnly = false;
  /** when the last run ended: the driver's time when it knows it (a run that ended while the agent was down), else when it was seen */
  private exitedAt: string | undefined;
  /** the current run was taken up from an earlier agent, its start time unknown */
  private adoptedRun = false;

  constructor(
    private readonly host: TaskHost,
    readonly spec: TaskSpec,
    readonly rec: PersistedTask,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get dead(): boolean {
    return this.rec.state.state === 'dead';
  }

  /** dead, and nothing of it left to free */
  get settled(): boolean {
    return this.dead && (this.rec.destroyed === true || this.rec.handle === undefined) && !this.loopActive;
  }

  /** resolves when the runner has nothing more to do (or the agent closed) */
  whenDone(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** After an agent restart: take up a task an earlier agent started (no new start). */
  async reattach(): Promise<void> {
    if (!this.begun && !this.rec.handle && this.rec.state.state === 'pending') {
      // the earlier agent may have started it and died before it saved the handle: take up that run
      // (ended or not) instead of letting it go unseen, so its result counts and nothing runs it twice
      const found = await this.recover();
      if (found && !this.begun) {
        this.rec.handle = found.handle;
        this.begun = true;
        this.loop = this.track(this.run({ attached: found }));
        return;
      }
    }
    if (this.begun || !this.rec.handle) return;
    if (this.dead) {
      this.begun = true;
      this.loop = this.track(this.cleanupDead());
      return;
    }
    this.begun = true;
    const first = await this.attach();
    this.loop = this.track(this.run(first));
  }

  /** Start the task, or adopt it when a handle is known; no-op once begun. */
  start(): void {
    if (this.begun) return;
    this.begun = true;
    if (this.dead) {
      this.loop = this.track(this.cleanupDead());
      return;
    }
    this.loop = this.track((async () => this.run(this.rec.handle ? await this.attach() : 'fresh'))());
  }

  /**
   * Stop on purpose: the task ends as not failed. A shorter kill timeout than
   * the task's own (the agent lost the server and the copy must be gone before
   * a replacement may start) also cuts short a stop already under way.
   */
  stop(opts: { killTimeoutMs?: number } = {}): void {
    if (opts.killTimeoutMs !== undefined && opts.killTimeoutMs < (this.killTimeoutOverrideMs ?? this.spec.killTimeoutMs)) {
      this.killTimeoutOverrideMs = Math.max(0, opts.killTimeoutMs);
      if (this.stopRequested && this.running) {
        void this.kill(this.running);
        return;
      }
    }
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.wake.abort();
    // a task going down on purpose fails its checks on the way: that must not count
    void this.checker?.stop();
    if (this.running) void this.kill(this.running);
    if (!this.begun && !this.dead) {
      this.begun = true;
      this.loop = this.track(this.finish(undefined));
    }
  }

  /** what the task runs under: an OOM retry's grown memory, else the spec's */
  resources(): Resources {
    return this.host.agentAlloc.alloc.taskResources?.[this.spec.name] ?? this.spec.resources;
  }

  /**
   * The task's start config. Without `net` (re-attach, orphans) it carries no
   * ports, volumes or upstreams: the running task already has them.
   */
  config(net?: TaskNetwork): TaskConfig {
    const { alloc, job, payload } = this.host.agentAlloc;
    const driver = this.host.ctx.drivers.get(this.spec.driver);
    const taskDir = this.host.ctx.store.taskDir(alloc.id, this.spec.name);
    const jobId = alloc.jobId ?? job.name;
    const namespace = alloc.namespace ?? job.namespace;
    return {
      nodeId: this.host.nodeId,
      allocId: alloc.id,
      allocName: alloc.name,
      allocIndex: alloc.index,
      namespace,
      jobId,
      taskName: this.spec.name,
      image: this.spec.image,
      command: this.spec.command,
      args: this.spec.args ?? [],
      env: taskEnv({
        specEnv: this.spec.env ?? {},
        meta: job.meta ?? {},
        allocId: alloc.id,
        allocName: alloc.name,
        allocIndex: alloc.index,
        jobId,
        namespace,
        taskName: this.spec.name,
        nodeId: this.host.nodeId,
        taskDir: driver?.taskDirInTask ?? taskDir,
        hasPayload: payload !== undefined,
        address: this.host.ctx.node?.address,
        ports: net?.ports,
        containerPorts: this.spec.driver === 'docker',
        // docker mounts volumes at their destination; a host process can only be told where they are
        volumes: this.spec.driver === 'docker' ? undefined : net?.volumes,
        upstreams: net?.upstreams,
      }),
      resources: this.resources(),
      killSignal: this.spec.killSignal,
      killTimeoutMs: this.spec.killTimeoutMs,
      taskDir,
      ...(this.spec.user !== undefined ? { user: this.spec.user } : {}),
      ...(this.host.ctx.node?.bindAddress ? { bindAddress: this.host.ctx.node.bindAddress } : {}),
      ...(this.spec.driver === 'docker' ? { docker: dockerAsksOf(this.spec) } : {}),
      ...(net?.ports.length ? { ports: net.ports } : {}),
      ...(net?.volumes.length ? { volumes: net.volumes } : {}),
    };
  }

  /** ports and volumes (errors here mean the task cannot start), then the upstreams as the registry has them now */
  async network(): Promise<TaskNetwork> {
    const { alloc, job } = this.host.agentAlloc;
    const ports = resolvePorts(this.spec.ports, alloc.ports?.[this.spec.name]);
    const volumes = resolveVolumes(this.spec.volumes, this.host.ctx.node?.volumes);
    if (this.spec.driver !== 'docker' && volumes.some((v) => v.readOnly) && !this.warnedReadOnly) {
      this.warnedReadOnly = true;
      this.log().warn(
        { volumes: volumes.filter((v) => v.readOnly).map((v) => v.name) },
        'read-only cannot be enforced for exec tasks: the process may write to these host volumes',
      );
    }
    const upstreams: Record<string, string> = {};
    const namespace = alloc.namespace ?? job.namespace;
    await Promise.all(
      (this.spec.upstreams ?? []).map(async (u) => {
        const name = upstreamEnvName(u.service, u.env);
        try {
          const res = await this.host.ctx.client.serviceEndpoints(u.service, namespace);
          upstreams[name] = res.endpoints.map((e) => `${e.address}:${e.port}`).join(',');
        } catch (err) {
          // the server may be briefly away: start with no endpoints rather than not at all, and say so
          upstreams[name] = '';
          this.event('UpstreamUnknown', `could not look up service ${u.service}: ${errorMessage(err)}`);
          this.log().warn({ service: u.service, err: errorMessage(err) }, 'upstream lookup failed; the task starts with no endpoints for it');
        }
      }),
    );
    return { ports, volumes, upstreams };
  }

  private track(p: Promise<void>): Promise<void> {
    this.loopActive = true;
    return p
      .catch((err) => this.log().error({ err: errorMessage(err) }, 'task runner failed'))
      .finally(() => {
        this.loopActive = false;
      });
  }

  private log() {
    return this.host.ctx.logger.child({ allocId: this.host.agentAlloc.alloc.id, task: this.spec.name });
  }

  private event(type: string, message: string): void {
    const events = this.rec.state.events;
    events.push({ time: new Date().toISOString(), type, message });
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
  }

  private async recover(): Promise<RunningTask | undefined> {
    const driver = this.host.ctx.drivers.get(this.spec.driver);
    if (!driver?.recover) return undefined;
    try {
      return await driver.recover(this.config());
    } catch (err) {
      this.log().warn({ err: errorMessage(err) }, 'cannot look for a run an earlier agent started');
      return undefined;
    }
  }

  private async attach(): Promise<Start> {
    const handle = this.rec.handle!;
    const driver = this.host.ctx.drivers.get(handle.driver);
    if (!driver) {
      this.log().warn({ driver: handle.driver }, 'the driver of a running task is not available: cannot re-attach');
      return 'lost';
    }
    try {
      const running = await driver.attach(handle, this.config());
      return running ? { attached: running } : 'lost';
    } catch (err) {
      this.log().warn({ err: errorMessage(err) }, 're-attach failed');
      return 'lost';
    }
  }

  private async run(first: Start): Promise<void> {
    const { ctx } = this.host;
    const job = this.host.agentAlloc.job;
    let next: Start = first;
    let last: RunningTask | undefined;
    for (;;) {
      if (ctx.signal.aborted) return;
      let exit: ExitResult | undefined;
      if (next === 'lost') {
        this.event('TaskLost', LOST_MESSAGE);
        this.rec.handle = undefined;
        exit = { exitCode: -1, oomKilled: false, error: LOST_MESSAGE };
      } else {
        let running: RunningTask | undefined;
        if (next === 'fresh') {
          if (this.stopRequested) return this.finish(last);
          const r = await this.startTask();
          if ('error' in r) exit = { exitCode: -1, oomKilled: false, error: r.error };
          else running = r.running;
        } else {
          running = next.attached;
          if (this.rec.state.state === 'pending') {
            // adopted: started by an agent that crashed before it could say so
            this.markStarted('re-attached to a task started before the agent restarted');
            this.adoptedRun = true;
            await this.host.changed().saved;
          }
        }
        if (running) {
          last = running;
          exit = await this.supervise(running);
        }
      }
      // undefined: the agent is closing, the task is left as it is
      if (exit === undefined || ctx.signal.aborted) return;

      const unhealthy = this.unhealthy;
      this.unhealthy = undefined;
      this.recordExit(exit, next === 'lost', unhealthy);
      if (this.rec.state.timedOut) {
        // restarting would only run into the same timeout; the retry policy (a new alloc) decides instead
        this.rec.state.failed = true;
        this.event('NotRestarting', 'a task that ran past its timeout is not restarted');
        return this.finish(last);
      }
      if (this.stopRequested) return this.finish(last);
      if (this.host.endedPastBound?.(job.type === 'batch' && exitSucceeded(exit) && !unhealthy)) return this.finish(last);
      if (this.secretRestart) {
        this.secretRestart = false;
        this.rec.state.restarts++;
        this.rec.state.state = 'pending';
        if (last) await this.destroy(last);
        last = undefined;
        this.rec.handle = undefined;
        this.rec.logCursor = undefined;
        await this.host.changed().saved;
        next = 'fresh';
        continue;
      }

      // killed for failing a check is a failure however the task took the signal (a clean exit 0 included)
      const outcome = unhealthy ? { ...exit, error: unhealthy } : exit;
      const d = decideRestart(job.restart, job.type, outcome, this.rec.restartTimes, Date.now());
      if (!d.restart) {
        this.rec.state.failed = !(job.type === 'batch' && exitSucceeded(outcome));
        if (this.rec.state.failed) this.event('NotRestarting', d.reason);
        return this.finish(last);
      }
      this.event('Restarting', `${d.reason}; restarting in ${formatDuration(d.delayMs)}`);
      this.rec.state.restarts++;
      this.rec.restartTimes.push(Date.now());
      if (this.rec.restartTimes.length > MAX_RESTART_TIMES) this.rec.restartTimes.splice(0, this.rec.restartTimes.length - MAX_RESTART_TIMES);
      this.rec.state.state = 'pending';
      this.rec.cpuNanosBefore = this.rec.state.cpuNanos;
      if (last) await this.destroy(last);
      last = undefined;
      this.rec.handle = undefined;
      this.rec.logCursor = undefined;
      await this.host.changed().saved;
      await sleep(d.delayMs, AbortSignal.any([ctx.signal, this.wake.signal]));
      next = 'fresh';
    }
  }

  private async startTask(): Promise<{ running: RunningTask } | { error: string }> {
    const driver = this.host.ctx.drivers.get(this.spec.driver);
    if (!driver) return { error: `the ${this.spec.driver} driver is not available on this node` };
    let config: TaskConfig;
    let running: RunningTask;
    try {
      config = this.config(await this.network());
      await mkdir(config.taskDir, { recursive: true });
      await this.writePayload(config.taskDir);
      await this.prepareSecrets(config);
      running = await driver.start(config);
    } catch (err) {
      return { error: errorMessage(err) };
    }
    this.rec.handle = running.handle;
    this.rec.logCursor = undefined;
    this.rec.destroyed = false;
    this.host.ctx.taskStarted?.();
    // the handle is saved before anything else can fail (it is what prevents a duplicate after a
    // crash), in the same write as the running state: marking it started cannot fail
    this.markStarted(`started ${running.handle.driver} task ${running.handle.id.slice(0, 12)}`);
    await this.host.changed().saved;
    return { running };
  }

  /** the task's secrets as files (and env vars) before a start; a missing one fails the start with how to fix it */
  private async prepareSecrets(config: TaskConfig): Promise<void> {
    const refs = this.spec.secrets ?? [];
    if (refs.length === 0 || !this.host.secrets) return;
    const values = pickSecrets(config.namespace, refs, await this.host.secrets());
    const dir = await ensureSecretsDir(config.taskDir, this.log());
    await writeSecrets(dir, values);
    const s = secretsForStart(dir, refs, values, this.spec.driver === 'docker');
    const inTask = this.host.ctx.drivers.get(this.spec.driver)?.taskDirInTask ?? config.taskDir;
    config.env = { ...config.env, BATON_SECRETS_DIR: join(inTask, SECRETS_DIR), ...s.env };
    if (s.volumes.length > 0) config.volumes = [...(config.volumes ?? []), ...s.volumes];
  }

  /**
   * Secrets it uses have a new version: restart, or rewrite the files and
   * signal, or rewrite them only, by the task's change_mode. Never logs values.
   */
  async secretsChanged(names: Set<string>): Promise<void> {
    const refs = (this.spec.secrets ?? []).filter((r) => names.has(r.name));
    const running = this.running;
    if (refs.length === 0 || this.dead || this.stopRequested || !running || !this.host.secrets) return;
    const what = refs.map((r) => r.name).join(', ');
    if (refs.some((r) => r.changeMode === 'restart')) {
      this.event('Restarting', `secret ${what} changed (change_mode restart)`);
      this.secretRestart = true;
      await this.kill(running);
      return;
    }
    try {
      const alloc = this.host.agentAlloc.alloc;
      const values = pickSecrets(alloc.namespace, this.spec.secrets ?? [], await this.host.secrets());
      await writeSecrets(join(this.host.ctx.store.taskDir(alloc.id, this.spec.name), SECRETS_DIR), values);
    } catch (err) {
      this.event('SecretsNotUpdated', `secret ${what} changed but its files were not rewritten: ${errorMessage(err)}`);
      void this.host.changed();
      return;
    }
    const signal = refs.find((r) => r.changeMode === 'signal')?.changeSignal;
    if (signal && running.signal) {
      await running.signal(signal);
      this.event('Signaled', `secret ${what} changed: files rewritten, sent ${signal}`);
    } else {
      this.event('SecretsUpdated', `secret ${what} changed: files rewritten${signal ? ` (the ${this.spec.driver} driver cannot send ${signal})` : ''}`);
    }
    void this.host.changed();
  }

  /** rewritten before every start: a restart gets the payload as dispatched, not as a previous run left it */
  private async writePayload(taskDir: string): Promise<void> {
    const payload = this.host.agentAlloc.payload;
    if (payload === undefined) return;
    // the task may have put a link in its place since the last run: never written through
    await writeTaskFile(taskDir, PAYLOAD_FILE, Buffer.from(payload, 'base64'), { mode: 0o644 });
  }

  private markStarted(message: string): void {
    const s = this.rec.state;
    s.memoryLimit = this.resources().memory;
    s.state = 'running';
    s.startedAt = new Date().toISOString();
    s.finishedAt = undefined;
    this.exitedAt = undefined;
    const checks = this.spec.checks ?? [];
    if (checks.length > 0) {
      // every run earns its health anew
      s.health = 'starting';
      s.checks = initialChecks(checks);
    }
    this.event('Started', message);
  }

  /** undefined when the agent closed before the task ended */
  private async supervise(running: RunningTask): Promise<ExitResult | undefined> {
    const { ctx } = this.host;
    this.running = running;
    if (this.stopRequested) void this.kill(running);
    const shipper = new LogShipper({
      allocId: this.host.agentAlloc.alloc.id,
      task: this.spec.name,
      source: running.logs(this.rec.logCursor),
      ship: async (chunks) => {
        // a restarted agent re-attaches before it has reached the server: its logs wait for the connection
        if (ctx.connected) await ctx.connected;
        return ctx.client.shipLogs(chunks);
      },
      saveCursor: async (cursor) => {
        this.rec.logCursor = cursor;
        await this.host.save();
      },
      signal: ctx.signal,
      logger: ctx.logger,
    });
    const shipping = shipper.run();
    const poller = new UsagePoller(running, (u) => this.noteUsage(u), ctx.usagePollMs);
    poller.start();
    const timer = this.armTimeout(running);
    const checker = this.startChecks(running);
    let exit: ExitResult | undefined;
    try {
      exit = await unlessAborted(running.wait(), ctx.signal);
    } catch (err) {
      exit = { exitCode: -1, oomKilled: false, error: `lost track of the task: ${errorMessage(err)}` };
    } finally {
      timer.cancel();
      // not awaited: a probe in flight may take its whole timeout, and its result is dropped anyway
      void checker?.stop();
      if (this.checker === checker) this.checker = undefined;
      await poller.stop();
      this.current = undefined;
      this.lastCpu = undefined;
    }
    if (exit === undefined) return undefined;
    // the dead state is only reported once the server has every byte of output
    if ((await unlessAborted(shipping, ctx.signal)) === undefined) return undefined;
    this.running = undefined;
    return exit;
  }

  /** health checks for this run; a re-attached task goes on from the statuses it had */
  private startChecks(running: RunningTask): HealthChecker | undefined {
    const checks = this.spec.checks ?? [];
    if (checks.length === 0 || this.stopRequested) return undefined;
    const s = this.rec.state;
    const checker = new HealthChecker({
      checks,
      task: running,
      startedAt: Date.parse(s.startedAt ?? '') || Date.now(),
      initial: s.checks,
      onChange: (statuses, health) => {
        s.checks = structuredClone(statuses);
        s.health = health;
        void this.host.changed();
      },
      onFailing: (check, status) => this.checkFailing(running, check.name, check.restartOnUnhealthy, status.output),
    });
    // the statuses as the checker sees them from the start: fresh, or those kept over a re-attach
    s.checks = structuredClone(checker.statuses);
    s.health = checker.health;
    this.checker = checker;
    checker.start();
    return checker;
  }

  private checkFailing(running: RunningTask, name: string, restart: boolean, output: string): void {
    if (this.stopRequested || this.unhealthy !== undefined || this.rec.state.timedOut) return;
    const why = `check ${name} failing${output ? `: ${output}` : ''}`;
    this.event('Unhealthy', why);
    if (!restart) {
      void this.host.changed();
      return;
    }
    this.unhealthy = why;
    // kill() reports; the run loop then restarts the task by the restart policy
    void this.checker?.stop();
    void this.kill(running);
  }

  /**
   * Stops the task once it has run for spec.timeoutMs, counted from its start
   * (so a re-attached task keeps the time it already ran).
   */
  private armTimeout(running: RunningTask): { cancel(): void } {
    const timeoutMs = this.spec.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const cancel = (): void => clearTimeout(timer);
    if (timeoutMs === undefined || timeoutMs <= 0) return { cancel };
    const started = Date.parse(this.rec.state.startedAt ?? '') || Date.now();
    const arm = (): void => {
      const left = started + timeoutMs - Date.now();
      if (left <= 0) return this.timeOut(running, timeoutMs);
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
    return { cancel };
  }

  private timeOut(running: RunningTask, timeoutMs: number): void {
    if (this.stopRequested) return;
    void this.checker?.stop();
    // already set when an agent died while killing it: kill again, but say it once
    if (!this.rec.state.timedOut) {
      this.rec.state.timedOut = true;
      this.event('TimedOut', `ran past its timeout of ${formatDuration(timeoutMs)}`);
    }
    void this.kill(running);
  }

  /** what the task uses now, while it runs */
  currentUsage(): { cpu: number; memory: number } | undefined {
    return this.running ? this.current : undefined;
  }

  private noteUsage(u: TaskUsage): void {
    const sample = { at: Date.now(), cpuNanos: u.cpuNanos };
    const cpu = cpuMillicores(this.lastCpu, sample);
    this.lastCpu = sample;
    this.current = { cpu: cpu ?? this.current?.cpu ?? 0, memory: u.memory };
    const s = this.rec.state;
    if (u.peakMemory > 0) s.peakMemory = Math.max(s.peakMemory ?? 0, u.peakMemory);
    // the driver counts from the start of this run; earlier runs of the task are added on.
    // cpu time only grows: a sample that sees less (a process just left) must not lower it
    s.cpuNanos = Math.max(s.cpuNanos ?? 0, (this.rec.cpuNanosBefore ?? 0) + u.cpuNanos);
  }

  private recordExit(exit: ExitResult, lost: boolean, unhealthy?: string): void {
    const s = this.rec.state;
    // an adopted run's start was only noted at the adoption: one that had ended by then began no later
    const end = Date.parse(exit.finishedAt ?? '');
    if (this.adoptedRun && Number.isFinite(end) && end < Date.parse(s.startedAt ?? '')) s.startedAt = new Date(end).toISOString();
    this.adoptedRun = false;
    this.exitedAt = exitTime(exit.finishedAt, s.startedAt);
    s.exitCode = exit.exitCode >= 0 ? exit.exitCode : undefined;
    s.signal = exit.signal;
    s.oomKilled = exit.oomKilled;
    if (exit.peakMemory !== undefined) s.peakMemory = Math.max(s.peakMemory ?? 0, exit.peakMemory);
    if (exit.cpuNanos !== undefined) s.cpuNanos = Math.max(s.cpuNanos ?? 0, (this.rec.cpuNanosBefore ?? 0) + exit.cpuNanos);
    if (this.stopRequested && !s.timedOut) {
      this.event('Killed', exit.signal ? `task killed (${exit.signal})` : 'task killed');
    } else if (exit.oomKilled) {
      const limit = s.memoryLimit ?? this.resources().memory;
      const peak = s.peakMemory !== undefined ? `, peak ${formatBytes(s.peakMemory)}` : '';
      this.event('OOMKilled', `memory limit ${formatBytes(limit)} reached${peak}`);
    } else if (s.timedOut) {
      this.event('Killed', `task killed after its timeout${exit.signal ? ` (${exit.signal})` : ''}`);
    } else if (unhealthy) {
      this.event('Killed', `task killed as unhealthy${exit.signal ? ` (${exit.signal})` : ''}`);
    } else if (exit.error && !lost) {
      this.event('DriverFailure', exit.error);
    } else if (!lost) {
      this.event('Terminated', `exit code ${exit.exitCode}${exit.signal ? `, signal ${exit.signal}` : ''}`);
    }
  }

  /** the task is over for good: report it, and once the server knows, free what the driver holds */
  private async finish(last: RunningTask | undefined): Promise<void> {
    const s = this.rec.state;
    s.state = 'dead';
    s.finishedAt = this.exitedAt ?? new Date().toISOString();
    // killed on purpose (by the server, or because a sibling failed) is not a failure of this task;
    // one that had already run past its timeout stays failed
    if (this.stopRequested && !s.timedOut) s.failed = false;
    const { acked } = this.host.changed();
    if ((await unlessAborted(acked, this.host.ctx.signal)) === undefined && this.host.ctx.signal.aborted) return;
    if (last) await this.destroy(last);
    // over for good: its secrets' tmpfs goes now, not when the alloc dir is collected
    if (this.spec.secrets?.length) await releaseSecrets(this.host.ctx.store.taskDir(this.host.agentAlloc.alloc.id, this.spec.name)).catch(() => undefined);
    this.rec.destroyed = true;
    await this.host.save();
  }

  /** a task known dead whose resources may not have been freed before the agent stopped */
  private async cleanupDead(): Promise<void> {
    if (this.rec.destroyed || !this.rec.handle) return;
    const start = await this.attach();
    if (typeof start === 'object') await this.destroy(start.attached);
    this.rec.destroyed = true;
    await this.host.save();
  }

  private async kill(running: RunningTask): Promise<void> {
    const killTimeoutMs = this.killTimeoutOverrideMs ?? this.spec.killTimeoutMs;
    this.event('Killing', `sending ${this.spec.killSignal}, SIGKILL after ${formatDuration(killTimeoutMs)}`);
    void this.host.changed();
    try {
      await running.stop(killTimeoutMs, this.spec.killSignal);
    } catch (err) {
      this.log().warn({ err: errorMessage(err) }, 'stopping the task failed');
    }
  }

  private async destroy(running: RunningTask): Promise<void> {
    try {
      await running.destroy();
    } catch (err) {
      this.log().warn({ err: errorMessage(err) }, 'freeing the task failed');
    }
  }
}

/** the driver's time of an exit, kept within [the run's start, now]; now when the driver does not know */
function exitTime(finishedAt: string | undefined, startedAt: string | undefined): string {
  const now = Date.now();
  const t = Date.parse(finishedAt ?? '');
  if (!Number.isFinite(t) || t > now) return new Date(now).toISOString();
  const start = Date.parse(startedAt ?? '');
  return new Date(Number.isFinite(start) ? Math.max(t, start) : t).toISOString();
}
