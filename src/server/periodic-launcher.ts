/**
 * Launches a child of each periodic job when its cron schedule comes due.
 * A launch missed while the server was down is made once on start, not once
 * per missed slot; with overlap: skip, a slot whose previous child still runs
 * is skipped.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Job } from '../api/types.js';
import { nextLaunch, periodicChildId } from '../jobs/periodic.js';
import type { Store } from '../store/store.js';

export class PeriodicLauncher {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async tick(now = Date.now()): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const job of await this.store.periodicJobs()) {
        if (job.spec.periodic && !job.stopped) await this.consider(job, now);
      }
    } catch (err) {
      this.logger.error({ err }, 'periodic launch check failed');
    } finally {
      this.busy = false;
    }
  }

  private async consider(job: Job, now: number): Promise<void> {
    const p = job.spec.periodic!;
    const key = `periodic_last:${job.namespace}/${job.id}@${job.version}`;
    const last = Number((await this.store.getMeta(key)) ?? Date.parse(job.submittedAt));
    let due = nextLaunch(p, new Date(last));
    if (!due || due.getTime() > now) return;
    // after downtime, launch the latest missed slot only
    for (let i = 0; i < 10_000; i++) {
      const next = nextLaunch(p, due);
      if (!next || next.getTime() > now) break;
      due = next;
    }
    await this.store.setMeta(key, String(due.getTime()));
    if (p.overlap === 'skip') {
      const busy = await this.store.activeRun(job.namespace, job.id);
      if (busy) {
        this.logger.info({ job: job.id, running: busy }, 'periodic launch skipped: the previous run still runs (overlap: skip)');
        return;
      }
    }
    const id = periodicChildId(job.id, due);
    await this.store.dispatchJobs(job, [{ meta: {} }], randomUUID(), now, { launch: { id, at: due.toISOString() } });
    this.logger.info({ job: job.id, child: id }, 'periodic launch');
  }
}
