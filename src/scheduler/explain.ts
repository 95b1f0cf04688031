/**
 * Why allocs could not be placed, per dimension, with numbers a user can act on
 * ("memory: 0 of 2 nodes have 20 GiB free"). Static filters count each node under
 * the first check it fails, in the order feasibility runs them. Resource
 * dimensions are counted independently over the nodes that passed every static
 * check, so each message reads as "of the nodes that could run this job".
 */
import type { Constraint, JobSpec, NodeInfo, PlacementFailure, Resources } from '../api/types.js';
import { formatBytes, formatCpu } from '../spec/units.js';
import { ALLOWANCE_TEXT as ALLOWANCES } from '../spec/allowances.js';
import { staticReason, type Allowance, type DynamicReason } from './feasibility.js';
import { fits, RESOURCE_DIMENSIONS, type ResourceDimension } from './resources.js';

function nodes(n: number): string {
  return n === 1 ? '1 node' : `${n} nodes`;
}

function isAre(n: number): string {
  return n === 1 ? 'is' : 'are';
}

function formatAsk(d: ResourceDimension, v: number): string {
  return d === 'cpu' ? formatCpu(v) : formatBytes(v);
}

function describeConstraint(c: Constraint): string {
  // distinct_hosts without an attribute means "per node": print just the operator.
  const attr = c.attribute.trim() === '' ? '' : `${c.attribute} `;
  return `${attr}${c.operator}${c.value === '' ? '' : ` ${c.value}`}`;
}

/** One node's usage-dependent reason, for system jobs (each alloc has a single possible node). */
export function explainDynamic(node: NodeInfo, r: DynamicReason, nodesEvaluated: number): PlacementFailure {
  const base = { dimension: r.dimension, nodesEvaluated, nodesFiltered: 1, neverFits: false };
  if (r.dimension === 'constraint') return { ...base, message: `constraint ${describeConstraint(r.constraint)} filtered node ${node.name}` };
  if (r.kind === 'in-use') return { ...base, message: `port ${r.port}: in use on node ${node.name}` };
  if (r.kind === 'duplicate') return { ...base, message: `port ${r.port}: asked for twice by this job`, neverFits: true };
  return { ...base, message: `ports: node ${node.name} has fewer than ${r.needed} free in its dynamic port range` };
}

/**
 * @param usedOf current usage of a node, including what this plan already placed there
 * @param dynamicOf the node's distinct_hosts or host port reason, given this plan's placements;
 *   counted, like resources, over the nodes that pass every static check
 */
