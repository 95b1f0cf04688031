/**
 * The last check before a plan commits: state may have moved since the snapshot
 * (another eval placed, a node went down), so every placement is re-fitted
 * against fresh usage plus the placements accepted before it, and its host
 * ports against the ports taken there.
 */
import type { Alloc, NodeInfo } from '../api/types.js';
import { collision, hostPortsOf, usedPortsByNode } from './ports.js';
import { addInto, fitsWithin } from './resources.js';
import type { Plan, PlanCheck } from './types.js';
import { isHoldingCapacity } from './usage.js';

export function checkPlan(plan: Plan, nodes: NodeInfo[], usage: Alloc[]): PlanCheck {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const used = new Map<string, { cpu: number; memory: number; disk: number }>();
  const usedOf = (id: string) => {
    let u = used.get(id);
    if (!u) used.set(id, (u = { cpu: 0, memory: 0, disk: 0 }));
    return u;
  };
  // Stops in the plan free nothing: the alloc holds its node until the agent reports it gone.
  for (const a of usage) if (isHoldingCapacity(a)) addInto(usedOf(a.nodeId), a.resources);
  const ports = plan.place.some((p) => p.ports) ? usedPortsByNode(usage) : undefined;

  const result: PlanCheck = { accepted: [], rejected: [] };
  for (const p of plan.place) {
    const node = byId.get(p.nodeId);
    if (!node || node.status !== 'ready' || node.eligibility !== 'eligible' || node.drain) {
      result.rejected.push(p);
      continue;
    }
    const u = usedOf(node.id);
    if (fitsWithin(p.resources, node.capacity, u) !== undefined) {
      result.rejected.push(p);
      continue;
    }
    if (ports && p.ports) {
      let taken = ports.get(node.id);
      if (collision(p.ports, taken) !== undefined) {
        result.rejected.push(p);
        continue;
      }
      if (!taken) ports.set(node.id, (taken = new Set()));
      for (const port of hostPortsOf(p.ports)) taken.add(port);
    }
    addInto(u, p.resources);
    result.accepted.push(p);
  }
  return result;
}
