/**
 * Tells the server the node is alive, every third of its heartbeat TTL, so
 * two lost heartbeats in a row still do not mark it down.
 */
import type { Logger } from 'pino';
import type { HeartbeatResponse } from '../api/types.js';
import { errorMessage, httpStatus, sleep } from './backoff.js';

export interface HeartbeatOptions {
  /** one heartbeat; given how long it may take (a heartbeat lost in a partition must not hold up the next) */
  beat: (timeoutMs: number) => Promise<HeartbeatResponse>;
  /** the server says the node is not ready (e.g. it was marked down): refresh it */
  onNotReady: () => Promise<void>;
  onUnauthorized: () => Promise<void>;
  ttlMs: () => number;
  setTtlMs: (ttl: number) => void;
  logger: Logger;
  signal: AbortSignal;
}

export async function heartbeatLoop(opts: HeartbeatOptions): Promise<void> {
  const { logger, signal } = opts;
  let delay = opts.ttlMs() / 3;
  for (;;) {
    if (!(await sleep(delay, signal))) return;
    try {
      // well within a heartbeat interval: after a partition heals the next one goes out at once
      const res = await opts.beat(Math.max(1000, Math.floor(opts.ttlMs() / 3)));
      if (typeof res?.heartbeatTtlMs === 'number' && res.heartbeatTtlMs > 0) opts.setTtlMs(res.heartbeatTtlMs);
      delay = opts.ttlMs() / 3;
      if (res?.status && res.status !== 'ready') await opts.onNotReady();
    } catch (err) {
      if (signal.aborted) return;
      if (httpStatus(err) === 401) {
        await opts.onUnauthorized().catch((e) => logger.error({ err: errorMessage(e) }, 'registering again failed'));
      } else {
        logger.warn({ err: errorMessage(err) }, 'heartbeat failed');
      }
      // try again well before the TTL runs out
      delay = Math.min(1000, opts.ttlMs() / 3);
    }
  }
}
