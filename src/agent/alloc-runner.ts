/**
 * Runs one alloc on this node: one TaskRunner per task, the alloc's client
 * status derived from their states, reported through the StatusReporter and
 * persisted (state-file.ts) after every change.
 */
import type { AgentAlloc, AllocSecretsResponse, AllocStatusUpdate, TaskState } from '../api/types.js';
import { AllocSecretsCache, changedSecrets, releaseSecrets } from './secrets.js';
import { TERMINAL_CLIENT_STATUSES } from '../api/types.js';
import type { TaskHandle } from '../drivers/driver.js';
import { computeAllocStatus } from './alloc-status.js';
import { errorMessage } from './backoff.js';
import type { AgentContext } from './context.js';
import type { AllocStateFile, PersistedTask } from './state-file.js';
import { TaskRunner, type TaskHost } from './task-runner.js';
import { disconnectDeadline, type DisconnectDeadline, type NodeBound } from '../jobs/disconnect.js';
import { formatDuration } from '../spec/units.js';

export class AllocRunner implements TaskHost {
  private readonly tasks = new Map<string, TaskRunner>();
  private saving: Promise<void> = Promise.resolve();
  private saveQueued: Promise<void> | undefined;
  private stoppingAll = false;
  private readonly secretsCache = new AllocSecretsCache(() => this.ctx.client.allocSecrets(this.id));

  private constructor(
    readonly ctx: AgentContext,
    private readonly state: AllocStateFile,
  ) {
    for (const spec of state.agentAlloc.job.tasks) {
      const rec = state.tasks[spec.name];
      if (rec) this.tasks.set(spec.name, new TaskRunner(this, spec, rec));
    }
  }

  /** a new alloc from the server */
  static create(ctx: AgentContext, agentAlloc: AgentAlloc, nodeId: string): AllocRunner {
    const now = new Date().toISOString();
    const tasks: Record<string, PersistedTask> = {};
    for (const t of agentAlloc.job.tasks) {
      const state: TaskState = {
        state: 'pending',
        failed: false,
        restarts: 0,
        events: [{ time: now, type: 'Received', message: 'alloc received by the node' }],
      };
      tasks[t.name] = { restartTimes: [], state };
    }
    return new AllocRunner(ctx, {
      version: 1,
      allocId: agentAlloc.alloc.id,
      nodeId,
      agentAlloc,
      desiredStop: agentAlloc.alloc.desiredStatus === 'stop',
      clientStatus: 'pending',
      clientDescription: 'alloc received by the node',
      tasks,
    });
  }

  /** an alloc found on disk after an agent restart */
  static restore(ctx: AgentContext, state: AllocStateFile): AllocRunner {
    return new AllocRunner(ctx, state);
  }

  get id(): string {
    return this.state.allocId;
  }

  get agentAlloc(): AgentAlloc {
    return this.state.agentAlloc;
  }

  get nodeId(): string {
    return this.state.nodeId;
  }

  get terminal(): boolean {
    return TERMINAL_CLIENT_STATUSES.includes(this.state.clientStatus);
  }

  /** every task over and freed, and the server knows: the alloc dir may go */
  get finished(): boolean {
    return [...this.tasks.values()].every((t) => t.settled) && this.state.pendingReport === undefined;
  }

  /** handles of every task this runner knows, to tell orphans from ours */
  handleIds(): string[] {
    return Object.values(this.state.tasks).flatMap((t) => (t.handle ? [t.handle.id] : []));
  }

  /** whether an orphan found by the driver may be taken up as this task */
  canAdopt(task: string): boolean {
    const rec = this.state.tasks[task];
    return rec !== undefined && rec.handle === undefined && rec.state.state === 'pending';
  }

  adopt(task: string, handle: TaskHandle): void {
    const rec = this.state.tasks[task];
    if (rec && this.canAdopt(task)) rec.handle = handle;
  }

  /** After an agent restart: re-attach to the tasks that were running, and re-send an unacknowledged status. */
  async reattach(): Promise<void> {
    await Promise.all([...this.tasks.values()].map((t) => t.reattach()));
    // the reporter retries until the server acknowledges and never rejects: nothing to wait for here
    if (this.state.pendingReport) void this.report(this.state.pendingReport);
    // the agent died while stopping it for a lost server: the stop is overdue, finish it
    if (this.state.lostReason !== undefined && !this.terminal) for (const t of this.tasks.values()) t.stop({ killTimeoutMs: 1000 });
  }

