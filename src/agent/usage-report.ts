/**
 * What the agent tells the server about resource use with each heartbeat:
 * each running task's cpu (millicores) and memory (bytes), and their sum for
 * the node. The drivers report cumulative cpu time; the rate between two
 * samples is what a chart of "cpu used" shows.
 */
import type { HeartbeatRequest } from '../api/types.js';

export interface CpuSample {
  /** wall clock, ms */
  at: number;
  /** cumulative cpu time, ns */
  cpuNanos: number;
}

/** millicores used between two samples; undefined when the interval says nothing (first sample, clock or counter reset) */
export function cpuMillicores(prev: CpuSample | undefined, next: CpuSample): number | undefined {
  if (!prev) return undefined;
  const wallMs = next.at - prev.at;
  const cpuNs = next.cpuNanos - prev.cpuNanos;
  if (wallMs <= 0 || cpuNs < 0) return undefined;
  // ns of cpu per ms of wall time: 1e6 ns/ms is one core = 1000 millicores
  return Math.round(cpuNs / wallMs / 1000);
}

export interface UsageSource {
  id: string;
  /** task name → current use, running tasks only */
  usage(): Record<string, { cpu: number; memory: number }>;
}

export function buildUsageReport(allocs: Iterable<UsageSource>): NonNullable<HeartbeatRequest['usage']> {
  const node = { cpu: 0, memory: 0 };
  const out: Record<string, Record<string, { cpu: number; memory: number }>> = {};
  for (const a of allocs) {
    const tasks = a.usage();
    if (Object.keys(tasks).length === 0) continue;
    out[a.id] = tasks;
    for (const u of Object.values(tasks)) {
      node.cpu += u.cpu;
      node.memory += u.memory;
    }
  }
  return { node, allocs: out };
}
