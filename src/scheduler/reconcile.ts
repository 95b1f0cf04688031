/**
 * Reconcile: the pure diff between what the job wants (count indexes at its
 * current version) and the allocs that exist. It decides what to stop and which
 * indexes need a new alloc (with which attempt, and not before when); it does
 * not look at nodes. Placement is schedule.ts's job.
 */
import type { Alloc, Job, JobKind, JobSpec, NodeInfo, Resources } from '../api/types.js';
import { replacementTaskResources, retryDelay, wasOomKilled } from './retry.js';
import { reconcileSystem } from './system.js';
import type { AllocStop, DeploymentFields, DeploymentUpdate, SchedulerSnapshot } from './types.js';
import { rollout, usesDeployments, type RollingIndex } from './update.js';

export interface PlaceRequest {
  index: number;
  attempt: number;
  previousAllocId?: string;
  /** ms since epoch; absent = due now */
  notBefore?: number;
  /** per-task resources differing from the spec (inherited or grown after an OOM kill) */
  taskResources?: Record<string, Resources>;
  /** system jobs: the only node this alloc may go to (its name is `${job}[${node.name}]`) */
  nodeId?: string;
  /** joins the running (or created) deployment */
  deployment?: boolean;
  /** a canary of that deployment */
  canary?: boolean;
}

export interface ReconcileResult {
  place: PlaceRequest[];
  stop: AllocStop[];
  /** ms since epoch when reconcile will decide something new without any other change (a drain deadline) */
  followUpAt?: number;
  /** rolling updates (update.ts): a deployment to start, the running one, and changes to deployments */
  createDeployment?: DeploymentFields;
  deploymentId?: string;
  deploymentUpdates?: DeploymentUpdate[];
}

/** What reconcile reads: nodes and the clock only matter for drains and system jobs. */
export type ReconcileInput = Pick<SchedulerSnapshot, 'job' | 'jobAllocs'> & Partial<Pick<SchedulerSnapshot, 'nodes' | 'now' | 'deployment'>>;

/** Descriptions of stops caused by a node drain all start with this, so users and the server can tell them apart. */
export const DRAIN_PREFIX = 'node drain';
export const DRAIN_DEADLINE_PASSED = 'node drain deadline passed';

/** What an index needs when none of its allocs is live. */
export type IndexDecision =
  | { kind: 'place'; attempt: number; previousAllocId?: string; notBefore?: number; taskResources?: Record<string, Resources> }
  /** batch: the index ran to completion */
  | { kind: 'complete' }
  /** batch: the index failed and its retries are used up */
  | { kind: 'failed' };

/** Live = should run and holds (or will hold) its node. A stopping alloc is never live, even while it still runs. */
export function isLive(a: Alloc): boolean {
  return a.desiredStatus === 'run' && (a.clientStatus === 'pending' || a.clientStatus === 'running');
}

/** Parameterized and periodic jobs are templates: their runs are child jobs, they get no allocs themselves. */
export function isParentJob(spec: JobSpec): boolean {
  return spec.parameterized !== undefined || spec.periodic !== undefined;
}

/** What `job ls --type` calls a job: its type, or parameterized / periodic for a template. */
export function jobKind(spec: JobSpec): JobKind {
  return spec.parameterized ? 'parameterized' : spec.periodic ? 'periodic' : spec.type;
}

function newestFirst(a: Alloc, b: Alloc): number {
  return b.createIndex - a.createIndex;
}

function after(timestamp: string, delayMs: number): number | undefined {
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? undefined : t + delayMs;
}

/**
 * The decision for one index with no live alloc, from its allocs at the current
 * job version (`history`, any order).
 */
export function decideIndex(job: Job, history: readonly Alloc[]): IndexDecision {
  const spec = job.spec;
  if (spec.type === 'batch' && history.some((a) => a.clientStatus === 'complete' && a.desiredStatus === 'run')) {
    return { kind: 'complete' };
  }
  if (history.length === 0) return { kind: 'place', attempt: 0 };
  const newest = [...history].sort(newestFirst)[0];
  // Preempted, lost and scheduler-stopped allocs (count lowered then raised, job
  // stopped then resumed) say nothing about the task: same attempt, no delay.
  // Preemption first: the victim may report 'failed' from the kill, which is not its fault.
  if (newest.preemptedBy !== undefined || newest.clientStatus === 'lost' || newest.desiredStatus === 'stop') {
    return again(spec, newest);
  }
  if (spec.type === 'batch') {
    if (newest.clientStatus === 'failed') {
      if (newest.attempt >= spec.retry.attempts) return { kind: 'failed' };
      return retry(spec, newest, after(newest.modifiedAt, retryDelay(spec.retry, newest.attempt + 1)));
    }
  } else if (newest.clientStatus === 'failed' || newest.clientStatus === 'complete') {
    return retry(spec, newest, after(newest.modifiedAt, spec.restart.delayMs));
  }
  // Unreachable with well-formed allocs (a pending/running newest alloc would be live
  // or desired 'stop'); treat like a lost one rather than leave the index empty.
  return again(spec, newest);
}

