/**
 * Stops the node's allocs once the agent has not reached the server for
 * longer than they may run without it (jobs/disconnect.ts), before the server
 * may replace them: a cut-off node never runs a copy beside its replacement.
 */
import type { Logger } from 'pino';
import type { NodeBound } from '../jobs/disconnect.js';
import { formatDuration } from '../spec/units.js';
import type { AllocRunner } from './alloc-runner.js';
import { sleep } from './backoff.js';
import { monotonicMs, type ServerContact } from './contact.js';

export interface DisconnectGuardOptions {
  contact: ServerContact;
  runners: () => Iterable<AllocRunner>;
  bound: () => NodeBound;
  logger: Logger;
  signal: AbortSignal;
  /** ms between checks (default 100) */
  everyMs?: number;
}

/** One check: stops what is due, returns how many allocs it stopped. */
export function enforceDisconnect(opts: Omit<DisconnectGuardOptions, 'signal' | 'everyMs'>, now = monotonicMs()): number {
  const silent = opts.contact.silentMs(now);
  const bound = opts.bound();
  let stopped = 0;
  for (const r of opts.runners()) {
    if (r.terminal || r.stoppedForDisconnect) continue;
    const d = r.disconnectDeadline(bound);
    if (!d || silent < d.stopAfterMs) continue;
    r.stopForDisconnect(`its agent could not reach the server for ${formatDuration(silent)}`, Math.max(0, d.killAfterMs - silent));
    stopped++;
  }
  if (stopped > 0) {
    opts.logger.warn(
      { allocs: stopped, silentMs: silent, ttlMs: bound.ttlMs },
      'the server has not answered for longer than allocs may run without it: stopping them before it places their replacements elsewhere',
    );
  }
  return stopped;
}

export async function disconnectGuardLoop(opts: DisconnectGuardOptions): Promise<void> {
  const every = opts.everyMs ?? 100;
  while (await sleep(every, opts.signal)) {
    const silent = opts.contact.silentMs();
    // one missed heartbeat (they come every third of the TTL) is said once
    if (silent > opts.bound().ttlMs / 2 && opts.contact.sayLost()) {
      opts.logger.warn(
        { silentMs: silent, stopAfterMs: opts.bound().stopAfterMs },
        `the server has not answered for ${formatDuration(silent)}; allocs stop after ${formatDuration(opts.bound().stopAfterMs)} without it`,
      );
    }
    enforceDisconnect(opts);
  }
}
