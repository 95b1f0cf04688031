/**
 * Rolling updates of service jobs with an `update` strategy: the pure part of
 * a deployment. Reconcile hands over the indexes whose live alloc runs an
 * older version; this decides, from the deployment and the allocs' health,
 * which of them get a new alloc now (at most max_parallel in flight), which
 * old allocs may stop (only once their replacement has been healthy for
 * min_healthy_time, so capacity and availability hold), and how the
 * deployment moves on: canaries waiting for promotion, success, failure.
 * Reverting a failed deployment is the store's: it registers a version.
 */
import type { Alloc, Deployment, Job } from '../api/types.js';
import type { AllocStop, DeploymentFields, DeploymentUpdate } from './types.js';

/** An index whose live alloc runs an older version of the job. */
export interface RollingIndex {
  index: number;
  /** live allocs of older versions, newest first */
  older: Alloc[];
  /** the live alloc of the current version, once placed */
  current?: Alloc;
}

/** A placement the rollout wants (reconcile turns it into a PlaceRequest). */
export interface RolloutPlace {
  index: number;
  previousAllocId: string;
  canary: boolean;
}

export interface RolloutResult {
  place: RolloutPlace[];
  stop: AllocStop[];
  /** when a waiting alloc passes min_healthy_time or its healthy deadline */
  followUpAt?: number;
  createDeployment?: DeploymentFields;
  /** the running deployment placements join (absent when one is created, or none runs) */
  deploymentId?: string;
  deploymentUpdates: DeploymentUpdate[];
}

export const WAITING_FOR_PROMOTION = 'waiting for promotion';

/** Services with an `update` stanza roll out through deployments; everything else replaces at once. */
export function usesDeployments(job: Job): boolean {
  return job.spec.type === 'service' && job.spec.update !== undefined && job.spec.parameterized === undefined && job.spec.periodic === undefined;
}

const isLive = (a: Alloc): boolean => a.desiredStatus === 'run' && (a.clientStatus === 'pending' || a.clientStatus === 'running');

/** healthy for at least min_healthy_time: the alloc counts and its old alloc may go */
export function countsHealthy(a: Alloc, minHealthyTimeMs: number, now: number): boolean {
  if (!isLive(a) || a.clientStatus !== 'running' || a.healthy !== true) return false;
  const since = a.healthySince ? Date.parse(a.healthySince) : Number.NaN;
  // healthy without a time (a store that predates healthySince): count it now rather than never
  return Number.isNaN(since) || since + minHealthyTimeMs <= now;
}

/** Why a deployment's alloc fails the deployment, or undefined while it may still make it. */
export function unhealthyReason(a: Alloc, healthyDeadlineMs: number, now: number): string | undefined {
  if (a.desiredStatus !== 'run') return undefined;
  if (a.clientStatus === 'failed') return `alloc ${a.id.slice(0, 8)} (${a.name}) failed: ${a.clientDescription || 'no reason given'}`;
  if (!isLive(a) || a.healthy === true) return undefined;
  const deadline = Date.parse(a.createdAt) + healthyDeadlineMs;
  if (now > deadline) return `alloc ${a.id.slice(0, 8)} (${a.name}) not healthy within ${Math.round(healthyDeadlineMs / 1000)}s of its placement`;
  return undefined;
}

