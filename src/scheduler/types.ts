/**
 * The scheduler is a pure function: snapshot in, plan out. No I/O, no clock,
 * no randomness except through the snapshot, so it is tested on an in-memory
 * harness and benchmarked on simulated clusters.
 */
import type { Alloc, Deployment, Evaluation, Job, NodeInfo, PlacementFailure, Resources } from '../api/types.js';

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
  /** the job's most recent deployment, any status (rolling updates of services with `update`) */
  deployment?: Deployment;
  /**
   * Parents (parameterized and periodic jobs): the head of their queue, the
   * waiting runs in submission order, each as the child job it is with its
   * allocs (none for a run never placed). Only as many as could fit, plus one.
   */
  queue?: QueuedRun[];
  /**
   * With a queue: what every namespace holds and which other namespaces have
   * work waiting that fits now. A pass gives the room to whoever holds the
   * smallest share, so it stops once its namespace holds more than one of them.
   */
  fairShare?: FairShareView;
}

export interface FairShareView {
  /** capacity of ready, eligible nodes */
  total: Resources;
  /** live usage per namespace */
  usage: ReadonlyMap<string, Resources>;
  /** other namespaces with waiting work (of at least this eval's priority) that fits in the free room */
  waiting: string[];
}

export interface QueuedRun {
  job: Job;
  allocs: Alloc[];
}

export interface PlannedAlloc {
  /** the run it is for, when a parent's queue places it (else the plan's job) */
  jobId?: string;
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
  /** joins the plan's deployment: the one it creates, else `Plan.deploymentId` */
  deployment?: boolean;
  /** a canary of that deployment: its old alloc keeps running until the deployment is promoted */
  canary?: boolean;
  /** host ports assigned on the node, per task and port name (the store copies them to Alloc.ports) */
  ports?: Alloc['ports'];
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
  /** a deployment to start (the store assigns its id and indexes); placements marked `deployment` join it */
  createDeployment?: DeploymentFields;
  /** the existing deployment placements marked `deployment` join when none is created */
  deploymentId?: string;
  /** changes to existing deployments: progress counts, success, failure, or cancellation by a newer version */
  deploymentUpdates?: DeploymentUpdate[];
  /** a parent's queue: what became of the runs it looked at */
  runs?: QueueOutcome;
}

export interface QueueOutcome {
  /** runs this plan places (they leave the queue) */
  started: string[];
  /**
   * runs that leave the queue for an eval of their own: partly placed (more
   * allocs than fit), or due later; `at` is when (absent: now)
   */
  ownEval: Array<{ jobId: string; at?: number }>;
  /** the head of the queue could not be placed: what one alloc of it asks, to wake the queue only when that fits */
  headAsk?: Resources;
  /** every run looked at was placed: the queue may go on at once */
  drained: boolean;
  /** the pass stopped to let a namespace holding less go first; the queue goes on after it */
  yielded?: boolean;
}

/** What the scheduler decides about a deployment; ids, indexes and times are the store's. */
export type DeploymentFields = Omit<Deployment, 'id' | 'createIndex' | 'modifyIndex' | 'createdAt' | 'modifiedAt'>;
export type DeploymentUpdate = Partial<Omit<DeploymentFields, 'namespace' | 'jobId' | 'jobVersion' | 'strategy' | 'canaries' | 'placedAllocs'>> & {
  id: string;
};

export type Scheduler = (snapshot: SchedulerSnapshot) => Plan;

/** Result of checking a plan against fresh state just before commit. */
export interface PlanCheck {
  accepted: PlannedAlloc[];
  /** placements that no longer fit their node (state moved since the snapshot) */
  rejected: PlannedAlloc[];
}
