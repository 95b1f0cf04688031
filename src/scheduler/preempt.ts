/**
 * Preemption: when a job with `preempt: true` cannot place an alloc anywhere,
 * find a node where stopping live allocs of lower-priority batch jobs frees
 * enough, preferring the fewest victims, then the lowest priorities.
 *
 * The preempting alloc is not placed in the same plan: the victims hold their
 * node until their agent reports them gone, so the job waits (a blocked eval)
 * and is placed by the eval that capacity freeing triggers. Victims already
 * stopping for this job count as room on the way, so a second eval in the
 * meantime does not preempt again for the same need.
 */
import type { Alloc, Job, PlacementFailure, Resources } from '../api/types.js';
import type { NodeState } from './rank.js';
import { addInto, fitsWithin } from './resources.js';
import type { AllocStop, SchedulerSnapshot } from './types.js';
import { isHoldingCapacity } from './usage.js';

export interface PreemptionResult {
  stop: AllocStop[];
  /** "waiting for N preempted runs to stop", when any are on their way out */
  failure?: PlacementFailure;
}

interface Victim {
  alloc: Alloc;
  priority: number;
}

/**
 * @param feasible nodes that pass the job's static checks, with usage including this plan's placements
 * @param asks what each queued alloc asks for, in placement order
 */
export function planPreemption(
  snapshot: Pick<SchedulerSnapshot, 'usage' | 'jobPriorities' | 'nodes'>,
  job: Job,
  feasible: readonly NodeState[],
  asks: readonly Resources[],
): PreemptionResult {
  const priorities = snapshot.jobPriorities ?? {};
  const priority = job.spec.priority;
  const onFeasible = new Set(feasible.map((s) => s.node.id));

  // What each node will have in use once the runs stopping for this job are gone.
  const future = new Map<string, Resources>();
  for (const s of feasible) future.set(s.node.id, { ...s.used });
  let inFlight = 0;
  const victims = new Map<string, Victim[]>();
  for (const a of snapshot.usage) {
    if (!isHoldingCapacity(a)) continue;
    if (a.preemptedBy === job.id && a.desiredStatus === 'stop') {
      inFlight++;
      const f = future.get(a.nodeId);
      if (f) addInto(f, negate(a.resources));
      continue;
    }
    if (a.desiredStatus !== 'run' || a.preemptedBy !== undefined || !onFeasible.has(a.nodeId)) continue;
    if (a.namespace === job.namespace && a.jobId === job.id) continue;
    const p = priorities[`${a.namespace}/${a.jobId}`];
    if (p === undefined || p >= priority) continue;
    const list = victims.get(a.nodeId);
    const v = { alloc: a, priority: p };
    if (list) list.push(v);
    else victims.set(a.nodeId, [v]);
  }
  // Lowest priority first; among equals the biggest first, so fewer are needed.
  for (const list of victims.values())
    list.sort(
      (x, y) =>
        x.priority - y.priority ||
        y.alloc.resources.memory - x.alloc.resources.memory ||
        y.alloc.resources.cpu - x.alloc.resources.cpu ||
        (x.alloc.id < y.alloc.id ? -1 : 1),
    );

  const stop: AllocStop[] = [];
  for (const ask of asks) {
    // Room already on its way (or left by this plan's earlier choices): wait for it.
    const waiting = feasible.find((s) => fitsWithin(ask, s.node.capacity, future.get(s.node.id)!) === undefined);
    if (waiting) {
      addInto(future.get(waiting.node.id)!, ask);
      continue;
    }
    const choice = chooseVictims(feasible, victims, future, ask);
    if (!choice) continue;
    const f = future.get(choice.node.node.id)!;
    for (const v of choice.victims) {
      addInto(f, negate(v.alloc.resources));
      stop.push({ allocId: v.alloc.id, description: `preempted by ${job.id}`, preemptedBy: job.id });
    }
    addInto(f, ask);
    const left = victims.get(choice.node.node.id)!.filter((v) => !choice.victims.includes(v));
    victims.set(choice.node.node.id, left);
  }

  const waitingFor = inFlight + stop.length;
  const result: PreemptionResult = { stop };
  if (waitingFor > 0) {
    result.failure = {
      dimension: 'preemption',
      message: `waiting for ${waitingFor} preempted ${waitingFor === 1 ? 'run' : 'runs'} to stop`,
      nodesEvaluated: snapshot.nodes.length,
      nodesFiltered: 0,
      neverFits: false,
    };
  }
  return result;
}

interface Choice {
  node: NodeState;
  victims: Victim[];
  /** highest priority among the victims, then their sum: lower is better */
  maxPriority: number;
  sumPriority: number;
}

function chooseVictims(feasible: readonly NodeState[], victims: Map<string, Victim[]>, future: Map<string, Resources>, ask: Resources): Choice | undefined {
  let best: Choice | undefined;
  for (const s of feasible) {
    const list = victims.get(s.node.id);
    if (!list || list.length === 0) continue;
    const cap = s.node.capacity;
    const used = { ...future.get(s.node.id)! };
    const chosen: Victim[] = [];
    for (const v of list) {
      if (fitsWithin(ask, cap, used) === undefined) break;
      addInto(used, negate(v.alloc.resources));
      chosen.push(v);
    }
    if (fitsWithin(ask, cap, used) !== undefined) continue;
    // The greedy pass may have taken some it did not need: give back the highest-priority ones that are not.
    for (let i = chosen.length - 1; i >= 0; i--) {
      const r = chosen[i].alloc.resources;
      addInto(used, r);
      if (fitsWithin(ask, cap, used) === undefined) chosen.splice(i, 1);
      else addInto(used, negate(r));
    }
    const c: Choice = {
      node: s,
      victims: chosen,
      maxPriority: Math.max(...chosen.map((v) => v.priority)),
      sumPriority: chosen.reduce((x, v) => x + v.priority, 0),
    };
    if (!best || better(c, best)) best = c;
  }
  return best;
}

function better(a: Choice, b: Choice): boolean {
  if (a.victims.length !== b.victims.length) return a.victims.length < b.victims.length;
  if (a.maxPriority !== b.maxPriority) return a.maxPriority < b.maxPriority;
  if (a.sumPriority !== b.sumPriority) return a.sumPriority < b.sumPriority;
  return a.node.node.id < b.node.node.id;
}

function negate(r: Resources): Resources {
  return { cpu: -r.cpu, memory: -r.memory, disk: -r.disk };
}
