/**
 * The scheduler is a pure function: snapshot in, plan out. No I/O, no clock,
 * no randomness except through the snapshot, so it is tested on an in-memory
 * harness and benchmarked on simulated clusters.
 */
import type { Alloc, Evaluation, Job, NodeInfo, PlacementFailure, Resources } from '../api/types.js';

export interface SchedulerSnapshot {
  /** ms since epoch: the only clock the scheduler sees */
  now: number;
  eval: Evaluation;
  /** latest version of the job; undefined if it no longer exists */
  job: Job | undefined;
  /** every node (any status): the scheduler filters itself, to explain why */
  nodes: NodeInfo[];
  /**
   * allocs that hold capacity on their node: client status pending or running,
   * whatever their desired status (a stopping alloc frees nothing until it is gone)
   */
  usage: Alloc[];
  /** every alloc of this job, all versions, terminal ones included (for reconcile and retries) */
  jobAllocs: Alloc[];
  /**
   * Priorities of the jobs whose allocs may be preempted, keyed `${namespace}/${jobId}`:
   * batch jobs only. A job missing here is never a victim, so service and system
   * jobs stay safe by leaving them out. Needed only when the job has `preempt: true`.
   */
  jobPriorities?: Record<string, number>;
}

export interface PlannedAlloc {
  name: string;
  index: number;
  nodeId: string;
  nodeName: string;
  jobVersion: number;
  /** sum over the tasks, using taskResources where set: what placement fits */
  resources: Resources;
  /** per task, when they differ from the spec (an OOM retry with more memory) */
  taskResources?: Record<string, Resources>;
  attempt: number;
  previousAllocId?: string;
}

export interface AllocStop {
  allocId: string;
  /** why, shown to users: "job stopped", "replaced by version 3", "count lowered" */
  description: string;
  /** set when the stop makes room for a higher-priority job (its id): the alloc requeues without using a retry */
  preemptedBy?: string;
  /**
   * set when the alloc is forced off its node (a drain deadline passed) and this
   * plan places its replacement elsewhere with the same attempt: the stop uses
   * no retry. Informational for the server; reconcile already treats any
   * scheduler stop as "run the same attempt again".
   */
  requeue?: boolean;
}

export interface Plan {
  evalId: string;
  namespace: string;
  jobId: string;
  place: PlannedAlloc[];
  stop: AllocStop[];
  /** allocs the job wants but that could not be placed now; > 0 makes a blocked eval */
  queuedAllocs: number;
  failures: PlacementFailure[];
  /** set when work is due later (a retry delay not yet elapsed): make an eval that waits until then */
  followUpAt?: number;
}

export type Scheduler = (snapshot: SchedulerSnapshot) => Plan;

/** Result of checking a plan against fresh state just before commit. */
export interface PlanCheck {
  accepted: PlannedAlloc[];
  /** placements that no longer fit their node (state moved since the snapshot) */
  rejected: PlannedAlloc[];
}
