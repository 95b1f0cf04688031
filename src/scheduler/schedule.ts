/**
 * The scheduler: reconcile, then place every due alloc on the best feasible node.
 *
 * Almost every alloc of one eval asks for the same resources, so
 * usage-independent filtering runs once per node, and a node that stops fitting
 * never fits again within the plan. Candidates sit in a heap ordered by the
 * job's ranking; only the node just placed on changes rank. Cost:
 * O(usage + nodes + allocs·log nodes). The few allocs that ask for more (OOM
 * retries with grown memory) are placed first by a linear scan, so the heap is
 * built on usage that already includes them.
 */
import type { Alloc, NodeInfo, PlacementFailure, Resources } from '../api/types.js';
import { formatBytes, formatCpu } from '../spec/units.js';
import { explainDynamic, explainFailures } from './explain.js';
import { liveJobAllocs, PlanFeasibility, staticReason } from './feasibility.js';
import { Heap } from './heap.js';
import { planPreemption } from './preempt.js';
import { scheduleQueue } from './queue.js';
import { comparator, SpreadScore, type NodeComparator, type NodeState } from './rank.js';
import { isParentJob, reconcile, type PlaceRequest } from './reconcile.js';
import { addInto, fitsWithin, sumTaskResources, type ResourceDimension } from './resources.js';
import { allocResources } from './retry.js';
import { systemAllocName } from './system.js';
import type { Plan, PlannedAlloc, Scheduler, SchedulerSnapshot } from './types.js';
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

/** A due placement with what it asks for. */
interface Due {
  req: PlaceRequest;
  ask: Resources;
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
  if (wanted.followUpAt !== undefined) plan.followUpAt = wanted.followUpAt;
  if (wanted.createDeployment) plan.createDeployment = wanted.createDeployment;
  if (wanted.deploymentId) plan.deploymentId = wanted.deploymentId;
  if (wanted.deploymentUpdates) plan.deploymentUpdates = wanted.deploymentUpdates;
  if (job && !job.stopped && isParentJob(job.spec) && snapshot.queue) {
    const q = scheduleQueue(snapshot, job, schedule);
    plan.place = q.place;
    plan.stop.push(...q.stop);
    plan.failures = q.failures;
    plan.queuedAllocs = q.queuedAllocs;
    if (q.runs) plan.runs = q.runs;
    return plan;
  }
  if (!job || job.stopped || isParentJob(job.spec)) return plan;

  const spec = job.spec;
  const ask = sumTaskResources(spec);
  const common: Due[] = [];
  const odd: Due[] = [];
  for (const p of wanted.place) {
    if (p.notBefore !== undefined && p.notBefore > now) {
      plan.followUpAt = plan.followUpAt === undefined ? p.notBefore : Math.min(plan.followUpAt, p.notBefore);
    } else if (p.taskResources) {
      odd.push({ req: p, ask: allocResources(spec, p.taskResources) });
    } else {
      common.push({ req: p, ask });
    }
  }
  if (common.length === 0 && odd.length === 0) return plan;

  const states = nodeStates(snapshot.nodes, snapshot.usage, job.id, job.namespace);
  // Host ports, distinct_hosts and spread depend on where the job's allocs are, this plan's included.
  const stopping = new Set(plan.stop.map((x) => x.allocId));
  const extra = new PlanFeasibility(spec, job, snapshot.nodes, snapshot.usage, stopping);
  let spread: SpreadScore | undefined;
  const placeOn = (s: NodeState, d: Due): void => {
    const placed: PlannedAlloc = {
      name: spec.type === 'system' ? systemAllocName(job.id, s.node) : `${job.id}[${d.req.index}]`,
      index: d.req.index,
      nodeId: s.node.id,
      nodeName: s.node.name,
      jobVersion: job.version,
      resources: { ...d.ask },
      attempt: d.req.attempt,
    };
    if (d.req.taskResources !== undefined) placed.taskResources = d.req.taskResources;
    if (d.req.previousAllocId !== undefined) placed.previousAllocId = d.req.previousAllocId;
    const ports = extra.place(s.node);
    if (ports) placed.ports = ports;
    spread?.add(s.node);
    if (d.req.deployment) placed.deployment = true;
    if (d.req.canary) placed.canary = true;
    plan.place.push(placed);
    addInto(s.used, d.ask);
    s.jobAllocs++;
  };

