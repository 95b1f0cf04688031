/**
 * Feasibility: why a node cannot take an alloc of a job. The checks that do not
 * depend on usage (status, eligibility, datacenter, drivers, host volumes,
 * constraints) are separated from the resource check so the scheduler runs them
 * once per node per eval rather than once per alloc. The few checks that depend
 * on where the job's other allocs are (distinct_hosts) or on what else runs on
 * the node (host ports) live in `PlanFeasibility`, which the placement loop
 * updates as it places.
 */
import type { Alloc, Constraint, JobSpec, NodeInfo, NodeStatus, Resources } from '../api/types.js';
import { assignPorts, portReason, usedPortsByNode, wantsPorts, type AllocPorts, type PortReason } from './ports.js';
import { fitsWithin, type ResourceDimension } from './resources.js';
import { isHoldingCapacity } from './usage.js';
import {
  ALLOW_ROOT_ATTRIBUTE,
  asksForRoot,
  dockerAllowAttribute,
  dockerAsks,
  HOST_PATHS_ATTRIBUTE,
  parsePrefixes,
  underPrefix,
  type Allowance,
} from '../spec/allowances.js';

export type StaticReason =
  | { dimension: 'node-status'; status: NodeStatus }
  | { dimension: 'eligibility' }
  | { dimension: 'datacenter'; datacenter: string }
  | { dimension: 'driver'; driver: string }
  | { dimension: 'volume'; volume: string; problem: 'missing' | 'read-only' }
  | { dimension: 'allowance'; allowance: Allowance }
  | { dimension: 'constraint'; constraint: Constraint };

export type { Allowance } from '../spec/allowances.js';

/** The first thing the job asks for that the node's operator did not allow, or undefined. */
export function allowanceReason(node: NodeInfo, spec: JobSpec): Extract<StaticReason, { dimension: 'allowance' }> | undefined {
  // an agent that says nothing (older than these checks) is taken as not allowing it
  const attr = (k: string): string | undefined => (Object.hasOwn(node.attributes, k) ? node.attributes[k] : undefined);
  for (const t of spec.tasks) {
    if (t.driver === 'exec' && asksForRoot(t.user) && attr(ALLOW_ROOT_ATTRIBUTE) !== 'true') return { dimension: 'allowance', allowance: 'root' };
    if (t.driver !== 'docker') continue;
    for (const a of dockerAsks(t)) if (attr(dockerAllowAttribute(a)) !== 'true') return { dimension: 'allowance', allowance: a };
    const prefixes = parsePrefixes(attr(HOST_PATHS_ATTRIBUTE));
    if ((t.mounts ?? []).some((m) => !underPrefix(m.source, prefixes))) return { dimension: 'allowance', allowance: 'host-path' };
  }
  return undefined;
}

/** Reasons that depend on the job's other allocs and the node's ports: they change as a plan places. */
export type DynamicReason = { dimension: 'constraint'; constraint: Constraint } | ({ dimension: 'ports' } & PortReason);

export type FilterReason = StaticReason | DynamicReason | { dimension: ResourceDimension };

const INTERPOLATION = /\$\{([^}]+)\}/g;

function lookup(node: NodeInfo, ref: string): string | undefined {
  switch (ref) {
    case 'node.class':
      return node.nodeClass;
    case 'node.name':
      return node.name;
    case 'node.datacenter':
      return node.datacenter;
    case 'node.id':
      return node.id;
  }
  const dot = ref.indexOf('.');
  if (dot < 0) return undefined;
  const scope = ref.slice(0, dot);
  const key = ref.slice(dot + 1);
  if (scope === 'attr') return Object.hasOwn(node.attributes, key) ? node.attributes[key] : undefined;
  if (scope === 'label') return Object.hasOwn(node.labels, key) ? node.labels[key] : undefined;
  if (scope === 'driver') {
    const d = Object.hasOwn(node.drivers, key) ? node.drivers[key] : undefined;
    return d?.healthy ? 'true' : 'false';
  }
  return undefined;
}

/**
 * Replaces every `${...}` in `expr` with the node's fact. Undefined when any
 * reference is not set on the node, so `is_set` can tell "missing" from "empty".
 */
export function interpolate(node: NodeInfo, expr: string): string | undefined {
  let missing = false;
  const out = expr.replace(INTERPOLATION, (_, ref: string) => {
    const v = lookup(node, ref.trim());
    if (v === undefined) missing = true;
    return v ?? '';
  });
  return missing ? undefined : out;
}

const NUMBER = /^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

function compare(left: string, right: string): number {
  if (NUMBER.test(left) && NUMBER.test(right)) return Number(left) - Number(right);
  return left < right ? -1 : left > right ? 1 : 0;
}

// Constraints repeat across nodes and evals; a bounded cache keeps regexp compilation off the hot path.
const regexpCache = new Map<string, RegExp | null>();

