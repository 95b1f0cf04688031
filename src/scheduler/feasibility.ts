/**
 * Feasibility: why a node cannot take an alloc of a job. The checks that do not
 * depend on usage (status, eligibility, datacenter, drivers, constraints) are
 * separated from the resource check so the scheduler runs them once per node
 * per eval rather than once per alloc.
 */
import type { Constraint, JobSpec, NodeInfo, NodeStatus, Resources } from '../api/types.js';
import { fitsWithin, type ResourceDimension } from './resources.js';

export type StaticReason =
  | { dimension: 'node-status'; status: NodeStatus }
  | { dimension: 'eligibility' }
  | { dimension: 'datacenter'; datacenter: string }
  | { dimension: 'driver'; driver: string }
  | { dimension: 'constraint'; constraint: Constraint };

export type FilterReason = StaticReason | { dimension: ResourceDimension };

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
  return new Set(s.split(',').map((x) => x.trim()).filter((x) => x !== ''));
}

export function constraintHolds(node: NodeInfo, c: Constraint): boolean {
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
  }
  return false;
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