/** The same attempt again, now: the run did not end through a fault of its own. */
function again(spec: JobSpec, prev: Alloc): IndexDecision {
  const d: IndexDecision = { kind: 'place', attempt: prev.attempt, previousAllocId: prev.id };
  const taskResources = replacementTaskResources(spec, prev, false);
  if (taskResources) d.taskResources = taskResources;
  return d;
}

function retry(spec: JobSpec, prev: Alloc, notBefore: number | undefined): IndexDecision {
  const d: IndexDecision = { kind: 'place', attempt: prev.attempt + 1, previousAllocId: prev.id };
  if (notBefore !== undefined) d.notBefore = notBefore;
  const taskResources = replacementTaskResources(spec, prev, wasOomKilled(prev));
  if (taskResources) d.taskResources = taskResources;
  return d;
}

/** Groups allocs by index; callers iterate indexes 0..count-1 and the rest. */
export function byIndex(allocs: readonly Alloc[]): Map<number, Alloc[]> {
  const m = new Map<number, Alloc[]>();
  for (const a of allocs) {
    const list = m.get(a.index);
    if (list) list.push(a);
    else m.set(a.index, [a]);
  }
  return m;
}

/**
 * How many migrations off draining nodes one job may have in flight. The update
 * stanza (a later step) may set it; until then one at a time, so a service never
 * loses more than one replica to a drain.
 */