  /** start every task not yet running (adopting those given a handle) */
  start(): void {
    if (this.state.desiredStop) {
      this.stop();
      return;
    }
    for (const t of this.tasks.values()) t.start();
  }

  /** a newer view of the alloc from the server */
  update(agentAlloc: AgentAlloc): void {
    const before = this.state.agentAlloc.secretsStamp;
    if (agentAlloc.secretsStamp !== before) {
      // only the versions are kept: the values are fetched again when needed, never persisted
      this.state.agentAlloc.secretsStamp = agentAlloc.secretsStamp;
      void this.save();
      const names = changedSecrets(before, agentAlloc.secretsStamp);
      this.ctx.logger.info({ allocId: this.id, secrets: [...names] }, 'secrets of the alloc changed');
      for (const t of this.tasks.values()) {
        t.secretsChanged(names).catch((err) =>
          this.ctx.logger.warn({ allocId: this.id, task: t.name, err: errorMessage(err) }, 'acting on a secret change failed'),
        );
      }
    }
    if (agentAlloc.alloc.desiredStatus === 'stop' && !this.state.desiredStop) {
      this.ctx.logger.info({ allocId: this.id, reason: agentAlloc.alloc.desiredDescription }, 'the server asked to stop the alloc');
      this.stop();
    }
  }

  /** Stop every task on purpose; the alloc then ends as complete ("stopped by the server"). */
  stop(): void {
    // an alloc that is over keeps its outcome: a later stop must not turn "failed" into "stopped"
    if (!this.state.desiredStop && !this.terminal) {
      this.state.desiredStop = true;
      this.changed();
    }
    for (const t of this.tasks.values()) t.stop();
  }

  /** when this alloc must go while the server cannot be reached; undefined: its job keeps it running */
  disconnectDeadline(bound: NodeBound): DisconnectDeadline | undefined {
    const job = this.state.agentAlloc.job;
    const killTimeout = Math.max(0, ...job.tasks.map((t) => t.killTimeoutMs));
    return disconnectDeadline(job.disconnect, bound, killTimeout);
  }

  /** the tasks running now (a handle, not dead), for the watchdog's lease */
  liveTasks(): Array<{ taskName: string; driver: string; handle: TaskHandle; killSignal: string }> {
    return [...this.tasks.values()].flatMap((t) =>
      !t.dead && t.rec.handle ? [{ taskName: t.name, driver: t.rec.handle.driver, handle: t.rec.handle, killSignal: t.spec.killSignal }] : [],
    );
  }

  /** already stopped (or stopping) because the agent lost the server */
  get stoppedForDisconnect(): boolean {
    return this.state.lostReason !== undefined;
  }

  /**
   * The agent lost the server for longer than it may run this alloc: stop its
   * tasks, SIGKILL after `killTimeoutMs` at the latest, and end it as lost, so
   * the server places it again (a copy running while its replacement runs
   * would be two at once). A local restart never brings it back.
   */
  stopForDisconnect(reason: string, killTimeoutMs: number): void {
    if (this.terminal || this.state.lostReason !== undefined) return;
    this.state.lostReason = reason;
    this.state.lostAt = new Date().toISOString();
    this.changed();
    for (const t of this.tasks.values()) t.stop({ killTimeoutMs });
  }

  /**
   * A task ended, not by a stop of this agent, while the node was past this
   * alloc's bound without the server: the node's watchdog stopped it while a
   * restarted agent was taking over, or it ended as it was due to be stopped.
   * Either way the server may place it again, so it is lost (not failed) and
   * not restarted here. A batch run that succeeded keeps its result.
   */
  endedPastBound(succeeded: boolean): boolean {
    if (this.state.lostReason !== undefined) return true;
    const dc = this.ctx.disconnect;
    if (succeeded || !dc || this.terminal) return false;
    const d = this.disconnectDeadline(dc.bound());
    const silent = dc.silentMs();
    if (!d || silent < d.stopAfterMs) return false;
    this.state.lostReason = `its node had not reached the server for ${formatDuration(silent)}, past the bound it may run without it (it ended then)`;
    this.state.lostAt = new Date().toISOString();
    for (const t of this.tasks.values()) if (!t.dead) t.stop({ killTimeoutMs: Math.max(0, d.killAfterMs - silent) });
    return true;
  }

