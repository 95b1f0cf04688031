/**
 * What a replacement alloc inherits from the one it replaces: how long it waits
 * (exponential backoff with a cap) and how much memory its tasks get (an
 * OOM-killed task grows, up to the job's limit).
 */
import type { Alloc, JobSpec, Resources, RetryPolicy } from '../api/types.js';
import { addInto } from './resources.js';

/** Retry n (n >= 1) waits delayMs · 2^(n-1), capped at maxDelayMs. */
export function retryDelay(retry: RetryPolicy, attempt: number): number {
  if (attempt <= 1) return Math.min(retry.delayMs, retry.maxDelayMs);
  // 2^(n-1) overflows to Infinity for huge n; min() with the cap still gives the cap
  return Math.min(retry.delayMs * 2 ** (attempt - 1), retry.maxDelayMs);
}

export function wasOomKilled(a: Alloc): boolean {
  return Object.values(a.taskStates).some((t) => t.oomKilled === true);
}

/**
 * Per-task resources for the alloc replacing `prev`, or undefined when every
 * task gets what the spec asks. A grown size is kept by later replacements of
 * the same index (lost, preempted, failed for another reason): shrinking it back
 * would only OOM again. Tasks killed for OOM grow by onOom.grow, up to onOom.max;
 * a task already at max stays there (the retry still counts as an attempt).
 */
export function replacementTaskResources(spec: JobSpec, prev: Alloc, grow: boolean): Record<string, Resources> | undefined {
  const onOom = spec.retry.onOom;
  let out: Record<string, Resources> | undefined;
  for (const task of spec.tasks) {
    const before = prev.taskResources?.[task.name] ?? task.resources;
    let memory = before.memory;
    if (grow && onOom && prev.taskStates[task.name]?.oomKilled) {
      memory = Math.max(before.memory, Math.min(Math.round(before.memory * onOom.grow), onOom.max));
    }
    const differs = memory !== task.resources.memory || before.cpu !== task.resources.cpu || before.disk !== task.resources.disk;
    if (differs) (out ??= {})[task.name] = { ...before, memory };
  }
  return out;
}

/** What one alloc of the job asks for, given its per-task overrides. */
export function allocResources(spec: JobSpec, taskResources?: Record<string, Resources>): Resources {
  const total = { cpu: 0, memory: 0, disk: 0 };
  for (const t of spec.tasks) addInto(total, taskResources?.[t.name] ?? t.resources);
  return total;
}
