/**
 * Runs one task of an alloc through its driver for as long as the alloc
 * lives: start (or re-attach after an agent restart), ship its logs, wait for
 * its exit, restart it by policy, and keep its TaskState and events current.
 * The handle is persisted before anything else happens, so a crash at any
 * point leaves enough on disk to find the task again.
 */
import { mkdir } from 'node:fs/promises';
import type { AgentAlloc, TaskSpec } from '../api/types.js';
import type { ExitResult, RunningTask, TaskConfig } from '../drivers/driver.js';
import { formatBytes, formatDuration } from '../spec/units.js';
import { errorMessage, sleep } from './backoff.js';
import { unlessAborted, type AgentContext } from './context.js';
import { LogShipper } from './log-shipper.js';
import { decideRestart, exitSucceeded } from './restart-policy.js';
import type { PersistedTask } from './state-file.js';

const MAX_EVENTS = 50;
const MAX_RESTART_TIMES = 100;
export const LOST_MESSAGE = 'task lost while the agent was down';

export interface TaskHost {
  readonly ctx: AgentContext;
  readonly agentAlloc: AgentAlloc;
  /** the node the alloc's tasks belong to */
  readonly nodeId: string;
  /** the task's state changed: persist it and report the alloc's status */
  changed(): { saved: Promise<void>; acked: Promise<void> };
  /** persist without reporting (handle, log cursor) */
  save(): Promise<void>;
}

type Start = 'fresh' | 'lost' | { attached: RunningTask };

export class TaskRunner {
  private begun = false;
  private loop: Promise<void> | undefined;
  private running: RunningTask | undefined;
  private stopRequested = false;
  private loopActive = false;
  /** aborted by stop(), to cut a restart delay short */
  private readonly wake = new AbortController();

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

  /** Stop on purpose: the task ends as not failed. */
  stop(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.wake.abort();
    if (this.running) void this.kill(this.running);
    if (!this.begun && !this.dead) {
      this.begun = true;
      this.loop = this.track(this.finish(undefined));
    }
  }

  config(): TaskConfig {
    const { alloc, job } = this.host.agentAlloc;
    const taskDir = this.host.ctx.store.taskDir(alloc.id, this.spec.name);
    return {
      nodeId: this.host.nodeId,
      allocId: alloc.id,
      allocName: alloc.name,
      allocIndex: alloc.index,
      namespace: alloc.namespace ?? job.namespace,
      jobId: alloc.jobId ?? job.name,
      taskName: this.spec.name,
      image: this.spec.image,
      command: this.spec.command,
      args: this.spec.args ?? [],
      env: {
        ...(this.spec.env ?? {}),
        BATON_ALLOC_ID: alloc.id,
        BATON_ALLOC_NAME: alloc.name,
        BATON_ALLOC_INDEX: String(alloc.index),
        BATON_JOB_ID: alloc.jobId ?? job.name,
        BATON_NAMESPACE: alloc.namespace ?? job.namespace,
        BATON_TASK_NAME: this.spec.name,
        BATON_TASK_DIR: taskDir,
        BATON_NODE_ID: this.host.nodeId,
      },
      resources: this.spec.resources,
      killSignal: this.spec.killSignal,
      killTimeoutMs: this.spec.killTimeoutMs,
      taskDir,
    };
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

      this.recordExit(exit, next === 'lost');
      if (this.stopRequested) return this.finish(last);

      const d = decideRestart(job.restart, job.type, exit, this.rec.restartTimes, Date.now());
      if (!d.restart) {
        this.rec.state.failed = !(job.type === 'batch' && exitSucceeded(exit));
        if (this.rec.state.failed) this.event('NotRestarting', d.reason);
        return this.finish(last);
      }
      this.event('Restarting', `${d.reason}; restarting in ${formatDuration(d.delayMs)}`);
      this.rec.state.restarts++;
      this.rec.restartTimes.push(Date.now());
      if (this.rec.restartTimes.length > MAX_RESTART_TIMES) this.rec.restartTimes.splice(0, this.rec.restartTimes.length - MAX_RESTART_TIMES);
      this.rec.state.state = 'pending';
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
    const config = this.config();
    let running: RunningTask;
    try {
      await mkdir(config.taskDir, { recursive: true });
      running = await driver.start(config);
    } catch (err) {
      return { error: errorMessage(err) };
    }
    this.rec.handle = running.handle;
    this.rec.logCursor = undefined;
    this.rec.destroyed = false;
    // the handle first, before anything else can fail: it is what prevents a duplicate after a crash
    await this.host.save();
    this.markStarted(`started ${running.handle.driver} task ${running.handle.id.slice(0, 12)}`);
    void this.host.changed();
    return { running };
  }

  private markStarted(message: string): void {
    const s = this.rec.state;
    s.state = 'running';
    s.startedAt = new Date().toISOString();
    s.finishedAt = undefined;
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
      ship: (chunks) => ctx.client.shipLogs(chunks),
      saveCursor: async (cursor) => {
        this.rec.logCursor = cursor;
        await this.host.save();
      },
      signal: ctx.signal,
      logger: ctx.logger,
    });
    const shipping = shipper.run();
    let exit: ExitResult | undefined;
    try {
      exit = await unlessAborted(running.wait(), ctx.signal);
    } catch (err) {
      exit = { exitCode: -1, oomKilled: false, error: `lost track of the task: ${errorMessage(err)}` };
    }
    if (exit === undefined) return undefined;
    // the dead state is only reported once the server has every byte of output
    if ((await unlessAborted(shipping, ctx.signal)) === undefined) return undefined;
    this.running = undefined;
    return exit;
  }

  private recordExit(exit: ExitResult, lost: boolean): void {
    const s = this.rec.state;
    s.exitCode = exit.exitCode >= 0 ? exit.exitCode : undefined;
    s.signal = exit.signal;
    s.oomKilled = exit.oomKilled;
    if (exit.peakMemory !== undefined) s.peakMemory = Math.max(s.peakMemory ?? 0, exit.peakMemory);
    if (this.stopRequested) {
      this.event('Killed', exit.signal ? `task killed (${exit.signal})` : 'task killed');
    } else if (exit.oomKilled) {
      const peak = exit.peakMemory !== undefined ? `, peak ${formatBytes(exit.peakMemory)}` : '';
      this.event('OOMKilled', `memory limit ${formatBytes(this.spec.resources.memory)} reached${peak}`);
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
    s.finishedAt = new Date().toISOString();
    // killed on purpose (by the server, or because a sibling failed) is not a failure of this task
    if (this.stopRequested) s.failed = false;
    const { acked } = this.host.changed();
    if ((await unlessAborted(acked, this.host.ctx.signal)) === undefined && this.host.ctx.signal.aborted) return;
    if (last) await this.destroy(last);
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
    this.event('Killing', `sending ${this.spec.killSignal}, SIGKILL after ${formatDuration(this.spec.killTimeoutMs)}`);
    void this.host.changed();
    try {
      await running.stop(this.spec.killTimeoutMs, this.spec.killSignal);
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
