/**
 * The scheduler: reconcile, then place every due alloc on the best feasible node.
 *
 * All allocs of one eval ask for the same resources, so usage-independent
 * filtering runs once per node, and a node that stops fitting never fits again
 * within the plan. Candidates sit in a heap ordered by the job's ranking; only
 * the node just placed on changes rank. Cost: O(usage + nodes + allocs·log nodes).
 */
import type { Alloc, NodeInfo } from '../api/types.js';
import { explainFailures } from './explain.js';
import { staticReason } from './feasibility.js';
import { Heap } from './heap.js';
import { comparator, type NodeState } from './rank.js';
import { reconcile } from './reconcile.js';
import { addInto, fitsWithin, sumTaskResources } from './resources.js';
import type { Plan, Scheduler, SchedulerSnapshot } from './types.js';
import { isHoldingCapacity } from './usage.js';

/** Per-node usage from the snapshot, computed once per schedule call. */
export function nodeStates(nodes: readonly NodeInfo[], usage: readonly Alloc[], jobId?: string, namespace?: string): Map<string, NodeState> {
  const states = new Map<string, NodeState>();
  for (const node of nodes) states.set(node.id, { node, used: { cpu: 0, memory: 0, disk: 0 }, jobAllocs: 0 });
  for (const a of usage) {
    const s = states.get(a.nodeId);
    if (!s || !isHoldingCapacity(a)) continue;
    addInto(s.used, a.resources);
    if (a.jobId === jobId && a.namespace === namespace) s.jobAllocs++;
  }
  return states;
}

export const schedule: Scheduler = (snapshot: SchedulerSnapshot): Plan => {
  const { job, now } = snapshot;
  const plan: Plan = {
    evalId: snapshot.eval.id,
    namespace: job?.namespace ?? snapshot.eval.namespace,
    jobId: job?.id ?? snapshot.eval.jobId,
    place: [],
    stop: [],
    queuedAllocs: 0,
    failures: [],
  };
  const wanted = reconcile(snapshot);
  plan.stop = wanted.stop;
  if (!job || job.stopped) return plan;

  const due = [];
  for (const p of wanted.place) {
    if (p.notBefore !== undefined && p.notBefore > now) {
      plan.followUpAt = plan.followUpAt === undefined ? p.notBefore : Math.min(plan.followUpAt, p.notBefore);
    } else {
      due.push(p);
    }
  }
  if (due.length === 0) return plan;
  due.sort((a, b) => a.index - b.index);

  const spec = job.spec;
  const ask = sumTaskResources(spec);
  const states = nodeStates(snapshot.nodes, snapshot.usage, job.id, job.namespace);
  const candidates: NodeState[] = [];
  for (const s of states.values()) {
    if (staticReason(s.node, spec) === undefined && fitsWithin(ask, s.node.capacity, s.used) === undefined) {
      candidates.push(s);
    }
  }
  const heap = new Heap(candidates, comparator(spec.scheduling ?? 'binpack', ask));

  for (const p of due) {
    const best = heap.peek();
    if (!best) {
      plan.queuedAllocs++;
      continue;
    }
    const placed: Plan['place'][number] = {
      name: `${job.id}[${p.index}]`,
      index: p.index,
      nodeId: best.node.id,
      nodeName: best.node.name,
      jobVersion: job.version,
      resources: { ...ask },
      attempt: p.attempt,
    };
    if (p.previousAllocId !== undefined) placed.previousAllocId = p.previousAllocId;
    plan.place.push(placed);
    addInto(best.used, ask);
    best.jobAllocs++;
    if (fitsWithin(ask, best.node.capacity, best.used) === undefined) heap.updateTop();
    else heap.pop();
  }

  if (plan.queuedAllocs > 0) {
    plan.failures = explainFailures(snapshot.nodes, spec, ask, (n) => states.get(n.id)!.used);
  }
  return plan;
};
