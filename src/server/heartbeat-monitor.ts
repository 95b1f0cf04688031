/**
 * Marks nodes down when their heartbeats stop for their TTL, so their allocs
 * are rescheduled. After a server start every node gets one TTL of grace: the
 * server being away is not the nodes' fault.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

export class HeartbeatMonitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), Math.min(1_000, Math.max(100, this.ttlMs / 4)));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.store.flushHeartbeats();
      const now = Date.now();
      if (now < this.startedAt + this.ttlMs) {
        await this.store.checkDrains(now);
        return;
      }
      for (const node of await this.store.expiredNodes(now)) {
        const { lost } = await this.store.markNodeDown(node.id, now);
        this.logger.warn({ node: node.name, lost }, 'node missed its heartbeats: marked down');
      }
      await this.store.checkDrains(now);
    } catch (err) {
      this.logger.error({ err }, 'heartbeat check failed');
    } finally {
      this.busy = false;
    }
  }
}
