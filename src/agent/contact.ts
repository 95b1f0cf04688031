/**
 * When the agent last reached the server. A heartbeat the server answered
 * counts from when it was sent: the server took it no earlier, so the node's
 * TTL on the server runs out no earlier than `at + ttl` here. Kept on the
 * machine's monotonic clock, which every process of the machine shares (the
 * watchdog reads it from the lease file) and which clock changes do not move.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

export class ServerContact {
  private at: number;
  /** the silence already said (to log "reached the server again" once) */
  private lostSaid = false;

  constructor(at: number = monotonicMs()) {
    this.at = at;
  }

  /** a request sent at `sentAt` (monotonicMs) got an answer from the server */
  reached(sentAt: number): { silentForMs?: number } {
    const silentFor = sentAt - this.at;
    if (sentAt > this.at) this.at = sentAt;
    if (this.lostSaid) {
      this.lostSaid = false;
      return { silentForMs: silentFor };
    }
    return {};
  }

  /** monotonic ms of the last request that got through */
  get lastAt(): number {
    return this.at;
  }

  silentMs(now: number = monotonicMs()): number {
    return Math.max(0, now - this.at);
  }

  /** true the first time it is asked after the server stopped answering */
  sayLost(): boolean {
    if (this.lostSaid) return false;
    this.lostSaid = true;
    return true;
  }
}
