/**
 * Reconcile for system jobs: one live alloc on every node that can run the job.
 * Allocs are keyed by node id, not by index (every system alloc has index 0):
 * nodes come and go, so any numbering of them would shift under the allocs.
 * Placement then only asks "does it fit on this node?" (schedule.ts).
 */
import type { Alloc, Job, NodeInfo } from '../api/types.js';
import { staticReason } from './feasibility.js';
import { decideIndex, isLive, type PlaceRequest, type ReconcileResult } from './reconcile.js';

function newestFirst(a: Alloc, b: Alloc): number {
  return b.createIndex - a.createIndex;
}

/** Why a system alloc must leave its node, or undefined when the node may keep it. */
export function systemStopReason(node: NodeInfo | undefined, job: Job): string | undefined {
  if (!node) return 'node no longer registered';
  if (node.drain) return 'node draining';
  const r = staticReason(node, job.spec);
  if (!r) return undefined;
  if (r.dimension === 'node-status') return `node ${r.status}`;
  return 'node no longer eligible';
}

/** The alloc name of a system job on a node: the node name says where it runs. */
export function systemAllocName(jobId: string, node: Pick<NodeInfo, 'name'>): string {
  return `${jobId}[${node.name}]`;
}

export function reconcileSystem(job: Job, jobAllocs: readonly Alloc[], nodes: readonly NodeInfo[]): ReconcileResult {
  const result: ReconcileResult = { place: [], stop: [] };
  const byNode = new Map<string, Alloc[]>();
  for (const a of jobAllocs) {
    const list = byNode.get(a.nodeId);
    if (list) list.push(a);
    else byNode.set(a.nodeId, [a]);
  }
  const nodeById = new Map(nodes.map((n) => [n.id, n]));

  // Allocs on nodes that may no longer run the job (or that left the snapshot).
  for (const [nodeId, allocs] of byNode) {
    const why = systemStopReason(nodeById.get(nodeId), job);
    if (why === undefined) continue;
    for (const a of allocs) if (isLive(a)) result.stop.push({ allocId: a.id, description: why });
  }

  // Node ids sorted so plans are deterministic whatever order the store lists nodes in.
  const wanted = nodes.filter((n) => systemStopReason(n, job) === undefined).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const node of wanted) {
    const allocs = byNode.get(node.id) ?? [];
    const live = allocs.filter(isLive).sort(newestFirst);
    const current = live.filter((a) => a.jobVersion === job.version);
    const older = live.filter((a) => a.jobVersion !== job.version);

    for (const a of older) result.stop.push({ allocId: a.id, description: `replaced by version ${job.version}` });
    if (current.length > 0) {
      for (const dup of current.slice(1)) result.stop.push({ allocId: dup.id, description: `duplicate of ${current[0].id}` });
      continue;
    }
    if (older.length > 0) {
      result.place.push({ index: 0, attempt: 0, previousAllocId: older[0].id, nodeId: node.id });
      continue;
    }
    // The node's own history decides, exactly as an index's does for a service:
    // failed → restart.delayMs later with attempt+1; stopped or lost → same attempt, now.
    const decision = decideIndex(
      job,
      allocs.filter((a) => a.jobVersion === job.version),
    );
    if (decision.kind !== 'place') continue;
    const req: PlaceRequest = { index: 0, attempt: decision.attempt, nodeId: node.id };
    if (decision.previousAllocId !== undefined) req.previousAllocId = decision.previousAllocId;
    if (decision.notBefore !== undefined) req.notBefore = decision.notBefore;
    if (decision.taskResources !== undefined) req.taskResources = decision.taskResources;
    result.place.push(req);
  }
  return result;
}
