/**
 * Short-lived tickets for the event stream. A browser's EventSource cannot
 * send an Authorization header, and a long-lived token in a URL ends up in
 * proxy logs and browser history; a ticket in `?ticket=` is good for one
 * purpose (opening GET /v1/events) for a minute, as the token that asked for
 * it.
 *
 * A ticket is signed, not remembered: it names the token and its expiry,
 * with an HMAC under a key the cluster keeps in its store, so any server of
 * the database takes a ticket any other issued (a load balancer needs no
 * stickiness), and a restart voids nothing. Redeeming reads the token from
 * the store, so a revoked token's tickets stop working on every server at
 * once, and open streams of a revoked token are closed: at once on the
 * server that revoked it, within a keepalive on the others.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenInfo } from '../api/types.js';
import type { Store } from '../store/store.js';

export const TICKET_TTL_MS = 60_000;
const KEY_META = 'event_ticket_key';

export class EventTickets {
  private key: Promise<Buffer> | undefined;
  private readonly revokeListeners = new Set<(tokenId: string) => void>();

  constructor(
    private readonly store: Pick<Store, 'setMetaIfAbsent' | 'tokenById'>,
    private readonly ttlMs = TICKET_TTL_MS,
  ) {}

  private keyOf(): Promise<Buffer> {
    // the first server to ask makes it; every other one reads the same
    this.key ??= this.store.setMetaIfAbsent(KEY_META, randomBytes(32).toString('hex')).then((hex) => Buffer.from(hex, 'hex'));
    this.key.catch(() => (this.key = undefined));
    return this.key;
  }

  private async sign(body: string): Promise<string> {
    return createHmac('sha256', await this.keyOf())
      .update(body)
      .digest('base64url');
  }

  async issue(token: TokenInfo, now: number): Promise<{ ticket: string; expiresAt: string }> {
    const body = `${token.id}.${now + this.ttlMs}`;
    return { ticket: `evt_${Buffer.from(body).toString('base64url')}.${await this.sign(body)}`, expiresAt: new Date(now + this.ttlMs).toISOString() };
  }

  /** the token a live ticket stands for, as the store has it now; reusable until it expires, so EventSource's own reconnects work */
  async redeem(ticket: string, now: number): Promise<TokenInfo | undefined> {
    const m = /^evt_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(ticket);
    if (!m) return undefined;
    const body = Buffer.from(m[1], 'base64url').toString();
    const want = Buffer.from(await this.sign(body));
    const got = Buffer.from(m[2]);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    const dot = body.lastIndexOf('.');
    const expiresAt = Number(body.slice(dot + 1));
    if (!Number.isFinite(expiresAt) || now >= expiresAt) return undefined;
    const token = await this.store.tokenById(body.slice(0, dot));
    if (!token || (token.expiresAt !== undefined && Date.parse(token.expiresAt) <= now)) return undefined;
    return token;
  }

  /** a token was revoked here: tell this server's open streams (they close theirs) */
  revokeToken(tokenId: string): void {
    for (const l of this.revokeListeners) l(tokenId);
  }

  /** called with the id of each revoked token; returns the unsubscribe function */
  onRevoke(fn: (tokenId: string) => void): () => void {
    this.revokeListeners.add(fn);
    return () => this.revokeListeners.delete(fn);
  }
}
