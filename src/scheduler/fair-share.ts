/**
 * Which queued eval runs next. Priority first, then replacements of lost
 * allocs (a run that was running goes back before runs that never started); then the
 * namespace with the smallest dominant share of the cluster (dominant resource
 * fairness: the larger of its cpu and memory fractions) goes first, so one
 * namespace's sweep of 500 does not starve another's 5 runs queued after it.
 * Ties fall to the oldest eval (lowest createIndex), which keeps FIFO within a
 * namespace. Pure: the server passes live usage per namespace and the capacity
 * of ready nodes.
 */
import type { Alloc, NodeInfo, Resources } from '../api/types.js';
import { addInto, fits } from './resources.js';
import { isHoldingCapacity } from './usage.js';

export interface EvalCandidate {
  id: string;
  namespace: string;
  priority: number;
  createIndex: number;
  /** it replaces allocs lost with their node: served before the rest of its priority (the queue included) */
  replacement?: boolean;
}

/** Evals that put back what a node lost: they go ahead of queued work, which has not started yet. */
export function isReplacementTrigger(trigger: string | null | undefined): boolean {
  return trigger === 'node-down' || trigger === 'alloc-lost';
}

/** max over cpu and memory of used/total; a dimension the cluster lacks counts as unused. */
export function dominantShare(used: Resources | undefined, total: Resources): number {
  if (!used) return 0;
  const cpu = total.cpu > 0 ? used.cpu / total.cpu : 0;
  const memory = total.memory > 0 ? used.memory / total.memory : 0;
  return Math.max(cpu, memory);
}

export function pickNextEval(candidates: readonly EvalCandidate[], usage: ReadonlyMap<string, Resources>, total: Resources): string | undefined {
  let best: EvalCandidate | undefined;
  let bestShare = 0;
  const shares = new Map<string, number>();
  const shareOf = (ns: string): number => {
    let s = shares.get(ns);
    if (s === undefined) shares.set(ns, (s = dominantShare(usage.get(ns), total)));
    return s;
  };
  for (const c of candidates) {
    const share = shareOf(c.namespace);
    const sameRank = best !== undefined && c.priority === best.priority && !!c.replacement === !!best.replacement;
    if (
      !best ||
      c.priority > best.priority ||
      (c.priority === best.priority && !!c.replacement && !best.replacement) ||
      (sameRank && (share < bestShare || (share === bestShare && c.createIndex < best.createIndex)))
    ) {
      best = c;
      bestShare = share;
    }
  }
  return best?.id;
}

/** What ready, eligible nodes offer in all, what is free on each of them, and what each namespace holds. */
export interface Room {
  total: Resources;
  /** by node id: capacity minus what live allocs hold */
  free: Map<string, Resources>;
  usage: Map<string, Resources>;
}

export function roomOf(nodes: readonly NodeInfo[], live: readonly Alloc[]): Room {
  const total: Resources = { cpu: 0, memory: 0, disk: 0 };
  const free = new Map<string, Resources>();
  for (const n of nodes) {
    if (n.status !== 'ready' || n.eligibility !== 'eligible') continue;
    addInto(total, n.capacity);
    free.set(n.id, { ...n.capacity });
  }
  for (const a of live) {
    const f = free.get(a.nodeId);
    if (f && isHoldingCapacity(a)) addInto(f, { cpu: -a.resources.cpu, memory: -a.resources.memory, disk: -a.resources.disk });
  }
  return { total, free, usage: usageByNamespace(live) };
}

/** Live usage per namespace, from the allocs holding capacity: the `usage` argument of pickNextEval. */
export function usageByNamespace(allocs: readonly Alloc[]): Map<string, Resources> {
  const m = new Map<string, Resources>();
  for (const a of allocs) {
    if (!isHoldingCapacity(a)) continue;
    let u = m.get(a.namespace);
    if (!u) m.set(a.namespace, (u = { cpu: 0, memory: 0, disk: 0 }));
    addInto(u, a.resources);
  }
  return m;
}

/** a blocked eval, as the unblocker weighs it */
export interface BlockedEval extends EvalCandidate {
  /** a replacement of lost work: it takes freed room before the queue */
  replacement: boolean;
  /** what one alloc of it asks; absent: wake it whenever room frees */
  ask: Resources | undefined;
}

/**
 * Which blocked evals to wake now that room freed (pure; the store writes
 * the answer): in serving order (priority, replacements first, age, and
 * fair share between namespaces), each takes its ask out of the free room
 * of the first node it fits, so only what could fit wakes, not the whole
 * queue. `blocked` comes in priority and age order; `room` is consumed.
 * O(evals × namespaces): each step weighs only the namespaces' heads.
 */
export function blockedToWake(blocked: readonly BlockedEval[], room: Room): string[] {
  const rows = [...blocked].sort((a, b) => b.priority - a.priority || Number(b.replacement) - Number(a.replacement));
  const { usage, total, free } = room;
  const wake: string[] = [];
  const queues = new Map<string, BlockedEval[]>();
  for (const r of rows) {
    const list = queues.get(r.namespace) ?? [];
    list.push(r);
    queues.set(r.namespace, list);
  }
  const next = new Map([...queues.keys()].map((ns) => [ns, 0]));
  for (;;) {
    const heads = [...queues].flatMap(([ns, list]) => (next.get(ns)! < list.length ? [list[next.get(ns)!]] : []));
    if (heads.length === 0) break;
    const id = pickNextEval(heads, usage, total) ?? heads[0].id;
    const c = heads.find((x) => x.id === id)!;
    next.set(c.namespace, next.get(c.namespace)! + 1);
    if (!c.ask) {
      wake.push(c.id);
      continue;
    }
    const ask = c.ask;
    const node = [...free.values()].find((f) => fits(ask, f) === undefined);
    if (!node) continue;
    node.cpu -= ask.cpu;
    node.memory -= ask.memory;
    node.disk -= ask.disk;
    const u = usage.get(c.namespace) ?? { cpu: 0, memory: 0, disk: 0 };
    usage.set(c.namespace, { cpu: u.cpu + ask.cpu, memory: u.memory + ask.memory, disk: u.disk + ask.disk });
    wake.push(c.id);
  }
  return wake;
}
