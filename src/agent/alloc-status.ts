/**
 * An alloc's client status and its human description, as a pure function of
 * its tasks' states. The server and the user only ever see what this says.
 */
import type { AllocClientStatus, TaskState } from '../api/types.js';
import { formatBytes, formatDuration } from '../spec/units.js';

export interface AllocStatusInput {
  /** task states by task name, in the job's task order */
  tasks: Record<string, TaskState>;
  /** the server asked for the stop (or dropped the alloc): ending then is a success */
  desiredStop: boolean;
  /** the agent stopped it itself for this reason (it lost the server): it ends as lost */
  lostReason?: string;
  /**
   * when the agent decided so (ISO), and whether the alloc is a batch run: a run whose every task
   * had already exited 0 before then completed on its own, and keeps that result
   */
  lostAt?: string;
  batch?: boolean;
  /** bytes, per task name: named in OOM descriptions */
  memoryLimits?: Record<string, number>;
  /** ms, per task name: named in timeout descriptions */
  timeoutsMs?: Record<string, number>;
}

export interface AllocStatus {
  clientStatus: AllocClientStatus;
  clientDescription: string;
}

/**
 * A terminal status is only given once every task is dead: when one task fails
 * the others are being stopped, and until they are gone the node still holds
 * their resources, so the server must not see the alloc as over yet.
 */
export function computeAllocStatus(input: AllocStatusInput): AllocStatus {
  const entries = Object.entries(input.tasks);
  if (entries.length === 0) return { clientStatus: 'pending', clientDescription: 'no tasks' };

  const failed = entries.find(([, t]) => t.state === 'dead' && t.failed);
  const allDead = entries.every(([, t]) => t.state === 'dead');
  if (input.lostReason !== undefined && !(allDead && completedBefore(input, entries))) {
    if (allDead) return { clientStatus: 'lost', clientDescription: `stopped by its agent: ${input.lostReason}` };
    return { clientStatus: everyStarted(entries) ? 'running' : 'pending', clientDescription: `stopping: ${input.lostReason}` };
  }
  if (allDead) {
    if (failed) return { clientStatus: 'failed', clientDescription: describeFailed(input, failed) };
    if (input.desiredStop) return { clientStatus: 'complete', clientDescription: 'stopped by the server' };
    return { clientStatus: 'complete', clientDescription: entries.length === 1 ? `task ${entries[0][0]} completed` : 'all tasks completed' };
  }

  if (failed) {
    return {
      clientStatus: everyStarted(entries) ? 'running' : 'pending',
      clientDescription: `${describeFailed(input, failed)}; stopping the other tasks`,
    };
  }
  if (input.desiredStop) {
    return { clientStatus: everyStarted(entries) ? 'running' : 'pending', clientDescription: 'stopping on request of the server' };
  }
  if (!everyStarted(entries)) {
    const waiting = entries.filter(([, t]) => !started(t)).map(([n]) => n);
    return { clientStatus: 'pending', clientDescription: `starting ${plural(waiting.length, 'task')} ${waiting.join(', ')}` };
  }
  const restarting = entries.filter(([, t]) => t.state === 'pending').map(([n]) => n);
  if (restarting.length > 0) return { clientStatus: 'running', clientDescription: `restarting ${plural(restarting.length, 'task')} ${restarting.join(', ')}` };
  const unhealthy = entries.filter(([, t]) => t.state === 'running' && t.health === 'unhealthy');
  if (unhealthy.length > 0) {
    const [name, t] = unhealthy[0];
    const why = lastEvent(t, ['Unhealthy'])?.message;
    return {
      clientStatus: 'running',
      clientDescription: `task ${name} unhealthy${why ? `: ${why}` : ''}${unhealthy.length > 1 ? ` (and ${unhealthy.length - 1} more)` : ''}`,
    };
  }
  const running = entries.filter(([, t]) => t.state === 'running').length;
  if (running === entries.length) return { clientStatus: 'running', clientDescription: entries.length === 1 ? 'task running' : 'all tasks running' };
  return { clientStatus: 'running', clientDescription: `${running} of ${entries.length} tasks running` };
}

function describeFailed(input: AllocStatusInput, [name, t]: [string, TaskState]): string {
  return describeFailure(name, t, input.memoryLimits?.[name], input.timeoutsMs?.[name]);
}

function started(t: TaskState): boolean {
  return t.state !== 'pending' || t.startedAt !== undefined;
}

function everyStarted(entries: Array<[string, TaskState]>): boolean {
  return entries.every(([, t]) => started(t));
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/**
 * Why one task failed, in words a user can act on and a reader can tell
 * apart: "exited with code N", "OOM killed (limit L, peak P)", "timed out after T".
 */
export function describeFailure(name: string, t: TaskState, memoryLimit?: number, timeoutMs?: number): string {
  if (t.oomKilled) {
    const parts: string[] = [];
    // the limit the task actually ran under wins over what the caller thinks it was
    const limit = t.memoryLimit ?? memoryLimit;
    if (limit !== undefined) parts.push(`limit ${formatBytes(limit)}`);
    if (t.peakMemory !== undefined) parts.push(`peak ${formatBytes(t.peakMemory)}`);
    return `task ${name} OOM killed${parts.length ? ` (${parts.join(', ')})` : ''}`;
  }
  if (t.timedOut) return `task ${name} timed out${timeoutMs !== undefined ? ` after ${formatDuration(timeoutMs)}` : ''}`;
  const last = lastEvent(t, ['DriverFailure', 'TaskLost', 'Terminated', 'Unhealthy']);
  if (last?.type === 'DriverFailure') return `task ${name}: driver failure: ${last.message}`;
  if (last?.type === 'Unhealthy') return `task ${name} unhealthy: ${last.message}`;
  if (last?.type === 'TaskLost') return `task ${name}: ${last.message}`;
  if (t.exitCode !== undefined) {
    const sig = t.signal ? ` (${t.signal})` : '';
    return `task ${name} exited with code ${t.exitCode}${sig}`;
  }
  return `task ${name} failed`;
}

function lastEvent(t: TaskState, types: readonly string[]): TaskState['events'][number] | undefined {
  for (let i = t.events.length - 1; i >= 0; i--) if (types.includes(t.events[i].type)) return t.events[i];
  return undefined;
}

/** every task of a batch run exited 0 on its own before the agent decided to stop it for a lost server */
function completedBefore(input: AllocStatusInput, entries: Array<[string, TaskState]>): boolean {
  if (!input.batch || input.lostAt === undefined) return false;
  const lostAt = Date.parse(input.lostAt);
  return entries.every(([, t]) => t.exitCode === 0 && !t.signal && !t.failed && t.finishedAt !== undefined && Date.parse(t.finishedAt) < lostAt);
}
