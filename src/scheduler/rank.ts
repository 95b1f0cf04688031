/**
 * Ranking among feasible nodes. Each algorithm is a comparator over node states
 * (negative = `a` is the better home for one more alloc asking `ask`); ties go
 * to the lower node id so plans are deterministic.
 */
import type { NodeInfo, Resources } from '../api/types.js';

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

export function comparator(ranking: Ranking, ask: Resources): NodeComparator {
  if (ranking === 'spread') {
    return (a, b) => a.jobAllocs - b.jobAllocs || fullnessAfter(a, ask) - fullnessAfter(b, ask) || byId(a, b);
  }
  return (a, b) => fullnessAfter(b, ask) - fullnessAfter(a, ask) || byId(a, b);
}

/** Nodes best first; for callers that want the whole order (e.g. to explain a choice). */
export function rankNodes(states: readonly NodeState[], ranking: Ranking, ask: Resources): NodeState[] {
  return [...states].sort(comparator(ranking, ask));
}