/** When an alloc still on its way will have changed the picture: it counts, or its deadline passed. */
function nextMoment(a: Alloc, minHealthyTimeMs: number, healthyDeadlineMs: number): number | undefined {
  if (!isLive(a)) return undefined;
  if (a.healthy === true && a.healthySince) return Date.parse(a.healthySince) + minHealthyTimeMs;
  // not healthy yet: the store makes an eval when it turns healthy; the deadline needs a timer
  const t = Date.parse(a.createdAt) + healthyDeadlineMs + 1;
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The rollout step for one eval. `otherPlacements`: allocs reconcile places
 * anyway (an index whose alloc was lost): the deployment has not succeeded
 * while they are on their way.
 */
export function rollout(
  job: Job,
  latest: Deployment | undefined,
  rolling: readonly RollingIndex[],
  jobAllocs: readonly Alloc[],
  now: number,
  otherPlacements = 0,
): RolloutResult {
  const result: RolloutResult = { place: [], stop: [], deploymentUpdates: [] };
  const strategy = job.spec.update!;
  const followUp = (t: number | undefined): void => {
    if (t === undefined || Number.isNaN(t)) return;
    result.followUpAt = result.followUpAt === undefined ? t : Math.min(result.followUpAt, t);
  };
  const replacedBy = `replaced by version ${job.version}`;

  let dep: Deployment | DeploymentFields | undefined = latest?.jobVersion === job.version ? latest : undefined;
  if (latest && latest.status === 'running' && latest.jobVersion !== job.version) {
    result.deploymentUpdates.push({ id: latest.id, status: 'cancelled', statusDescription: `superseded by version ${job.version}` });
  }
  if (!dep) {
    // A first version, or a change made in place (count only), has nothing to roll.
    if (rolling.length === 0) return result;
    // Every index already runs this version, healthy (a revert carried the old allocs over):
    // what is left of older versions is only stopped, with no deployment to watch it. Whether
    // a failed version's alloc still runs at that moment must not decide that.
    if (rolling.every((r) => r.current !== undefined && countsHealthy(r.current, strategy.minHealthyTimeMs, now))) {
      for (const r of rolling) for (const a of r.older) result.stop.push({ allocId: a.id, description: replacedBy });
      return result;
    }
    dep = {
      namespace: job.namespace,
      jobId: job.id,
      jobVersion: job.version,
      status: 'running',
      statusDescription: 'deployment is running',
      strategy: { ...strategy },
      desiredTotal: job.spec.count,
      desiredCanaries: Math.min(strategy.canary, job.spec.count),
      canaries: [],
      promoted: false,
      placedAllocs: 0,
      healthyAllocs: 0,
      unhealthyAllocs: 0,
    };
    result.createDeployment = dep;
  } else if (dep.status === 'successful') {
    // Done with this version already (a revert put old allocs back under it): nothing to protect, replace at once.
    for (const r of rolling) {
      for (const a of r.older) result.stop.push({ allocId: a.id, description: replacedBy });
      if (!r.current) result.place.push({ index: r.index, previousAllocId: r.older[0].id, canary: false });
    }
    return result;
  } else if (dep.status !== 'running') {
    // Failed or cancelled: the old allocs keep serving, nothing more is replaced.
    return result;
  } else {
    result.deploymentId = (dep as Deployment).id;
  }

  const created = result.createDeployment !== undefined;
  const depId = created ? undefined : (dep as Deployment).id;
  const mine = depId === undefined ? [] : jobAllocs.filter((a) => a.deploymentId === depId);
  const { minHealthyTimeMs, healthyDeadlineMs } = dep.strategy;
  const counted = (a: Alloc): boolean => countsHealthy(a, minHealthyTimeMs, now);

  const reasons = mine.map((a) => unhealthyReason(a, healthyDeadlineMs, now)).filter((r): r is string => r !== undefined);
  const healthy = mine.filter(counted).length;
  const change = (fields: Omit<DeploymentUpdate, 'id'>): void => {
    if (created) {
      Object.assign(result.createDeployment!, fields);
      return;
    }
    const d = dep as Deployment;
    const diff = Object.entries(fields).filter(([k, v]) => d[k as keyof Deployment] !== v);
    if (diff.length > 0) result.deploymentUpdates.push({ id: d.id, ...Object.fromEntries(diff) });
  };

  if (reasons.length > 0) {
    // Nothing more is placed or stopped: the old allocs keep serving (and auto_revert brings their version back).
    change({
      status: 'failed',
      statusDescription: reasons.length === 1 ? reasons[0] : `${reasons.length} allocs unhealthy; first: ${reasons[0]}`,
      healthyAllocs: healthy,
      unhealthyAllocs: reasons.length,
    });
    delete result.deploymentId;
    return result;
  }
  for (const a of mine) if (!counted(a)) followUp(nextMoment(a, minHealthyTimeMs, healthyDeadlineMs));

  if (dep.desiredCanaries > 0 && !dep.promoted) {
    // Canaries run beside the old allocs of their index; nothing old stops before promotion.
    const have = mine.filter((a) => a.canary && a.desiredStatus === 'run').length;
    let need = dep.desiredCanaries - have;
    for (const r of rolling) {
      if (need <= 0) break;
      if (r.current) continue;
      result.place.push({ index: r.index, previousAllocId: r.older[0].id, canary: true });
      need--;
    }
    change({ statusDescription: WAITING_FOR_PROMOTION, healthyAllocs: healthy, unhealthyAllocs: 0 });
    return result;
  }

  let inFlight = 0;
  const waiting: RollingIndex[] = [];
  for (const r of rolling) {
    if (!r.current) waiting.push(r);
    else if (counted(r.current)) for (const a of r.older) result.stop.push({ allocId: a.id, description: replacedBy });
    else {
      inFlight++;
      followUp(nextMoment(r.current, minHealthyTimeMs, healthyDeadlineMs));
    }
  }
  let slots = dep.strategy.maxParallel - inFlight;
  for (const r of waiting) {
    if (slots <= 0) break;
    slots--;
    result.place.push({ index: r.index, previousAllocId: r.older[0].id, canary: false });
  }

  const done = waiting.length === 0 && inFlight === 0 && otherPlacements === 0 && mine.filter(isLive).every(counted);
  if (done) {
    change({
      status: 'successful',
      statusDescription: `deployment completed: ${healthy} of ${job.spec.count} allocs healthy`,
      healthyAllocs: healthy,
      unhealthyAllocs: 0,
    });
  } else {
    const left = waiting.length + inFlight;
    change({
      statusDescription: `${Math.max(0, job.spec.count - left)} of ${job.spec.count} allocs at version ${job.version}`,
      healthyAllocs: healthy,
      unhealthyAllocs: 0,
    });
  }
  return result;
}
