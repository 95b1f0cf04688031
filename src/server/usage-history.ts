/**
 * The last hour of cpu and memory use per node and per alloc (and task), as
 * the agents report it with their heartbeats. Memory only: it is for charts
 * and metrics, and losing it on a restart costs an hour of history at most.
 */
import type { HeartbeatRequest, UsageSample } from '../api/types.js';
import type { Store } from '../store/store.js';

export const USAGE_WINDOW_MS = 60 * 60_000;
/** a series never grows past this, however often an agent heartbeats (one a second for an hour) */
export const MAX_SAMPLES = 3600;

interface Point {
  t: number;
  cpu: number;
  memory: number;
}

/** a time-ordered series that forgets points older than the window */
class Series {
  private points: Point[] = [];

  add(p: Point, windowMs: number): void {
    this.points.push(p);
    const cutoff = p.t - windowMs;
    let drop = 0;
    while (drop < this.points.length && this.points[drop].t < cutoff) drop++;
    drop = Math.max(drop, this.points.length - MAX_SAMPLES);
    if (drop > 0) this.points.splice(0, drop);
  }

  samples(now: number, windowMs: number): UsageSample[] {
    const cutoff = now - windowMs;
    return this.points.filter((p) => p.t >= cutoff).map((p) => ({ time: new Date(p.t).toISOString(), cpu: p.cpu, memory: p.memory }));
  }

  last(): Point | undefined {
    return this.points[this.points.length - 1];
  }
}

interface AllocSeries {
  nodeId: string;
  total: Series;
  tasks: Map<string, Series>;
  lastSeen: number;
}

export class UsageHistory {
  private readonly nodes = new Map<string, Series>();
  private readonly allocs = new Map<string, AllocSeries>();
  private lastSweep = 0;

  constructor(readonly windowMs = USAGE_WINDOW_MS) {}

  /** one heartbeat's report of a node */
  record(nodeId: string, usage: NonNullable<HeartbeatRequest['usage']>, now: number): void {
    let node = this.nodes.get(nodeId);
    if (!node) this.nodes.set(nodeId, (node = new Series()));
    node.add({ t: now, cpu: usage.node.cpu, memory: usage.node.memory }, this.windowMs);
    for (const [allocId, tasks] of Object.entries(usage.allocs)) {
      let a = this.allocs.get(allocId);
      // an alloc id reported by another node is not this node's to write
      if (a && a.nodeId !== nodeId) continue;
      if (!a) this.allocs.set(allocId, (a = { nodeId, total: new Series(), tasks: new Map(), lastSeen: now }));
      a.lastSeen = now;
      let cpu = 0;
      let memory = 0;
      for (const [task, u] of Object.entries(tasks)) {
        let s = a.tasks.get(task);
        if (!s) a.tasks.set(task, (s = new Series()));
        s.add({ t: now, cpu: u.cpu, memory: u.memory }, this.windowMs);
        cpu += u.cpu;
        memory += u.memory;
      }
      a.total.add({ t: now, cpu, memory }, this.windowMs);
    }
    this.sweep(now);
  }

  nodeSamples(nodeId: string, now: number): UsageSample[] {
    return this.nodes.get(nodeId)?.samples(now, this.windowMs) ?? [];
  }

  /** the node's latest report, if it is recent (for metrics) */
  nodeLatest(nodeId: string, now: number): { cpu: number; memory: number } | undefined {
    const p = this.nodes.get(nodeId)?.last();
    return p && p.t >= now - this.windowMs ? { cpu: p.cpu, memory: p.memory } : undefined;
  }

  allocSamples(allocId: string, now: number): { samples: UsageSample[]; tasks: Record<string, UsageSample[]> } {
    const a = this.allocs.get(allocId);
    if (!a) return { samples: [], tasks: {} };
    const tasks: Record<string, UsageSample[]> = {};
    for (const [name, s] of a.tasks) tasks[name] = s.samples(now, this.windowMs);
    return { samples: a.total.samples(now, this.windowMs), tasks };
  }

  /** how many allocs are tracked (tests check that old ones go) */
  get allocCount(): number {
    return this.allocs.size;
  }

  /** allocs not reported for longer than the window are gone: drop them (at most once a minute) */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [id, a] of this.allocs) if (now - a.lastSeen > this.windowMs) this.allocs.delete(id);
    for (const [id, s] of this.nodes) {
      const last = s.last();
      if (!last || now - last.t > this.windowMs) this.nodes.delete(id);
    }
  }
}

const histories = new WeakMap<object, UsageHistory>();

/** the one history of a store's server (heartbeat route, usage routes and metrics share it) */
export function usageHistoryFor(store: Store): UsageHistory {
  let h = histories.get(store);
  if (!h) {
    h = new UsageHistory();
    histories.set(store, h);
  }
  return h;
}