  /** task name → current use, for the running tasks */
  usage(): Record<string, { cpu: number; memory: number }> {
    const out: Record<string, { cpu: number; memory: number }> = {};
    for (const [name, t] of this.tasks) {
      const u = t.currentUsage();
      if (u) out[name] = u;
    }
    return out;
  }

  whenDone(): Promise<void> {
    return Promise.all([...this.tasks.values()].map((t) => t.whenDone())).then(() => undefined);
  }

  async remove(): Promise<void> {
    await this.saving;
    // the tmpfs goes first: removing the dir over a mount point would fail
    for (const t of this.tasks.values()) await releaseSecrets(this.ctx.store.taskDir(this.id, t.name)).catch(() => undefined);
    await this.ctx.store.remove(this.id);
  }

  // ------------------------------------------------------------ TaskHost

  secrets(): Promise<AllocSecretsResponse> {
    return this.secretsCache.get(this.state.agentAlloc.secretsStamp);
  }

  changed(): { saved: Promise<void>; acked: Promise<void> } {
    const update = this.refreshStatus();
    const saved = this.save();
    const acked = this.report(update);
    // a task failed for good: the alloc cannot succeed, so its other tasks go too
    if (!this.stoppingAll && Object.values(this.state.tasks).some((t) => t.state.state === 'dead' && t.state.failed)) {
      this.stoppingAll = true;
      for (const t of this.tasks.values()) if (!t.dead) t.stop();
    }
    return { saved, acked };
  }

  /** Coalesced: a save asked while one is queued joins it (it writes the state as it is then). */
  save(): Promise<void> {
    if (this.saveQueued) return this.saveQueued;
    const p = this.saving.then(async () => {
      this.saveQueued = undefined;
      try {
        await this.ctx.store.write(this.state);
      } catch (err) {
        this.ctx.logger.error({ allocId: this.id, err: errorMessage(err) }, 'cannot write the alloc state file');
      }
    });
    this.saveQueued = p;
    this.saving = p;
    return p;
  }

  private refreshStatus(): AllocStatusUpdate {
    const taskStates: Record<string, TaskState> = {};
    const memoryLimits: Record<string, number> = {};
    const timeoutsMs: Record<string, number> = {};
    const { alloc, job } = this.state.agentAlloc;
    for (const spec of job.tasks) {
      const rec = this.state.tasks[spec.name];
      if (!rec) continue;
      taskStates[spec.name] = rec.state;
      // the limit it ran under (recorded at start), else what it would run under
      memoryLimits[spec.name] = rec.state.memoryLimit ?? alloc.taskResources?.[spec.name]?.memory ?? spec.resources.memory;
      if (spec.timeoutMs !== undefined) timeoutsMs[spec.name] = spec.timeoutMs;
    }
    const s = computeAllocStatus({
      tasks: taskStates,
      desiredStop: this.state.desiredStop,
      lostReason: this.state.lostReason,
      lostAt: this.state.lostAt,
      batch: job.type === 'batch',
      memoryLimits,
      timeoutsMs,
    });
    this.state.clientStatus = s.clientStatus;
    this.state.clientDescription = s.clientDescription;
    // a deep copy: the runners keep mutating their states while this waits to be sent
    const update: AllocStatusUpdate = structuredClone({ allocId: this.id, ...s, taskStates });
    this.state.pendingReport = update;
    return update;
  }

  /**
   * Once the server has the update it is no longer pending; that is written
   * with the next save, not one of its own: an agent that restarts before then
   * sends it again, which the server takes as a repeat (it never moves a
   * finished alloc back), and a write per report was a third of the agent's
   * disk writes per run.
   */
  private report(update: AllocStatusUpdate): Promise<void> {
    return this.ctx.reporter.report(update).then(() => {
      if (this.state.pendingReport === update) this.state.pendingReport = undefined;
    });
  }
}
