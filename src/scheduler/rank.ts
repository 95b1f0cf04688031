/**
 * Ranking among feasible nodes. Each algorithm is a comparator over node states
 * (negative = `a` is the better home for one more alloc asking `ask`); ties go
 * to the lower node id so plans are deterministic.
 *
 * A job's `spread` (e.g. over `${label.zone}`) adds a score per node from how
 * many allocs of the job its attribute value already has, so replicas fill
 * every zone before any zone gets a second one.
 */
import type { JobSpec, NodeInfo, Resources } from '../api/types.js';
import { interpolate } from './feasibility.js';

/** A node as the placement loop sees it: usage is mutated as the plan places allocs. */
export interface NodeState {
  node: NodeInfo;
  used: Resources;
  /** allocs of the job being scheduled on this node (usage + this plan): for spread */
  jobAllocs: number;
}

export type Ranking = 'binpack' | 'spread';
export type NodeComparator = (a: NodeState, b: NodeState) => number;

function fraction(used: number, capacity: number): number {
  // A dimension the node does not have counts as full, so it never looks attractive.
  return capacity > 0 ? used / capacity : 1;
}

/** Mean of the cpu and memory fractions used once `ask` is placed; higher = fuller. */
export function fullnessAfter(s: NodeState, ask: Resources): number {
  const cap = s.node.capacity;
  return (fraction(s.used.cpu + ask.cpu, cap.cpu) + fraction(s.used.memory + ask.memory, cap.memory)) / 2;
}

function byId(a: NodeState, b: NodeState): number {
  return a.node.id < b.node.id ? -1 : a.node.id > b.node.id ? 1 : 0;
}

/**
 * Even spread of a job's allocs over the values of node attributes. For each
 * spread, a node scores 0 when its value has the fewest allocs of the job among
 * the candidate values and down to -1 when it has the most (-1 also when the
 * node lacks the attribute), times weight / 50. The ranking algorithm itself
 * counts as weight 50, the default: since binpack fullness differs by less than
 * 1 between nodes, a default-weight spread wins over packing, and a lower weight
 * trades evenness for packing.
 */
export class SpreadScore {
  private readonly spreads: Array<{ attribute: string; factor: number; counts: Map<string, number>; min: number; max: number }>;
  private dirty = true;

  /**
   * @param candidates nodes the job may be placed on: their values are the ones to even out
   * @param allocNodes the node of each live alloc of the job (one entry per alloc)
   */
  constructor(spreads: NonNullable<JobSpec['spread']>, candidates: readonly NodeInfo[], allocNodes: Iterable<NodeInfo>) {
    this.spreads = spreads.map((sp) => {
      const counts = new Map<string, number>();
      for (const n of candidates) {
        const v = interpolate(n, sp.attribute);
        if (v !== undefined) counts.set(v, 0);
      }
      return { attribute: sp.attribute, factor: sp.weight / 50, counts, min: 0, max: 0 };
    });
    for (const n of allocNodes) this.add(n);
  }

  /** Counts one more alloc of the job on the node. */
  add(node: NodeInfo): void {
    for (const sp of this.spreads) {
      const v = interpolate(node, sp.attribute);
      // Values no candidate has still count for nothing: no choice could even them out.
      if (v !== undefined && sp.counts.has(v)) sp.counts.set(v, sp.counts.get(v)! + 1);
    }
    this.dirty = true;
  }

  /** ≤ 0; higher is better. */
  score(node: NodeInfo): number {
    if (this.dirty) this.refresh();
    let total = 0;
    for (const sp of this.spreads) {
      const v = interpolate(node, sp.attribute);
      const c = v === undefined ? undefined : sp.counts.get(v);
      const s = c === undefined ? -1 : -(c - sp.min) / Math.max(1, sp.max - sp.min);
      total += sp.factor * s;
    }
    return total;
  }

  private refresh(): void {
    for (const sp of this.spreads) {
      let min = Infinity;
      let max = -Infinity;
      for (const c of sp.counts.values()) {
        if (c < min) min = c;
        if (c > max) max = c;
      }
      sp.min = Number.isFinite(min) ? min : 0;
      sp.max = Number.isFinite(max) ? max : 0;
    }
    this.dirty = false;
  }
}

/**
 * Without `spread`, each ranking is exact (binpack by fullness, spread by the
 * job's allocs on the node then emptiness). With it, the ranking becomes a score
 * (binpack: fullness; spread: minus allocs of the job on the node minus
 * fullness) plus the spread score. Scores of other nodes change as the plan
 * places, so such a comparator is for a linear scan, not a heap.
 */
export function comparator(ranking: Ranking, ask: Resources, spread?: SpreadScore): NodeComparator {
  if (spread) {
    const base = ranking === 'spread' ? (s: NodeState) => -s.jobAllocs - fullnessAfter(s, ask) : (s: NodeState) => fullnessAfter(s, ask);
    return (a, b) => base(b) + spread.score(b.node) - (base(a) + spread.score(a.node)) || byId(a, b);
  }
  if (ranking === 'spread') {
    return (a, b) => a.jobAllocs - b.jobAllocs || fullnessAfter(a, ask) - fullnessAfter(b, ask) || byId(a, b);
  }
  return (a, b) => fullnessAfter(b, ask) - fullnessAfter(a, ask) || byId(a, b);
}

/** Nodes best first; for callers that want the whole order (e.g. to explain a choice). */
export function rankNodes(states: readonly NodeState[], ranking: Ranking, ask: Resources): NodeState[] {
  return [...states].sort(comparator(ranking, ask));
}
