/**
 * Samples a running task's usage while it runs, because some drivers can only
 * tell the current memory and cpu (Docker on cgroup v2, exec without cgroups):
 * the peak and the cpu time a run ends with are only known if someone looked.
 */
import type { RunningTask, TaskUsage } from '../drivers/driver.js';
import { sleep } from './backoff.js';

export const USAGE_POLL_MS = 2000;

export class UsagePoller {
  private readonly done = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly running: RunningTask,
    private readonly onUsage: (u: TaskUsage) => void,
    private readonly intervalMs = USAGE_POLL_MS,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** resolves once no sample is in flight, so nothing arrives after the exit was recorded */
  async stop(): Promise<void> {
    this.done.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.done.signal.aborted) {
      try {
        const u = await this.running.usage();
        if (u && !this.done.signal.aborted) this.onUsage(u);
      } catch {
        // the driver is busy or the task just went: the next sample (or the exit) will tell
      }
      await sleep(this.intervalMs, this.done.signal);
    }
  }
}