export function explainFailures(
  all: readonly NodeInfo[],
  spec: JobSpec,
  ask: Resources,
  usedOf: (node: NodeInfo) => Resources,
  dynamicOf?: (node: NodeInfo) => DynamicReason | undefined,
): PlacementFailure[] {
  const total = all.length;
  if (total === 0) {
    return [{ dimension: 'nodes', message: 'no nodes have registered', nodesEvaluated: 0, nodesFiltered: 0, neverFits: false }];
  }

  const byStatus = new Map<string, number>();
  let ineligible = 0;
  let outsideDc = 0;
  const byDriver = new Map<string, number>();
  const byConstraint = new Map<Constraint, number>();
  let reachedDriverCheck = 0;
  let failedDriverCheck = 0;
  const byVolume = new Map<string, number>();
  const byAllowance = new Map<Allowance, number>();
  const passing: NodeInfo[] = [];

  for (const node of all) {
    const r = staticReason(node, spec);
    if (r === undefined) {
      passing.push(node);
      reachedDriverCheck++;
      continue;
    }
    switch (r.dimension) {
      case 'node-status':
        byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
        break;
      case 'eligibility':
        ineligible++;
        break;
      case 'datacenter':
        outsideDc++;
        break;
      case 'driver':
        reachedDriverCheck++;
        failedDriverCheck++;
        byDriver.set(r.driver, (byDriver.get(r.driver) ?? 0) + 1);
        break;
      case 'volume': {
        reachedDriverCheck++;
        const key = `${r.volume}\0${r.problem}`;
        byVolume.set(key, (byVolume.get(key) ?? 0) + 1);
        break;
      }
      case 'allowance':
        reachedDriverCheck++;
        byAllowance.set(r.allowance, (byAllowance.get(r.allowance) ?? 0) + 1);
        break;
      case 'constraint':
        reachedDriverCheck++;
        byConstraint.set(r.constraint, (byConstraint.get(r.constraint) ?? 0) + 1);
        break;
    }
  }

  // Usage-dependent reasons over the statically passing nodes. distinct_hosts adds to its
  // constraint's count so a user sees one line per constraint.
  const portsInUse = new Map<number, number>();
  const duplicate = new Set<number>();
  let exhausted = 0;
  let needed = 0;
  for (const node of dynamicOf ? passing : []) {
    const r = dynamicOf!(node);
    if (!r) continue;
    if (r.dimension === 'constraint') byConstraint.set(r.constraint, (byConstraint.get(r.constraint) ?? 0) + 1);
    else if (r.kind === 'in-use') portsInUse.set(r.port, (portsInUse.get(r.port) ?? 0) + 1);
    else if (r.kind === 'duplicate') duplicate.add(r.port);
    else {
      exhausted++;
      needed = r.needed;
    }
  }

  const out: PlacementFailure[] = [];
  const push = (dimension: string, message: string, nodesFiltered: number, neverFits = false) =>
    out.push({ dimension, message, nodesEvaluated: total, nodesFiltered, neverFits });

  if (byStatus.size > 0) {
    const parts = [...byStatus].sort(([a], [b]) => (a < b ? -1 : 1)).map(([s, n]) => `${nodes(n)} ${isAre(n)} ${s}`);
    push(
      'node-status',
      parts.join(', '),
      [...byStatus.values()].reduce((x, y) => x + y, 0),
    );
  }
  if (ineligible > 0) push('eligibility', `${nodes(ineligible)} ${isAre(ineligible)} ineligible`, ineligible);
  if (outsideDc > 0) {
    push('datacenter', `${nodes(outsideDc)} ${isAre(outsideDc)} outside datacenters ${spec.datacenters?.join(', ')}`, outsideDc);
  }
  for (const [driver, n] of byDriver) {
    push('driver', `driver ${driver}: missing or unhealthy on ${n} of ${nodes(reachedDriverCheck)}`, n);
  }
  // Of the nodes that have the drivers: the volume check runs right after the driver check.
  const reachedVolumeCheck = reachedDriverCheck - failedDriverCheck;
  for (const [key, n] of byVolume) {
    const [volume, problem] = key.split('\0');
    const what = problem === 'missing' ? 'missing' : 'read-only (the job mounts it read-write)';
    push('volume', `volume ${volume}: ${what} on ${n} of ${nodes(reachedVolumeCheck)}`, n);
  }
  for (const [a, n] of byAllowance) {
    const { needs, how } = ALLOWANCES[a];
    push('allowance', `${needs}: ${nodes(n)} ${n === 1 ? 'does' : 'do'} not allow it (start the agent with ${how})`, n);
  }
  for (const [c, n] of byConstraint) push('constraint', `constraint ${describeConstraint(c)} filtered ${nodes(n)}`, n);

  if (passing.length === 0) return out;

  for (const port of duplicate) push('ports', `port ${port}: asked for twice by this job`, passing.length, true);
  for (const [port, n] of [...portsInUse].sort(([a], [b]) => a - b)) push('ports', `port ${port}: in use on ${n} of ${nodes(passing.length)}`, n);
  if (exhausted > 0) push('ports', `ports: ${exhausted} of ${nodes(passing.length)} have fewer than ${needed} free in their dynamic port range`, exhausted);

  // Waiting only helps if some node could hold the alloc once emptied.
  const fitsSomewhereEmpty = passing.some((n) => fits(ask, n.capacity) === undefined);
  for (const d of RESOURCE_DIMENSIONS) {
    let haveFree = 0;
    let tooSmall = 0;
    for (const node of passing) {
      if (node.capacity[d] - usedOf(node)[d] >= ask[d]) haveFree++;
      if (node.capacity[d] < ask[d]) tooSmall++;
    }
    const short = passing.length - haveFree;
    if (short === 0) continue;
    const have = passing.length === 1 ? 'has' : 'have';
    push(d, `${d}: ${haveFree} of ${nodes(passing.length)} ${have} ${formatAsk(d, ask[d])} free`, short, !fitsSomewhereEmpty && tooSmall > 0);
  }
  return out;
}
