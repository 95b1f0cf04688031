/**
 * Whether a task that ended is restarted in place, as a pure function of the
 * job's restart policy and the times of its earlier restarts, so every rule
 * can be tested without processes or clocks.
 */
import type { JobType, RestartPolicy } from '../api/types.js';
import { formatDuration } from '../spec/units.js';

export interface TaskExit {
  exitCode: number;
  oomKilled?: boolean;
  /** the task could not run at all, or was lost */
  error?: string;
}

export interface RestartDecision {
  restart: boolean;
  delayMs: number;
  /** human text for the task's events */
  reason: string;
}

export function exitSucceeded(exit: TaskExit): boolean {
  return exit.exitCode === 0 && !exit.oomKilled && !exit.error;
}

/**
 * @param restartTimes epoch ms of the task's earlier restarts
 * @param now epoch ms
 */
export function decideRestart(policy: RestartPolicy, jobType: JobType, exit: TaskExit, restartTimes: readonly number[], now: number): RestartDecision {
  const ok = exitSucceeded(exit);
  if (jobType === 'batch' && ok) return { restart: false, delayMs: 0, reason: 'task completed' };

  // a service is meant to run for ever, so even a clean exit counts against the policy
  const attempts = Math.max(0, Math.floor(policy.attempts));
  const interval = Math.max(0, policy.intervalMs);
  const delay = Math.max(0, policy.delayMs);
  const recent = restartTimes.filter((t) => t > now - interval && t <= now);
  const span = formatDuration(interval);

  if (recent.length < attempts) {
    return { restart: true, delayMs: delay, reason: `restart ${recent.length + 1} of ${attempts} within ${span}` };
  }
  if (policy.mode === 'delay') {
    // wait until the oldest restart in the window leaves it, so the next one is within policy again
    const wait = attempts === 0 || recent.length === 0 ? interval : Math.min(...recent) + interval - now;
    const delayMs = Math.max(delay, wait);
    return {
      restart: true,
      delayMs,
      reason: `${attempts} restarts within ${span} used up: waiting ${formatDuration(delayMs)} for the interval to pass`,
    };
  }
  return {
    restart: false,
    delayMs: 0,
    reason: attempts === 0 ? 'the restart policy allows no restarts' : `restart limit reached: ${attempts} restarts within ${span}`,
  };
}
