/** The scheduler's public surface for the server and benchmarks. */
export type * from './types.js';
export { schedule } from './schedule.js';
export { checkPlan } from './check-plan.js';
export {
  reconcile,
  isLive,
  isParentJob,
  maxParallelMigrations,
  DRAIN_PREFIX,
  DRAIN_DEADLINE_PASSED,
  type PlaceRequest,
  type ReconcileResult,
} from './reconcile.js';
export { reconcileSystem, systemAllocName } from './system.js';
export { pickNextEval, dominantShare, usageByNamespace, type EvalCandidate } from './fair-share.js';
export { retryDelay, allocResources, wasOomKilled } from './retry.js';
export { allocCounts, computeJobStatus } from './job-status.js';
export { addResources, subResources, fits, sumTaskResources, ZERO } from './resources.js';
export { constraintHolds, interpolate, whyNot } from './feasibility.js';
