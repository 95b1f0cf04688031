/**
 * An in-memory driver for tests of the agent (and of anything that runs an
 * agent in-process): tasks run until the test makes them exit, write logs on
 * demand, and survive an agent "restart" as long as the driver object lives.
 */
import type { Driver, ExecResult, ExitResult, Fingerprint, LogRecord, RunningTask, TaskConfig, TaskHandle, TaskUsage } from '../drivers/driver.js';

export class FakeTask implements RunningTask {
  exited: ExitResult | undefined;
  destroyed = false;
  stops: Array<{ timeoutMs: number; signal?: string }> = [];
  /** what usage() answers while the task runs; tests set it */
  usageNow: TaskUsage | undefined;
  usageCalls = 0;
  /** what exec() answers (command checks); tests change it to make a check fail */
  execResult: ExecResult = { exitCode: 0, output: 'ok' };
  execCalls: Array<{ command: string; args: string[]; timeoutMs: number }> = [];
  private waiters: Array<(e: ExitResult) => void> = [];
  private logWaiters: Array<() => void> = [];
  readonly records: LogRecord[] = [];
  constructor(
    readonly handle: TaskHandle,
    readonly config: TaskConfig,
  ) {}
  write(stream: 'stdout' | 'stderr', text: string): void {
    this.records.push({ stream, data: Buffer.from(text), cursor: String(this.records.length + 1) });
    for (const w of this.logWaiters.splice(0)) w();
  }
  exit(e: Partial<ExitResult> = {}): void {
    if (this.exited) return;
    this.exited = { exitCode: 0, oomKilled: false, ...e };
    for (const w of this.waiters.splice(0)) w(this.exited);
    for (const w of this.logWaiters.splice(0)) w();
  }
  wait(): Promise<ExitResult> {
    return this.exited ? Promise.resolve(this.exited) : new Promise((r) => this.waiters.push(r));
  }
  async stop(timeoutMs: number, signal?: string): Promise<void> {
    this.stops.push({ timeoutMs, signal });
    this.exit({ exitCode: 143, signal: signal ?? 'SIGTERM' });
  }
  async *logs(cursor?: string): AsyncIterable<LogRecord> {
    let i = cursor ? Number(cursor) : 0;
    for (;;) {
      while (i < this.records.length) yield this.records[i++];
      if (this.exited) return;
      await new Promise<void>((r) => this.logWaiters.push(r));
    }
  }
  async usage(): Promise<TaskUsage | undefined> {
    this.usageCalls++;
    return this.exited ? undefined : this.usageNow;
  }
  async destroy(): Promise<void> {
    this.destroyed = true;
  }
  async address(): Promise<string | undefined> {
    return this.exited ? undefined : '127.0.0.1';
  }
  async exec(command: string, args: string[], timeoutMs: number): Promise<ExecResult> {
    this.execCalls.push({ command, args, timeoutMs });
    if (this.exited) throw new Error('task is not running');
    return { ...this.execResult };
  }
}

export class FakeDriver implements Driver {
  constructor(
    readonly name = 'exec',
    /** set to play a container driver that mounts the task dir elsewhere */
    readonly taskDirInTask?: string,
  ) {}
  readonly tasks = new Map<string, FakeTask>();
  starts: FakeTask[] = [];
  failStart: string | undefined;
  async fingerprint(): Promise<Fingerprint> {
    return { healthy: true, detail: 'fake', attributes: { 'driver.fake': '1' } };
  }
  async start(config: TaskConfig): Promise<RunningTask> {
    if (this.failStart) throw new Error(this.failStart);
    const t = new FakeTask({ driver: this.name, id: `pid-${this.starts.length + 1}`, data: {} }, config);
    this.starts.push(t);
    this.tasks.set(t.handle.id, t);
    return t;
  }
  async attach(handle: TaskHandle): Promise<RunningTask | undefined> {
    const t = this.tasks.get(handle.id);
    return t && !t.destroyed ? t : undefined;
  }
  /** a run of this alloc/task not destroyed yet, as the real drivers find it by its task dir or container name */
  async recover(config: TaskConfig): Promise<RunningTask | undefined> {
    return [...this.tasks.values()].find((t) => !t.destroyed && t.config.allocId === config.allocId && t.config.taskName === config.taskName);
  }
  async list(nodeId: string): Promise<Array<{ allocId: string; taskName: string; handle: TaskHandle; running: boolean }>> {
    return [...this.tasks.values()]
      .filter((t) => !t.destroyed && t.config.nodeId === nodeId)
      .map((t) => ({ allocId: t.config.allocId, taskName: t.config.taskName, handle: t.handle, running: !t.exited }));
  }
  last(): FakeTask {
    return this.starts[this.starts.length - 1];
  }
}
