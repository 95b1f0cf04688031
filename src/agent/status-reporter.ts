/**
 * Sends alloc status to the server. Updates are coalesced per alloc (only the
 * latest matters), sent in batches, and retried until the server takes them,
 * so a burst of task events is one request and a server outage loses nothing
 * but intermediate states.
 */
import type { Logger } from 'pino';
import type { AllocStatusUpdate } from '../api/types.js';
import { Backoff, errorMessage, isTransient, sleep } from './backoff.js';

export interface StatusReporterOptions {
  send: (updates: AllocStatusUpdate[]) => Promise<unknown>;
  logger: Logger;
  signal: AbortSignal;
  /** wait this long for more updates before sending, to batch a burst */
  coalesceMs?: number;
  maxBatch?: number;
  backoff?: Backoff;
}

interface Pending {
  update: AllocStatusUpdate;
  waiters: Array<() => void>;
}

export class StatusReporter {
  private pending = new Map<string, Pending>();
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly coalesceMs: number;
  private readonly maxBatch: number;
  private readonly backoff: Backoff;

  constructor(private readonly opts: StatusReporterOptions) {
    this.coalesceMs = opts.coalesceMs ?? 20;
    this.maxBatch = opts.maxBatch ?? 50;
    this.backoff = opts.backoff ?? new Backoff(250, 10_000);
    opts.signal.addEventListener('abort', () => clearTimeout(this.timer), { once: true });
  }

  /**
   * Queue the alloc's latest state. Resolves once the server acknowledged this
   * update or a later one of the same alloc, or refused it for good (4xx).
   * Never resolves after the agent closed.
   */
  report(update: AllocStatusUpdate): Promise<void> {
    return new Promise((resolve) => {
      const p = this.pending.get(update.allocId);
      if (p) {
        p.update = update;
        p.waiters.push(resolve);
      } else {
        this.pending.set(update.allocId, { update, waiters: [resolve] });
      }
      this.schedule();
    });
  }

  /** allocs with an update not yet acknowledged */
  get backlog(): number {
    return this.pending.size;
  }

  private schedule(): void {
    if (this.running || this.timer || this.opts.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.coalesceMs);
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.size > 0 && !this.opts.signal.aborted) {
        const batch = [...this.pending.values()].slice(0, this.maxBatch);
        for (const p of batch) this.pending.delete(p.update.allocId);
        const ok = await this.sendBatch(batch);
        if (!ok) {
          // put them back unless a newer update for the same alloc arrived meanwhile
          for (const p of batch) {
            const newer = this.pending.get(p.update.allocId);
            if (newer) newer.waiters.push(...p.waiters);
            else this.pending.set(p.update.allocId, p);
          }
          if (!(await sleep(this.backoff.next(), this.opts.signal))) return;
        } else {
          this.backoff.reset();
          // what came in while that batch was out waits its own coalescing time unless it fills a batch:
          // sent at once, a busy node sent a request of a few updates after every answer, and each
          // request is a transaction on the server
          if (this.pending.size < this.maxBatch) break;
        }
      }
    } finally {
      this.running = false;
    }
    if (this.pending.size > 0) this.schedule();
  }

  /** true when the batch is done with (sent, or refused for good); false to retry later */
  private async sendBatch(batch: Pending[]): Promise<boolean> {
    try {
      await this.opts.send(batch.map((p) => p.update));
      for (const p of batch) for (const w of p.waiters) w();
      return true;
    } catch (err) {
      if (isTransient(err) || (err as { status?: number }).status === 401) {
        this.opts.logger.warn({ err: errorMessage(err), allocs: batch.length }, 'cannot report alloc status yet; will retry');
        return false;
      }
      if (batch.length > 1) {
        // one bad update must not sink the others: find it by sending them one by one
        for (const p of batch) {
          if (!(await this.sendBatch([p]))) {
            const newer = this.pending.get(p.update.allocId);
            if (newer) newer.waiters.push(...p.waiters);
            else this.pending.set(p.update.allocId, p);
          }
        }
        return true;
      }
      this.opts.logger.error({ err: errorMessage(err), allocId: batch[0].update.allocId }, 'the server refused an alloc status update; dropping it');
      for (const w of batch[0].waiters) w();
      return true;
    }
  }
}
