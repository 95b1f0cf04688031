/**
 * The bound a server and its agents agree on for a node that cannot reach the
 * server: how long the agent may keep an alloc running, and by when its tasks
 * must be dead, so that the copy is gone before the server may place a
 * replacement (the node TTL after the last heartbeat, plus the job's
 * replace_after). Pure: the agent, its watchdog and the server all use it.
 */
import type { DisconnectPolicy } from '../api/types.js';

/** by default an agent stops its allocs after two thirds of the TTL without the server */
export function defaultStopAfterMs(ttlMs: number): number {
  return Math.floor((ttlMs * 2) / 3);
}

/**
 * Time kept between the last moment a task may live and the first moment the
 * server may replace it: a replacement is placed only after the TTL ran out
 * on the server's clock, measured from when it received the heartbeat, which
 * is never before the agent sent it.
 */
export function replaceMarginMs(ttlMs: number): number {
  return Math.max(250, Math.floor(ttlMs / 10));
}

/** What an agent does with one alloc while it cannot reach the server, in ms since it last did. */
export interface DisconnectDeadline {
  /** send the tasks their kill signal */
  stopAfterMs: number;
  /** SIGKILL whatever is left: stopAfterMs + kill_timeout, cut short to stay before the replacement */
  killAfterMs: number;
}

export interface NodeBound {
  ttlMs: number;
  /** the server's bound (defaultStopAfterMs of its TTL unless it says otherwise) */
  stopAfterMs: number;
}

/**
 * When an alloc with this policy and tasks with this (longest) kill timeout
 * is stopped by its disconnected agent; undefined when it never is. A job's
 * own stop_after that runs past the replacement is honoured as written: that
 * job chose availability over a single copy.
 */
export function disconnectDeadline(policy: DisconnectPolicy | undefined, bound: NodeBound, killTimeoutMs: number): DisconnectDeadline | undefined {
  if (policy?.stopAfterMs === null) return undefined;
  // by default a job that makes the server wait (replace_after) runs on for as much longer
  const stopAfterMs = policy?.stopAfterMs ?? bound.stopAfterMs + (policy?.replaceAfterMs ?? 0);
  const replaceAt = bound.ttlMs + (policy?.replaceAfterMs ?? 0) - replaceMarginMs(bound.ttlMs);
  const killAfterMs = stopAfterMs + killTimeoutMs;
  return { stopAfterMs, killAfterMs: stopAfterMs < replaceAt ? Math.min(killAfterMs, replaceAt) : killAfterMs };
}

/** Whether this policy lets two copies of an alloc run at once after a partition (said when a job is submitted). */
export function mayRunTwice(policy: DisconnectPolicy | undefined, bound: NodeBound): boolean {
  if (policy === undefined || policy.stopAfterMs === undefined) return false;
  if (policy.stopAfterMs === null) return true;
  return policy.stopAfterMs >= bound.ttlMs + (policy.replaceAfterMs ?? 0) - replaceMarginMs(bound.ttlMs);
}
