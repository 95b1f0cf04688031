/**
 * What committing a plan does to allocs and to its eval, as pure functions:
 * the store's plan applier (src/store/store.ts applyPlan) and the scheduler's
 * test harness (harness.ts) both commit through these, so the harness cannot
 * drift from the server. The store adds only what needs its tables
 * (deployments, runs of a queue, follow-up evals).
 */
import type { Alloc, Evaluation, NodeInfo } from '../api/types.js';
import { checkPlan } from './check-plan.js';
import type { Plan, PlanCheck, PlannedAlloc, AllocStop } from './types.js';

/**
 * The plan re-checked on fresh state (checkPlan); for a parent's queue a run
 * is placed whole or stays queued, so the rest of a run that lost a
 * placement is dropped too.
 */
export function acceptPlan(plan: Plan, nodes: NodeInfo[], live: Alloc[]): PlanCheck {
  const check = checkPlan(plan, nodes, live);
  if (plan.runs && check.rejected.length > 0) {
    const lost = new Set(check.rejected.map((p) => p.jobId));
    check.accepted = check.accepted.filter((p) => !lost.has(p.jobId));
  }
  return check;
}

export interface NewAllocContext {
  evalId: string;
  index: number;
  now: number;
  newId: () => string;
  /** the deployment placements flagged for one join (a rolling update) */
  deploymentId?: string;
}

/** the alloc an accepted placement becomes: pending, waiting for its agent */
export function allocFromPlacement(plan: Pick<Plan, 'namespace' | 'jobId'>, p: PlannedAlloc, c: NewAllocContext): Alloc {
  const at = new Date(c.now).toISOString();
  return {
    id: c.newId(),
    namespace: plan.namespace,
    jobId: p.jobId ?? plan.jobId,
    jobVersion: p.jobVersion,
    name: p.name,
    index: p.index,
    nodeId: p.nodeId,
    nodeName: p.nodeName,
    evalId: c.evalId,
    desiredStatus: 'run',
    desiredDescription: '',
    clientStatus: 'pending',
    clientDescription: 'waiting for the agent',
    resources: p.resources,
    taskStates: {},
    attempt: p.attempt,
    ...(p.previousAllocId ? { previousAllocId: p.previousAllocId } : {}),
    ...(p.taskResources ? { taskResources: p.taskResources } : {}),
    ...(p.ports ? { ports: p.ports } : {}),
    ...(p.deployment && c.deploymentId ? { deploymentId: c.deploymentId } : {}),
    ...(p.canary && c.deploymentId ? { canary: true } : {}),
    createIndex: c.index,
    modifyIndex: c.index,
    createdAt: at,
    modifiedAt: at,
  };
}

/**
 * A plan's stop applied to an alloc, in place; false when it was stopping
 * already (nothing to write). An alloc that never reached its node will never
 * be reported by it: it ends here.
 */
export function applyStop(a: Alloc, s: AllocStop, index: number, now: number): boolean {
  if (a.desiredStatus === 'stop') return false;
  a.desiredStatus = 'stop';
  a.desiredDescription = s.description;
  if (s.preemptedBy) a.preemptedBy = s.preemptedBy;
  if (a.clientStatus === 'pending' && Object.keys(a.taskStates).length === 0) {
    a.clientStatus = 'complete';
    a.clientDescription = `stopped before it started: ${s.description}`;
  }
  a.modifyIndex = index;
  a.modifiedAt = new Date(now).toISOString();
  return true;
}

export interface EvalOutcome {
  status: Extract<Evaluation['status'], 'complete' | 'blocked'>;
  description: string;
  queuedAllocs: number;
  /** placements no longer fit: a new eval of the job goes at once */
  evaluateAgain: boolean;
}

/** How the eval of a plan (not a parent's queue) ends, from what its commit accepted. */
export function evalOutcome(plan: Pick<Plan, 'queuedAllocs' | 'stop'>, check: PlanCheck, placed: number): EvalOutcome {
  const queuedAllocs = plan.queuedAllocs + check.rejected.length;
  if (check.rejected.length > 0) {
    return { status: 'complete', description: `${check.rejected.length} placements no longer fit; evaluating again`, queuedAllocs, evaluateAgain: true };
  }
  if (queuedAllocs > 0) return { status: 'blocked', description: `${queuedAllocs} allocs wait for capacity`, queuedAllocs, evaluateAgain: false };
  return { status: 'complete', description: `placed ${placed}, stopped ${plan.stop.length}`, queuedAllocs, evaluateAgain: false };
}
