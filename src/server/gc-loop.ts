/**
 * Garbage collection: what finished longer ago than the retention leaves the
 * hot tables, so no query a busy cluster runs all the time grows with its
 * history. Runs every few minutes and on `baton system gc`; one collection at
 * a time (a forced one waits for the one in progress, then runs).
 */
import type { Logger } from 'pino';
import type { GcResponse } from '../api/types.js';
import type { Store } from '../store/store.js';

export interface GcOptions {
  /** finished evals, replaced allocs and ended jobs older than this go (ms) */
  retentionMs: number;
  /** sweeps whose runs all ended longer ago than this go, results and logs with them (ms) */
  sweepRetentionMs: number;
  intervalMs: number;
}

export const DEFAULT_GC: GcOptions = { retentionMs: 24 * 3600_000, sweepRetentionMs: 7 * 24 * 3600_000, intervalMs: 5 * 60_000 };

export class GcLoop {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly opts: GcOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    // soon after start too: a server that was down for a week has a week to catch up on
    this.first = setTimeout(() => void this.tick(), Math.min(this.opts.intervalMs, 30_000));
    this.first.unref();
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    // the first tick too: it must not reach a store that is closed by then
    clearTimeout(this.first);
    clearInterval(this.timer);
  }

  /** one collection now; `olderThanMs` replaces both retentions (0: everything finished) */
  collect(olderThanMs?: number): Promise<GcResponse> {
    const next = this.running.catch(() => undefined).then(() => this.run(olderThanMs));
    this.running = next;
    return next;
  }

  private async tick(): Promise<void> {
    try {
      const r = await this.collect();
      const removed = r.jobs + r.runs + r.allocs + r.evals + r.deployments;
      if (removed > 0) this.logger.info({ ...r }, 'garbage collected');
    } catch (err) {
      this.logger.error({ err }, 'garbage collection failed');
    }
  }

  private async run(olderThanMs: number | undefined): Promise<GcResponse> {
    const t0 = Date.now();
    const before = t0 - (olderThanMs ?? this.opts.retentionMs);
    const sweepsBefore = t0 - (olderThanMs ?? this.opts.sweepRetentionMs);
    // stops of big sweeps that a crash cut short are finished first, so their runs count as ended
    await this.store.finishStops(t0);
    const r = await this.store.collectGarbage(before, sweepsBefore);
    return { before: new Date(before).toISOString(), ...r, durationMs: Date.now() - t0 };
  }
}

const loops = new WeakMap<object, GcLoop>();

/** the one loop of a store, for the route that forces a collection */
export function gcLoopFor(store: Store): GcLoop | undefined {
  return loops.get(store);
}

export function registerGcLoop(store: Store, loop: GcLoop): void {
  loops.set(store, loop);
}
