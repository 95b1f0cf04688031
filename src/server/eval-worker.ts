/**
 * Takes evaluations one at a time, highest priority first, runs the pure
 * scheduler on a fresh snapshot and commits its plan. One worker in the
 * cluster, on the leader (src/server/leadership.ts): sequential plans never
 * race, and a deposed leader's plan is refused at commit (NotLeaderError).
 */
import type { Logger } from 'pino';
import { schedule } from '../scheduler/schedule.js';
import { StoreWriteError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import { metricsFor } from './metrics.js';

export class EvalWorker {
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly onChange = (): void => this.wake?.();
  /** store faults in a row: each doubles the pause before the next eval (1 s up to 30 s) */
  private faults = 0;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  start(): void {
    // a leader that lost the lease and won it back starts the worker again
    this.stopped = false;
    this.store.on('change', this.onChange);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.store.off('change', this.onChange);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // SQLite answers synchronously, so a busy worker would never let the event loop
      // take a request: between evals, heartbeats and the API go first
      await new Promise((r) => setImmediate(r));
      const now = Date.now();
      let ev;
      try {
        ev = await this.store.nextEval(now);
      } catch (err) {
        this.logger.error({ err }, 'cannot read evals');
      }
      if (!ev) {
        const due = await this.store.nextEvalDue().catch(() => undefined);
        const wait = due !== undefined && due > now ? due - now : 5_000;
        await this.sleep(Math.min(wait, 5_000));
        continue;
      }
      const metrics = metricsFor(this.store);
      // waiting starts when the eval was due: a delayed retry did not wait before its time
      const due = Math.max(Date.parse(ev.createdAt), ev.waitUntil ? Date.parse(ev.waitUntil) : 0);
      metrics.evalWait.observe(Math.max(0, now - due) / 1000);
      try {
        const snapshot = await this.store.snapshot(ev, now);
        const t0 = performance.now();
        const plan = schedule(snapshot);
        const t1 = performance.now();
        metrics.scheduling.observe((t1 - t0) / 1000);
        const r = await this.store.applyPlan(ev, plan, Date.now());
        metrics.planApply.observe((performance.now() - t1) / 1000);
        this.logger.debug({ eval: ev.id, job: ev.jobId, placed: r.placed.length, stopped: plan.stop.length, queued: plan.queuedAllocs }, 'plan applied');
        if (this.faults > 0) this.logger.info({ after: this.faults }, 'the store writes again: evaluations carry on');
        this.faults = 0;
      } catch (err) {
        // a store that cannot write (disk full) fails every eval the same way: retrying at once would
        // spin and flood the log; the eval stays pending and is taken again after a pause
        const stored =
          err instanceof StoreWriteError
            ? false
            : await this.store.failEval(ev, (err as Error).message, Date.now()).then(
                () => true,
                () => false,
              );
        if (stored) {
          this.logger.error({ err, eval: ev.id }, 'evaluation failed');
        } else {
          const pause = Math.min(30_000, 1000 * 2 ** Math.min(this.faults, 5));
          this.faults++;
          this.logger.error(
            { err: (err as Error).message, eval: ev.id, retryInMs: pause, faultsInARow: this.faults },
            'the store cannot write: evaluations paused',
          );
          await this.sleep(pause, false);
        }
      }
    }
  }

  /** a store change wakes it early unless it waits out a fault (the change may be what failed) */
  private sleep(ms: number, wakeOnChange = true): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = wakeOnChange ? done : () => this.stopped && done();
    });
  }
}