function compiled(pattern: string): RegExp | null {
  let re = regexpCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern);
    } catch {
      re = null;
    }
    if (regexpCache.size >= 1000) regexpCache.clear();
    regexpCache.set(pattern, re);
  }
  return re;
}

function toSet(s: string): Set<string> {
  return new Set(
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  );
}

/**
 * The dotted numeric prefix of a version: "6.1.0-18-amd64" → [6, 1, 0],
 * "v20.10.7" → [20, 10, 7]. Pre-release and build suffixes are ignored: node
 * facts like kernel and docker versions carry distro suffixes that say nothing
 * about ordering.
 */
export function parseVersion(s: string): number[] | undefined {
  const m = /^\s*v?(\d+(?:\.\d+)*)/.exec(s);
  return m ? m[1].split('.').map(Number) : undefined;
}

/** Compares dotted versions, missing parts as 0 (1.2 = 1.2.0). */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const VERSION_CLAUSE = /^\s*(>=|<=|!=|~>|==|=|>|<)?\s*(v?\d+(?:\.\d+)*)\s*$/;

/**
 * Whether `version` meets every comma-separated clause of `constraint`, e.g.
 * ">= 1.2, < 2". A bare version means "=", and "~> 1.2" means ">= 1.2, < 2"
 * (the last given part may grow). An unparsable clause fails the constraint.
 */
export function versionMatches(version: string, constraint: string): boolean {
  const have = parseVersion(version);
  if (!have) return false;
  const clauses = constraint.split(',');
  if (clauses.every((c) => c.trim() === '')) return false;
  for (const clause of clauses) {
    const m = VERSION_CLAUSE.exec(clause);
    if (!m) return false;
    const want = parseVersion(m[2])!;
    const d = compareVersions(have, want);
    switch (m[1] ?? '=') {
      case '=':
      case '==':
        if (d !== 0) return false;
        break;
      case '!=':
        if (d === 0) return false;
        break;
      case '>':
        if (d <= 0) return false;
        break;
      case '>=':
        if (d < 0) return false;
        break;
      case '<':
        if (d >= 0) return false;
        break;
      case '<=':
        if (d > 0) return false;
        break;
      case '~>': {
        if (d < 0) return false;
        // "~> 1.2.3" allows 1.2.x; "~> 1.2" allows 1.x; a single number only itself and up within it.
        const fixed = want.length > 1 ? want.slice(0, -1) : want;
        if (compareVersions(have.slice(0, fixed.length), fixed) !== 0) return false;
        break;
      }
    }
  }
  return true;
}

/** The value distinct_hosts keeps distinct: the attribute's, or the node itself when none is named. */
export function distinctValue(node: NodeInfo, c: Constraint): string | undefined {
  return c.attribute.trim() === '' ? node.id : interpolate(node, c.attribute);
}

/**
 * Whether the node satisfies the constraint on its own. For distinct_hosts that
 * only means the node has the attribute; whether another alloc of the job
 * already sits on that value is `PlanFeasibility`'s question.
 */
export function constraintHolds(node: NodeInfo, c: Constraint): boolean {
  if (c.operator === 'distinct_hosts') return distinctValue(node, c) !== undefined;
  const left = interpolate(node, c.attribute);
  if (c.operator === 'is_set') return left !== undefined;
  if (c.operator === 'is_not_set') return left === undefined;
  const right = interpolate(node, c.value);
  if (left === undefined || right === undefined) return false;
  switch (c.operator) {
    case '=':
      return compare(left, right) === 0;
    case '!=':
      return compare(left, right) !== 0;
    case '<':
      return compare(left, right) < 0;
    case '<=':
      return compare(left, right) <= 0;
    case '>':
      return compare(left, right) > 0;
    case '>=':
      return compare(left, right) >= 0;
    case 'regexp': {
      const re = compiled(right);
      return re !== null && re.test(left);
    }
    case 'set_contains': {
      const have = toSet(left);
      for (const want of toSet(right)) if (!have.has(want)) return false;
      return true;
    }
    case 'set_contains_any': {
      const have = toSet(left);
      for (const want of toSet(right)) if (have.has(want)) return true;
      return false;
    }
    case 'version':
      return versionMatches(left, right);
  }
  return false;
}

/** The first host volume the job mounts that the node does not offer as asked, or undefined. */
export function volumeReason(node: NodeInfo, spec: JobSpec): Extract<StaticReason, { dimension: 'volume' }> | undefined {
  for (const t of spec.tasks) {
    for (const m of t.volumes ?? []) {
      const v = node.volumes && Object.hasOwn(node.volumes, m.volume) ? node.volumes[m.volume] : undefined;
      if (!v) return { dimension: 'volume', volume: m.volume, problem: 'missing' };
      if (v.readOnly && !m.readOnly) return { dimension: 'volume', volume: m.volume, problem: 'read-only' };
    }
  }
  return undefined;
}