  if (spec.type === 'system') {
    // Each system alloc has exactly one possible home: it fits there or waits for room there.
    const byNode = (a: Due, b: Due): number => (a.req.nodeId! < b.req.nodeId! ? -1 : a.req.nodeId! > b.req.nodeId! ? 1 : 0);
    for (const d of [...odd, ...common].sort(byNode)) {
      const s = d.req.nodeId === undefined ? undefined : states.get(d.req.nodeId);
      if (!s) continue;
      const short = fitsWithin(d.ask, s.node.capacity, s.used);
      const why = short ?? extra.reason(s.node);
      if (why === undefined) {
        placeOn(s, d);
      } else {
        plan.queuedAllocs++;
        plan.failures.push(
          typeof why === 'string' ? systemFailure(s.node, why, d.ask, s.used, snapshot.nodes.length) : explainDynamic(s.node, why, snapshot.nodes.length),
        );
      }
    }
    return plan;
  }

  common.sort((a, b) => a.req.index - b.req.index);
  odd.sort((a, b) => a.req.index - b.req.index);

  const feasible: NodeState[] = [];
  const queued: Due[] = [];
  for (const s of states.values()) if (staticReason(s.node, spec) === undefined) feasible.push(s);
  if (spec.spread?.length) {
    const byId = new Map(snapshot.nodes.map((n) => [n.id, n]));
    const live = liveJobAllocs(job, snapshot.usage, stopping).flatMap((a) => byId.get(a.nodeId) ?? []);
    spread = new SpreadScore(
      spec.spread,
      feasible.map((s) => s.node),
      live,
    );
  }

  for (const d of odd) {
    const best = bestByScan(feasible, d.ask, comparator(spec.scheduling ?? 'binpack', d.ask, spread), extra);
    if (best) placeOn(best, d);
    else queued.push(d);
  }

  if (common.length > 0) {
    const candidates = feasible.filter((s) => fitsWithin(ask, s.node.capacity, s.used) === undefined);
    // Spread scores of every node move as allocs land, so a heap would go stale: scan per alloc instead
    // (O(allocs·nodes), fine for the service-sized counts spread is for).
    const heap = new Heap(spread ? [] : candidates, comparator(spec.scheduling ?? 'binpack', ask));
    for (const d of common) {
      if (spread) {
        const best = bestByScan(candidates, ask, comparator(spec.scheduling ?? 'binpack', ask, spread), extra);
        if (best) placeOn(best, d);
        else queued.push(d);
        continue;
      }
      let best = heap.peek();
      // A node that lost a port or a distinct_hosts value to this plan never gets it back: drop it for good.
      while (best && extra.active && extra.reason(best.node) !== undefined) {
        heap.pop();
        best = heap.peek();
      }
      if (!best) {
        queued.push(d);
        continue;
      }
      placeOn(best, d);
      if (fitsWithin(ask, best.node.capacity, best.used) === undefined) heap.updateTop();
      else heap.pop();
    }
  }

  plan.queuedAllocs = queued.length;
  if (queued.length > 0) {
    // Explain with the common ask when it is among the queued, else the first grown one.
    const explainAsk = queued.find((d) => d.ask === ask)?.ask ?? queued[0].ask;
    plan.failures = explainFailures(
      snapshot.nodes,
      spec,
      explainAsk,
      (n) => states.get(n.id)!.used,
      (n) => extra.reason(n),
    );
    if (spec.preempt) {
      const p = planPreemption(
        snapshot,
        job,
        feasible,
        queued.map((d) => d.ask),
      );
      plan.stop.push(...p.stop);
      if (p.failure) plan.failures.unshift(p.failure);
    }
  }
  return plan;
};

function bestByScan(states: readonly NodeState[], ask: Resources, cmp: NodeComparator, extra: PlanFeasibility): NodeState | undefined {
  let best: NodeState | undefined;
  for (const s of states) {
    if (fitsWithin(ask, s.node.capacity, s.used) !== undefined) continue;
    if (extra.active && extra.reason(s.node) !== undefined) continue;
    if (!best || cmp(s, best) < 0) best = s;
  }
  return best;
}

function formatAsk(d: ResourceDimension, v: number): string {
  return d === 'cpu' ? formatCpu(v) : formatBytes(v);
}

/** A system alloc that does not fit its node, with that node's numbers. */
function systemFailure(node: NodeInfo, d: ResourceDimension, ask: Resources, used: Resources, nodesEvaluated: number): PlacementFailure {
  const free = Math.max(0, node.capacity[d] - used[d]);
  return {
    dimension: d,
    message: `${d}: node ${node.name} has ${formatAsk(d, free)} free, ${formatAsk(d, ask[d])} needed`,
    nodesEvaluated,
    nodesFiltered: 1,
    // Only that node can take this alloc: if it is too small even empty, waiting will not help.
    neverFits: node.capacity[d] < ask[d],
  };
}
