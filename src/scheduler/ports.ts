/**
 * Host ports. Every placed alloc gets a host port per named task port: a static
 * one exactly as asked, a dynamic one picked from the node's range. A port is
 * taken on a node while an alloc holding it there holds capacity (pending or
 * running, even when told to stop: the process may still be bound to it), and
 * by every placement the plan already made there.
 */
import type { Alloc, JobSpec, NodeInfo } from '../api/types.js';
import { isHoldingCapacity } from './usage.js';

export type AllocPorts = NonNullable<Alloc['ports']>;

/** Used when the agent did not say which ports it may hand out. */
export const DEFAULT_PORT_RANGE: Readonly<{ from: number; to: number }> = Object.freeze({ from: 20000, to: 32000 });

export type PortReason =
  /** a static port of the job is already taken on the node */
  | { kind: 'in-use'; port: number }
  /** the job asks for the same static port twice: no node can ever satisfy it */
  | { kind: 'duplicate'; port: number }
  /** fewer free ports left in the node's range than the job's dynamic ports */
  | { kind: 'exhausted'; needed: number };

/** Every host port an alloc holds, over its tasks. */
export function hostPortsOf(ports: AllocPorts | undefined): number[] {
  const out: number[] = [];
  if (!ports) return out;
  for (const task of Object.values(ports)) for (const p of Object.values(task)) out.push(p.host);
  return out;
}

/** Host ports taken per node id by the allocs that still hold their node. */
export function usedPortsByNode(usage: readonly Alloc[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const a of usage) {
    if (!a.ports || !isHoldingCapacity(a)) continue;
    let set = out.get(a.nodeId);
    if (!set) out.set(a.nodeId, (set = new Set()));
    for (const p of hostPortsOf(a.ports)) set.add(p);
  }
  return out;
}

/** Whether the job asks for any host port at all: most do not, and skip all of this. */
export function wantsPorts(spec: JobSpec): boolean {
  return spec.tasks.some((t) => (t.ports?.length ?? 0) > 0);
}

function rangeOf(node: NodeInfo): { from: number; to: number } {
  const r = node.portRange;
  return r && r.from >= 1 && r.to >= r.from ? r : DEFAULT_PORT_RANGE;
}

/** Why one more alloc of the job cannot get its ports on the node, or undefined when it can. */
export function portReason(spec: JobSpec, node: NodeInfo, used: ReadonlySet<number> | undefined): PortReason | undefined {
  const mine = new Set<number>();
  let dynamic = 0;
  for (const t of spec.tasks) {
    for (const p of t.ports ?? []) {
      if (p.static === undefined) {
        dynamic++;
        continue;
      }
      if (mine.has(p.static)) return { kind: 'duplicate', port: p.static };
      mine.add(p.static);
    }
  }
  // Sorted so the message names the same port whatever the order of tasks.
  for (const port of [...mine].sort((a, b) => a - b)) if (used?.has(port)) return { kind: 'in-use', port };
  if (dynamic > 0) {
    const { from, to } = rangeOf(node);
    let free = 0;
    for (let p = from; p <= to && free < dynamic; p++) if (!used?.has(p) && !mine.has(p)) free++;
    if (free < dynamic) return { kind: 'exhausted', needed: dynamic };
  }
  return undefined;
}

/**
 * The host ports for one more alloc of the job on the node, and marks them used.
 * Dynamic ports take the lowest free ports of the node's range, in task then port
 * order, so plans are deterministic. Call only after `portReason` said yes.
 */
export function assignPorts(spec: JobSpec, node: NodeInfo, used: Set<number>): AllocPorts {
  const out: AllocPorts = {};
  // Static ports first: a dynamic port must never take a number a static one of this alloc names.
  for (const t of spec.tasks) for (const p of t.ports ?? []) if (p.static !== undefined) used.add(p.static);
  const { from, to } = rangeOf(node);
  let next = from;
  for (const t of spec.tasks) {
    if (!t.ports?.length) continue;
    const task: AllocPorts[string] = {};
    for (const p of t.ports) {
      let host: number;
      if (p.static !== undefined) {
        host = p.static;
      } else {
        while (next <= to && used.has(next)) next++;
        if (next > to) throw new Error(`no free port in ${from}-${to} on node ${node.name}: check portReason first`);
        host = next;
        used.add(host);
      }
      task[p.name] = p.to !== undefined ? { host, to: p.to } : { host };
    }
    out[t.name] = task;
  }
  return out;
}

/** The first host port of `ports` already in `used`, or undefined: the plan check's collision test. */
export function collision(ports: AllocPorts | undefined, used: ReadonlySet<number> | undefined): number | undefined {
  const seen = new Set<number>();
  for (const p of hostPortsOf(ports)) {
    if (used?.has(p) || seen.has(p)) return p;
    seen.add(p);
  }
  return undefined;
}