/** The first usage-independent reason the node cannot run this job, or undefined. */
export function staticReason(node: NodeInfo, spec: JobSpec): StaticReason | undefined {
  if (node.status !== 'ready') return { dimension: 'node-status', status: node.status };
  // A draining node is also marked ineligible by the server; checking drain too keeps
  // new work off it even if the two ever disagree.
  if (node.eligibility !== 'eligible' || node.drain) return { dimension: 'eligibility' };
  if (spec.datacenters && spec.datacenters.length > 0 && !spec.datacenters.includes(node.datacenter)) {
    return { dimension: 'datacenter', datacenter: node.datacenter };
  }
  for (const t of spec.tasks) {
    const d = Object.hasOwn(node.drivers, t.driver) ? node.drivers[t.driver] : undefined;
    if (!d || !d.healthy) return { dimension: 'driver', driver: t.driver };
  }
  const v = volumeReason(node, spec);
  if (v) return v;
  const a = allowanceReason(node, spec);
  if (a) return a;
  for (const c of spec.constraints) if (!constraintHolds(node, c)) return { dimension: 'constraint', constraint: c };
  return undefined;
}

/** Why the node cannot take one more alloc asking `ask` while `used` is taken, or undefined when it can. */
export function whyNot(node: NodeInfo, spec: JobSpec, ask: Resources, used: Resources): FilterReason | undefined {
  const r = staticReason(node, spec);
  if (r) return r;
  const short = fitsWithin(ask, node.capacity, used);
  return short ? { dimension: short } : undefined;
}

/**
 * The job's allocs that count for distinct_hosts and spread: told to run,
 * holding their node, and not stopped by this plan (their replacement may take
 * their place).
 */
export function liveJobAllocs(job: { id: string; namespace: string }, usage: readonly Alloc[], stopping: ReadonlySet<string>): Alloc[] {
  return usage.filter((a) => a.jobId === job.id && a.namespace === job.namespace && a.desiredStatus === 'run' && isHoldingCapacity(a) && !stopping.has(a.id));
}

/**
 * The usage-dependent checks beyond resources, for one plan: distinct_hosts
 * (values already taken by live allocs of the job, plus this plan's placements)
 * and host ports (taken by allocs holding their node, plus this plan's). Both
 * only ever get stricter as the plan places, so a node found infeasible stays
 * so for the rest of the plan: the placement loop may drop it for good.
 */
export class PlanFeasibility {
  private readonly distinct: Array<{ constraint: Constraint; taken: Set<string> }> = [];
  private readonly ports: Map<string, Set<number>> | undefined;

  /**
   * @param usage allocs holding capacity on their nodes (the snapshot's usage)
   * @param stopping ids of allocs this plan stops: they no longer count for distinct_hosts
   *   (their replacement may take their place), but keep their ports until they are gone
   */
  constructor(
    private readonly spec: JobSpec,
    job: { id: string; namespace: string },
    nodes: readonly NodeInfo[],
    usage: readonly Alloc[],
    stopping: ReadonlySet<string> = new Set(),
  ) {
    const distinct = spec.constraints.filter((c) => c.operator === 'distinct_hosts');
    if (distinct.length > 0) {
      const byId = new Map(nodes.map((n) => [n.id, n]));
      const live = liveJobAllocs(job, usage, stopping);
      for (const c of distinct) {
        const taken = new Set<string>();
        for (const a of live) {
          const n = byId.get(a.nodeId);
          const v = n && distinctValue(n, c);
          if (v !== undefined) taken.add(v);
        }
        this.distinct.push({ constraint: c, taken });
      }
    }
    this.ports = wantsPorts(spec) ? usedPortsByNode(usage) : undefined;
  }

  /** Whether there is anything to check: most jobs have neither ports nor distinct_hosts. */
  get active(): boolean {
    return this.distinct.length > 0 || this.ports !== undefined;
  }

  /** Why the node cannot take one more alloc of the job now, beyond resources; undefined when it can. */
  reason(node: NodeInfo): DynamicReason | undefined {
    for (const { constraint, taken } of this.distinct) {
      const v = distinctValue(node, constraint);
      if (v === undefined || taken.has(v)) return { dimension: 'constraint', constraint };
    }
    if (this.ports) {
      const r = portReason(this.spec, node, this.ports.get(node.id));
      if (r) return { dimension: 'ports', ...r };
    }
    return undefined;
  }

  /** Records one more alloc of the job on the node; returns its host ports when the job has any. */
  place(node: NodeInfo): AllocPorts | undefined {
    for (const { constraint, taken } of this.distinct) {
      const v = distinctValue(node, constraint);
      if (v !== undefined) taken.add(v);
    }
    if (!this.ports) return undefined;
    let used = this.ports.get(node.id);
    if (!used) this.ports.set(node.id, (used = new Set()));
    return assignPorts(this.spec, node, used);
  }
}
