/**
 * Short-lived tickets for the event stream. A browser's EventSource cannot
 * send an Authorization header, and a long-lived token in a URL ends up in
 * proxy logs and browser history; a ticket in `?ticket=` is good for one
 * purpose (opening GET /v1/events) for a minute, with the role and namespace
 * of the token that asked for it. Kept in memory only: a restart voids them,
 * and the UI asks again.
 */
import type { TokenInfo } from '../api/types.js';
import { hashSecret, newSecret } from '../store/ids.js';

export const TICKET_TTL_MS = 60_000;
/** a cap on live tickets, so asking for tickets in a loop cannot grow memory */
const MAX_TICKETS = 10_000;

interface Ticket {
  token: TokenInfo;
  expiresAt: number;
}

export class EventTickets {
  private readonly tickets = new Map<string, Ticket>();

  constructor(private readonly ttlMs = TICKET_TTL_MS) {}

  issue(token: TokenInfo, now: number): { ticket: string; expiresAt: string } {
    this.sweep(now);
    const ticket = newSecret('evt');
    this.tickets.set(hashSecret(ticket), { token, expiresAt: now + this.ttlMs });
    while (this.tickets.size > MAX_TICKETS) {
      const oldest = this.tickets.keys().next().value;
      if (oldest === undefined) break;
      this.tickets.delete(oldest);
    }
    return { ticket, expiresAt: new Date(now + this.ttlMs).toISOString() };
  }

  /** the token a live ticket stands for; reusable until it expires, so EventSource's own reconnects work */
  redeem(ticket: string, now: number): TokenInfo | undefined {
    const t = this.tickets.get(hashSecret(ticket));
    if (!t) return undefined;
    if (now >= t.expiresAt) {
      this.tickets.delete(hashSecret(ticket));
      return undefined;
    }
    return t.token;
  }

  private readonly revokeListeners = new Set<(tokenId: string) => void>();

  /** forget the tickets of a revoked token, and tell open streams (they close theirs) */
  revokeToken(tokenId: string): void {
    for (const [k, t] of this.tickets) if (t.token.id === tokenId) this.tickets.delete(k);
    for (const l of this.revokeListeners) l(tokenId);
  }

  /** called with the id of each revoked token; returns the unsubscribe function */
  onRevoke(fn: (tokenId: string) => void): () => void {
    this.revokeListeners.add(fn);
    return () => this.revokeListeners.delete(fn);
  }

  private sweep(now: number): void {
    // insertion order is expiry order (one TTL for all)
    for (const [k, t] of this.tickets) {
      if (t.expiresAt > now) break;
      this.tickets.delete(k);
    }
  }
}