export function maxParallelMigrations(spec: JobSpec): number {
  const n = (spec as { update?: { maxParallel?: unknown } }).update?.maxParallel;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

/** The drain deadline of a draining node in ms, or undefined when the node is not draining. */
export function drainDeadline(node: NodeInfo | undefined): number | undefined {
  if (!node?.drain) return undefined;
  const t = Date.parse(node.drain.deadline);
  // An unreadable deadline means "no deadline": allocs move only by migration.
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/**
 * A migration replacement has taken over once it runs, and passes its checks
 * when it has any (healthy is false only while checks have not passed).
 */
function tookOver(a: Alloc): boolean {
  return a.clientStatus === 'running' && a.healthy !== false;
}

function inherit(spec: JobSpec, prev: Alloc, req: PlaceRequest): PlaceRequest {
  const taskResources = replacementTaskResources(spec, prev, false);
  if (taskResources) req.taskResources = taskResources;
  return req;
}

export function reconcile(snapshot: ReconcileInput): ReconcileResult {
  const { job, jobAllocs } = snapshot;
  const result: ReconcileResult = { place: [], stop: [] };

  if (!job || job.stopped) {
    for (const a of jobAllocs) if (isLive(a)) result.stop.push({ allocId: a.id, description: 'job stopped' });
    if (snapshot.deployment?.status === 'running') {
      result.deploymentUpdates = [{ id: snapshot.deployment.id, status: 'cancelled', statusDescription: job ? 'job stopped' : 'job deleted' }];
    }
    return result;
  }
  if (job.spec.type === 'system' && !isParentJob(job.spec)) {
    return reconcileSystem(job, jobAllocs, snapshot.nodes ?? []);
  }

  const now = snapshot.now ?? 0;
  const nodes = new Map<string, NodeInfo>();
  for (const n of snapshot.nodes ?? []) if (n.drain) nodes.set(n.id, n);
  const deadlineOf = (a: Alloc): number | undefined => drainDeadline(nodes.get(a.nodeId));
  const followUp = (t: number): void => {
    // Strictly past the deadline counts, so come back just after it.
    if (!Number.isFinite(t)) return;
    result.followUpAt = result.followUpAt === undefined ? t + 1 : Math.min(result.followUpAt, t + 1);
  };

  // Service indexes whose alloc sits on a draining node with no replacement yet:
  // they get one once the in-flight count allows (decided after every index is seen).
  const wantMigration: Alloc[] = [];
  let inFlight = 0;
  // Services with an update strategy: indexes still on an older version roll over in update.ts.
  const rollingMode = usesDeployments(job);
  const rolling: RollingIndex[] = [];

  // A template's own allocs (left from a version before it became one) have nothing to run.
  const count = isParentJob(job.spec) ? 0 : job.spec.count;
  const groups = byIndex(jobAllocs);
  for (let index = 0; index < count; index++) {
    const allocs = groups.get(index) ?? [];
    const live = allocs.filter(isLive).sort(newestFirst);
    const current = live.filter((a) => a.jobVersion === job.version);
    const older = live.filter((a) => a.jobVersion !== job.version);
    const settled = current.filter((a) => deadlineOf(a) === undefined);
    const draining = current.filter((a) => deadlineOf(a) !== undefined);

    if (rollingMode && older.length > 0 && draining.length === 0) {
      for (const dup of settled.slice(1)) result.stop.push({ allocId: dup.id, description: `duplicate of ${settled[0].id}` });
      rolling.push(settled.length > 0 ? { index, older, current: settled[0] } : { index, older });
      continue;
    }
    for (const a of older) result.stop.push({ allocId: a.id, description: `replaced by version ${job.version}` });
    if (settled.length > 0) {
      const keep = settled[0];
      // Two live allocs for one index can only come from a race outside the
      // scheduler (or a migration, below); keep the newest so the index runs once.
      for (const dup of settled.slice(1)) {
        result.stop.push({ allocId: dup.id, description: `duplicate of ${keep.id}` });
      }
      for (const d of draining) {
        if (keep.previousAllocId !== d.id) {
          result.stop.push({ allocId: d.id, description: `duplicate of ${keep.id}` });
        } else if (tookOver(keep)) {
          result.stop.push({ allocId: d.id, description: `${DRAIN_PREFIX}: migrated to ${keep.nodeName} as ${keep.id}` });
        } else if (now > deadlineOf(d)!) {
          // The deadline does not wait for the replacement to come up.
          result.stop.push({ allocId: d.id, description: DRAIN_DEADLINE_PASSED });
        } else {
          inFlight++;
          followUp(deadlineOf(d)!);
        }
      }
      continue;
    }
    if (draining.length > 0) {
      const [old, ...dups] = draining;
      for (const dup of dups) result.stop.push({ allocId: dup.id, description: `duplicate of ${old.id}` });
      const deadline = deadlineOf(old)!;
      if (now > deadline) {
        // Forced off the node: not the task's fault, so the same attempt runs again elsewhere, now.
        result.stop.push({ allocId: old.id, description: DRAIN_DEADLINE_PASSED, requeue: true });
        result.place.push(inherit(job.spec, old, { index, attempt: old.attempt, previousAllocId: old.id }));
      } else if (job.spec.type === 'batch') {
        // Batch runs may finish on a draining node until the deadline.
        followUp(deadline);
      } else {
        wantMigration.push(old);
        followUp(deadline);
      }
      continue;
    }
    if (older.length > 0) {
      result.place.push({ index, attempt: 0, previousAllocId: older[0].id });
      continue;
    }
    const decision = decideIndex(
      job,
      allocs.filter((a) => a.jobVersion === job.version),
    );
    if (decision.kind === 'place') {
      const req: PlaceRequest = { index, attempt: decision.attempt };
      if (decision.previousAllocId !== undefined) req.previousAllocId = decision.previousAllocId;
      if (decision.notBefore !== undefined) req.notBefore = decision.notBefore;
      if (decision.taskResources !== undefined) req.taskResources = decision.taskResources;
      result.place.push(req);
    }
  }

  // Replacement first, the old alloc stops once it took over (above): never more
  // than maxParallel replicas of the job are moving at once.
  let slots = maxParallelMigrations(job.spec) - inFlight;
  for (const old of wantMigration) {
    if (slots <= 0) break;
    slots--;
    const req = inherit(job.spec, old, { index: old.index, attempt: old.attempt, previousAllocId: old.id });
    // A replacement that failed is tried again after the restart delay, like any service alloc.
    const failed = jobAllocs.filter((a) => a.previousAllocId === old.id && !isLive(a) && a.desiredStatus === 'run').sort(newestFirst)[0];
    const notBefore =
      failed && (failed.clientStatus === 'failed' || failed.clientStatus === 'complete') ? after(failed.modifiedAt, job.spec.restart.delayMs) : undefined;
    if (notBefore !== undefined) req.notBefore = notBefore;
    result.place.push(req);
  }

  if (rollingMode && !isParentJob(job.spec)) {
    const r = rollout(job, snapshot.deployment, rolling, jobAllocs, now, result.place.length);
    result.stop.push(...r.stop);
    for (const p of r.place) result.place.push({ index: p.index, attempt: 0, previousAllocId: p.previousAllocId, ...(p.canary ? { canary: true } : {}) });
    if (r.followUpAt !== undefined) result.followUpAt = result.followUpAt === undefined ? r.followUpAt : Math.min(result.followUpAt, r.followUpAt);
    if (r.createDeployment) result.createDeployment = r.createDeployment;
    if (r.deploymentId) result.deploymentId = r.deploymentId;
    if (r.deploymentUpdates.length > 0) result.deploymentUpdates = r.deploymentUpdates;
    // Everything placed while a deployment runs belongs to it, so its health is watched.
    if (r.createDeployment || r.deploymentId) for (const p of result.place) p.deployment = true;
  }

  for (const a of jobAllocs) {
    if (a.index >= count && isLive(a)) {
      const description = count === job.spec.count ? `count lowered to ${count}` : 'the job is a template now: its runs are dispatched as child jobs';
      result.stop.push({ allocId: a.id, description });
    }
  }
  return result;
}
