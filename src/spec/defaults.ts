/** What a job gets for every field its file leaves out. */
import type { JobType, ParameterizedSpec, PeriodicSpec, Resources, RestartPolicy, RetryPolicy } from '../api/types.js';

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_PRIORITY = 50;
export const DEFAULT_TASK_RESOURCES: Resources = { cpu: 100, memory: 128 * 1024 ** 2, disk: 0 };
/** the delay doubles per retry; the cap keeps a long retry chain from waiting hours */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 0, delayMs: 5_000, maxDelayMs: 300_000 };
export const DEFAULT_PAYLOAD: ParameterizedSpec['payload'] = 'optional';
export const DEFAULT_TIMEZONE: PeriodicSpec['timezone'] = 'UTC';
export const DEFAULT_OVERLAP: PeriodicSpec['overlap'] = 'skip';
export const DEFAULT_PREEMPT = false;
export const DEFAULT_KILL_SIGNAL = 'SIGTERM';
export const DEFAULT_KILL_TIMEOUT_MS = 5_000;

/** services restart a crashing task a few times locally; batch runs are retried as new allocs instead */
export function defaultRestart(type: JobType): RestartPolicy {
  return type !== 'batch'
    ? { attempts: 2, intervalMs: 300_000, delayMs: 1_000, mode: 'fail' }
    : { attempts: 0, intervalMs: 300_000, delayMs: 1_000, mode: 'fail' };
}
