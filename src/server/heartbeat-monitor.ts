/**
 * Marks nodes down when their heartbeats stop for their TTL, so their allocs
 * are rescheduled. The server's own trouble is never the nodes' fault: after
 * a start, and after any stretch in which it could not take or record
 * heartbeats (its store failing to write, say on a full disk, or its event
 * loop stalled), every node gets a fresh TTL from the moment it recovered.
 * And when most nodes go silent at once, the likelier fault is between them
 * and the server (or the server itself), so they are marked down one at a
 * time, a TTL apart, instead of all their work being replaced at once (as
 * Kubernetes' node lifecycle controller slows evictions when a zone goes dark).
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

/** more than this share of the ready nodes silent at once (and at least this many) slows marking down */
export const MASS_SILENCE_SHARE = 0.5;
export const MASS_SILENCE_MIN_NODES = 2;

export interface SilenceDecision {
  /** nodes to mark down now */
  down: string[];
  /** many went silent at once: the rest wait */
  slowed: boolean;
}

/**
 * Which of the silent nodes to mark down now. Pure: `silent` are the ready
 * nodes past their TTL, `ready` how many ready nodes there are in all (silent
 * included), `lastDownAt` when the previous node was marked down in a slowed
 * stretch.
 */
export function decideSilent(silent: readonly string[], ready: number, now: number, ttlMs: number, lastDownAt: number | undefined): SilenceDecision {
  const mass = silent.length >= MASS_SILENCE_MIN_NODES && silent.length > ready * MASS_SILENCE_SHARE;
  if (!mass) return { down: [...silent], slowed: false };
  if (lastDownAt !== undefined && now - lastDownAt < ttlMs) return { down: [], slowed: true };
  return { down: silent.slice(0, 1), slowed: true };
}

export class HeartbeatMonitor {
  private timer: NodeJS.Timeout | undefined;
  /** no node is marked down before this: a TTL after the server last recovered from its own trouble */
  private graceUntil: number;
  private lastTick = Date.now();
  private lastSlowDownAt: number | undefined;
  private failing = false;
  private busy = false;
  /** only the leader marks nodes down and drains; every server writes the heartbeats it took */
  private leading = true;
  private readonly intervalMs: number;

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.graceUntil = Date.now() + ttlMs;
    this.intervalMs = Math.min(1_000, Math.max(100, ttlMs / 4));
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** this server leads (or no longer does): a new leader gives every node a fresh TTL, it has not been watching them */
  setLeading(on: boolean): void {
    if (on && !this.leading) {
      const now = Date.now();
      this.graceUntil = Math.max(this.graceUntil, now + this.ttlMs);
      this.lastSlowDownAt = undefined;
    }
    this.leading = on;
  }

  /** the server was not able to hear nodes until now: give every node a TTL from now */
  private grant(now: number, why: string): void {
    if (now + this.ttlMs <= this.graceUntil) return;
    this.graceUntil = now + this.ttlMs;
    this.logger.warn({ graceMs: this.ttlMs, why }, 'the server was not hearing heartbeats: every node gets a fresh TTL');
  }

  private async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const now = Date.now();
    // a tick that comes far too late: the event loop was stalled, heartbeats waited unread
    if (now - this.lastTick > this.intervalMs + this.ttlMs / 3) this.grant(now, `the server stalled for ${now - this.lastTick} ms`);
    this.lastTick = now;
    try {
      await this.store.flushHeartbeats();
      if (this.failing) {
        this.failing = false;
        this.grant(Date.now(), 'the store writes again');
      }
      if (!this.leading) return;
      if (now < this.graceUntil) {
        await this.store.checkDrains(now);
        return;
      }
      const expired = await this.store.expiredNodes(now);
      if (expired.length > 0) {
        const ready = await this.store.readyNodeCount();
        const d = decideSilent(
          expired.map((n) => n.id),
          ready,
          now,
          this.ttlMs,
          this.lastSlowDownAt,
        );
        if (d.slowed) {
          this.logger.warn(
            { silent: expired.length, ready, marking: d.down.length },
            "most nodes went silent at once: marking them down one per TTL (a fault on the server's side is likelier than that many machines failing)",
          );
        }
        for (const id of d.down) {
          const node = expired.find((n) => n.id === id)!;
          const { lost } = await this.store.markNodeDown(id, now);
          if (d.slowed) this.lastSlowDownAt = now;
          this.logger.warn({ node: node.name, lost }, 'node missed its heartbeats: marked down');
        }
        if (!d.slowed) this.lastSlowDownAt = undefined;
      }
      const replaced = await this.store.replaceDisconnected(now);
      if (replaced > 0) this.logger.warn({ allocs: replaced }, 'allocs of down nodes waited their replace_after: lost and replaced');
      await this.store.checkDrains(now);
    } catch (err) {
      // the heartbeats taken meanwhile stay in memory; the nodes are not blamed for this (grant on recovery)
      this.failing = true;
      this.logger.error({ err }, 'heartbeat check failed');
    } finally {
      this.busy = false;
    }
  }
}
