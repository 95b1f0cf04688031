/**
 * Which server leads: the one holding the leader lease in the store
 * (src/store/postgres/leader-lease.ts; on SQLite the one server always
 * does). Only the leader schedules, marks silent nodes down, drains and
 * launches periodic jobs; every server answers the API.
 *
 * The lease is renewed every fifth of its TTL. A follower claims it when it
 * lapses (timed by the database's clock it read with the lease) and when the
 * leader gives it up (a notice). A leader that cannot renew
 * (the database is gone or cut off) steps down before its lease can lapse,
 * by its own clock, counted from when it sent its last successful renewal:
 * the lease lapses no earlier than that plus the TTL in the database's
 * time. And whatever it still has in flight cannot commit: leader writes
 * are fenced by the lease's epoch in their own transaction.
 */
import type { Logger } from 'pino';
import type { LeaseState, ServerPresence } from '../store/backend.js';
import type { Store } from '../store/store.js';

/**
 * 4 s: a crashed leader's lease lapses at most this long after its last
 * renewal, and a follower claims it at that moment (not at its next renewal),
 * so another server leads within about 4 s of a crash; a clean stop hands it
 * over at once.
 */
export const DEFAULT_LEADER_TTL_MS = 4_000;

export interface LeadershipOptions {
  serverId: string;
  url: string;
  version: string;
  /** how long the lease holds without renewal; another server takes over within about this after the leader dies */
  ttlMs?: number;
  logger: Logger;
}

export interface LeaderHooks {
  /** this server leads now, under `epoch` */
  gained(epoch: number): Promise<void>;
  /** it does not any more */
  lost(why: string): Promise<void>;
}

/** a renewal that takes longer than the lease is no renewal: the next tick tries again on another connection */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} got no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class Leadership {
  private timer: NodeJS.Timeout | undefined;
  private leadingEpoch: number | undefined;
  private lastRenewSentAt = 0;
  private lastState: LeaseState | undefined;
  private readonly startedAt = Date.now();
  private readonly ttlMs: number;
  /** transitions one at a time: a loss must not overtake the gain it undoes */
  private transition: Promise<void> = Promise.resolve();
  private busy = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly hooks: LeaderHooks,
    private readonly opts: LeadershipOptions,
  ) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEADER_TTL_MS;
  }

  get serverId(): string {
    return this.opts.serverId;
  }

  get leading(): boolean {
    return this.leadingEpoch !== undefined;
  }

  /** the lease as last read (who leads, since when) */
  get lease(): LeaseState | undefined {
    return this.lastState;
  }

  private lapse: NodeJS.Timeout | undefined;
  private readonly onReleased = (): void => void this.tick();

  async start(): Promise<void> {
    this.store.on('leaderReleased', this.onReleased);
    await this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.ttlMs / 5)));
    this.timer.unref();
  }

  /** a clean stop: gives the lease up so another server takes over at once */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.lapse);
    this.store.off('leaderReleased', this.onReleased);
    const was = this.leading;
    this.setLeading(undefined, 'the server is stopping');
    await this.transition;
    if (was) await this.store.lease.release(this.opts.serverId).catch(() => undefined);
  }

  async servers(): Promise<ServerPresence[]> {
    // seen within three renewals: a server that stopped announcing drops out of the list soon
    return this.store.lease.servers(Math.max(3 * this.ttlMs, 15_000));
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const sentAt = Date.now();
    // by its own clock, a leader that could not renew steps down a fifth of the TTL before the lease can lapse;
    // checked before anything waits on the database, which may not answer at all (a partition)
    if (this.leading && sentAt - this.lastRenewSentAt > this.ttlMs * 0.8) {
      this.setLeading(undefined, `the leader lease could not be renewed for ${sentAt - this.lastRenewSentAt} ms`);
    }
    if (this.busy) return;
    this.busy = true;
    try {
      const state = await withTimeout(this.store.lease.claim(this.opts.serverId, this.ttlMs), this.ttlMs, 'the leader lease claim');
      if (this.stopped) return;
      this.lastState = state;
      if (state.holder === this.opts.serverId) {
        this.lastRenewSentAt = sentAt;
        if (this.leadingEpoch !== state.epoch) this.setLeading(state.epoch, '');
      } else {
        if (this.leading) this.setLeading(undefined, `server ${state.holder} leads now (epoch ${state.epoch})`);
        // claim the moment it lapses, by the database's clock, rather than up to a renewal period later
        clearTimeout(this.lapse);
        const wait = state.expiresAt - state.now + 5;
        if (wait < this.ttlMs / 5) {
          this.lapse = setTimeout(() => void this.tick(), Math.max(0, wait));
          this.lapse.unref();
        }
      }
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'cannot reach the store to renew the leader lease');
    } finally {
      this.busy = false;
    }
    this.store.lease.announce({ id: this.opts.serverId, url: this.opts.url, version: this.opts.version, startedAt: this.startedAt }).catch(() => undefined);
  }

  private setLeading(epoch: number | undefined, why: string): void {
    const before = this.leadingEpoch;
    if (before === epoch) return;
    this.leadingEpoch = epoch;
    const log = this.opts.logger;
    this.transition = this.transition.then(async () => {
      if (before !== undefined) {
        // a clean stop of the only server is no news; losing the lead to another server is
        if (!this.stopped) log.warn({ epoch: before, why }, 'this server no longer leads');
        else if (this.store.shared) log.info({ epoch: before }, 'stopping: the leader lease is given up for another server to take');
        await this.hooks.lost(why).catch((err: unknown) => log.error({ err }, 'stepping down failed'));
      }
      if (epoch !== undefined && this.leadingEpoch === epoch) {
        if (this.store.shared) log.info({ epoch }, 'this server leads: it schedules, watches heartbeats and launches periodic jobs');
        await this.hooks.gained(epoch).catch((err: unknown) => log.error({ err }, 'taking the lead failed'));
      }
    });
  }
}
