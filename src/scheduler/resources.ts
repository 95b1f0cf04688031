/**
 * Resource arithmetic for placement. Every dimension is a plain number
 * (millicores, bytes), so these stay allocation-free where the hot loop needs it.
 */
import type { JobSpec, Resources } from '../api/types.js';

export type ResourceDimension = 'memory' | 'cpu' | 'disk';

/** Memory first: it is what users most often run short of, so it is what `fits` reports first. */
export const RESOURCE_DIMENSIONS: readonly ResourceDimension[] = ['memory', 'cpu', 'disk'];

export const ZERO: Readonly<Resources> = Object.freeze({ cpu: 0, memory: 0, disk: 0 });

export function addResources(a: Resources, b: Resources): Resources {
  return { cpu: a.cpu + b.cpu, memory: a.memory + b.memory, disk: a.disk + b.disk };
}

export function subResources(a: Resources, b: Resources): Resources {
  return { cpu: a.cpu - b.cpu, memory: a.memory - b.memory, disk: a.disk - b.disk };
}

/** Adds `b` into `into` in place: the placement loop updates per-node usage without allocating. */
export function addInto(into: Resources, b: Resources): void {
  into.cpu += b.cpu;
  into.memory += b.memory;
  into.disk += b.disk;
}

/** The first dimension in which `ask` exceeds `free`, or undefined when it fits. */
export function fits(ask: Resources, free: Resources): ResourceDimension | undefined {
  for (const d of RESOURCE_DIMENSIONS) if (ask[d] > free[d]) return d;
  return undefined;
}

/** Like `fits(ask, capacity - used)` without building the difference. */
export function fitsWithin(ask: Resources, capacity: Resources, used: Resources): ResourceDimension | undefined {
  for (const d of RESOURCE_DIMENSIONS) if (used[d] + ask[d] > capacity[d]) return d;
  return undefined;
}

/** An alloc holds the sum of its tasks' resources: tasks of one alloc share a node. */
export function sumTaskResources(spec: JobSpec): Resources {
  const total = { cpu: 0, memory: 0, disk: 0 };
  for (const t of spec.tasks) addInto(total, t.resources);
  return total;
}
