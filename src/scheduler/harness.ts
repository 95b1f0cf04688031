/**
 * An in-memory cluster for scheduler tests and benchmarks: nodes, jobs and
 * allocs in plain arrays, a manual clock, and `evaluate` doing what the server
 * does for one eval (snapshot → schedule → acceptPlan → apply), through the
 * same pure plan-apply functions as the store's plan applier.
 */
import type { Alloc, AllocClientStatus, Evaluation, Job, JobSpec, NodeInfo, RetryPolicy, TaskSpec } from '../api/types.js';
import { acceptPlan, allocFromPlacement, applyStop } from './plan-apply.js';
import { schedule } from './schedule.js';
import type { Plan, PlanCheck, Scheduler, SchedulerSnapshot } from './types.js';
import { isHoldingCapacity } from './usage.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

let nodeSeq = 0;

export function makeNode(partial: Partial<NodeInfo> = {}): NodeInfo {
  const n = ++nodeSeq;
  const id = partial.id ?? `node-${String(n).padStart(5, '0')}`;
  return {
    id,
    name: partial.name ?? id,
    status: 'ready',
    eligibility: 'eligible',
    nodeClass: 'default',
    datacenter: 'dc1',
    drivers: { exec: { healthy: true, detail: '' }, docker: { healthy: true, detail: '' } },
    attributes: {},
    labels: {},
    capacity: { cpu: 4000, memory: 8 * GiB, disk: 100 * GiB },
    reserved: { cpu: 0, memory: 0, disk: 0 },
    heartbeatTtlMs: 10_000,
    lastHeartbeatAt: new Date(0).toISOString(),
    registeredAt: new Date(0).toISOString(),
    createIndex: n,
    modifyIndex: n,
    ...partial,
  };
}

export function makeTask(partial: Partial<TaskSpec> = {}): TaskSpec {
  return {
    name: 'main',
    driver: 'exec',
    command: '/bin/true',
    args: [],
    env: {},
    resources: { cpu: 100, memory: 128 * MiB, disk: 0 },
    killSignal: 'SIGTERM',
    killTimeoutMs: 5000,
    ...partial,
  };
}

/** Retry fields left out take the defaults, so tests name only what they are about. */
export type JobSpecInput = Partial<Omit<JobSpec, 'tasks' | 'retry'>> & { tasks?: Partial<TaskSpec>[]; retry?: Partial<RetryPolicy> };

export function makeSpec(partial: JobSpecInput = {}): JobSpec {
  const { tasks, retry, ...rest } = partial;
  return {
    name: 'job',
    namespace: 'default',
    type: 'batch',
    count: 1,
    priority: 50,
    constraints: [],
    scheduling: 'binpack',
    tasks: (tasks ?? [{}]).map(makeTask),
    retry: { attempts: 0, delayMs: 5000, maxDelayMs: 300_000, ...retry },
    restart: { attempts: 2, intervalMs: 300_000, delayMs: 1000, mode: 'fail' },
    meta: {},
    preempt: false,
    ...rest,
  };
}

export function makeJob(partial: JobSpecInput = {}, version = 1): Job {
  const spec = makeSpec(partial);
  return {
    id: spec.name,
    namespace: spec.namespace,
    version,
    spec,
    stopped: false,
    status: 'pending',
    submittedAt: new Date(0).toISOString(),
    createIndex: 1,
    modifyIndex: 1,
  };
}

export interface EvaluateResult {
  plan: Plan;
  check: PlanCheck;
  /** allocs created from accepted placements */
  placed: Alloc[];
}

export class Harness {
  nodes: NodeInfo[] = [];
  jobs = new Map<string, Job>();
  allocs: Alloc[] = [];
  private readonly allocById = new Map<string, Alloc>();
  /** the clock the snapshot carries; tests move it with `advance` */
  now = Date.UTC(2025, 0, 1);
  index = 1;
  private evalSeq = 0;
  private allocSeq = 0;

  constructor(private readonly scheduler: Scheduler = schedule) {}

  /** Priorities of batch jobs, the way the server fills SchedulerSnapshot.jobPriorities. */
  jobPriorities(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const j of this.jobs.values()) if (j.spec.type === 'batch') out[`${j.namespace}/${j.id}`] = j.spec.priority;
    return out;
  }

  addNode(partial: Partial<NodeInfo> = {}): NodeInfo {
    const node = makeNode(partial);
    this.nodes.push(node);
    return node;
  }

  addNodes(n: number, partial: (i: number) => Partial<NodeInfo> = () => ({})): NodeInfo[] {
    return Array.from({ length: n }, (_, i) => this.addNode(partial(i)));
  }

  node(id: string): NodeInfo {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Registers a job, or a new version of it when the id exists. */
  submit(partial: JobSpecInput = {}): Job {
    const prev = this.jobs.get(makeSpec(partial).name);
    const job = makeJob(partial, prev ? prev.version + 1 : 1);
    job.modifyIndex = ++this.index;
    this.jobs.set(job.id, job);
    return job;
  }

  stopJob(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    job.stopped = true;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  allocsOf(jobId: string): Alloc[] {
    return this.allocs.filter((a) => a.jobId === jobId);
  }

  liveAllocsOf(jobId: string): Alloc[] {
    return this.allocsOf(jobId).filter((a) => a.desiredStatus === 'run' && isHoldingCapacity(a));
  }

  alloc(id: string): Alloc {
    const a = this.allocById.get(id);
    if (!a) throw new Error(`no alloc ${id}`);
    return a;
  }

  usage(): Alloc[] {
    return this.allocs.filter(isHoldingCapacity);
  }

  snapshot(jobId: string): SchedulerSnapshot {
    const job = this.jobs.get(jobId);
    const t = new Date(this.now).toISOString();
    const ev: Evaluation = {
      id: `eval-${++this.evalSeq}`,
      namespace: job?.namespace ?? 'default',
      jobId,
      priority: job?.spec.priority ?? 50,
      triggeredBy: 'job-register',
      status: 'pending',
      statusDescription: '',
      queuedAllocs: 0,
      failures: [],
      createIndex: this.index,
      modifyIndex: this.index,
      createdAt: t,
      modifiedAt: t,
    };
    return {
      now: this.now,
      eval: ev,
      job,
      nodes: this.nodes,
      usage: this.usage(),
      jobAllocs: this.allocsOf(jobId),
      jobPriorities: this.jobPriorities(),
    };
  }

  /** One eval the way the server runs it: schedule, re-check on fresh state, commit. */
  evaluate(jobId: string): EvaluateResult {
    const snap = this.snapshot(jobId);
    const plan = this.scheduler(snap);
    const check = acceptPlan(plan, this.nodes, this.usage());
    return { plan, check, placed: this.apply(plan, check) };
  }

  apply(plan: Plan, check: PlanCheck): Alloc[] {
    const index = ++this.index;
    for (const s of plan.stop) applyStop(this.alloc(s.allocId), s, index, this.now);
    const placed = check.accepted.map((p) =>
      allocFromPlacement(plan, p, { evalId: plan.evalId, index, now: this.now, newId: () => `alloc-${++this.allocSeq}` }),
    );
    for (const a of placed) {
      this.allocs.push(a);
      this.allocById.set(a.id, a);
    }
    return placed;
  }

  setClientStatus(allocId: string, status: AllocClientStatus): Alloc {
    const a = this.alloc(allocId);
    a.clientStatus = status;
    a.modifyIndex = ++this.index;
    a.modifiedAt = new Date(this.now).toISOString();
    return a;
  }

  /** What agents do with stopped allocs: they end, freeing their node. */
  settleStops(): void {
    for (const a of this.allocs) {
      if (a.desiredStatus === 'stop' && isHoldingCapacity(a)) this.setClientStatus(a.id, 'complete');
    }
  }

  /** A node's heartbeats stopped: it goes down and its allocs are lost. */
  loseNode(nodeId: string): void {
    this.node(nodeId).status = 'down';
    for (const a of this.allocs) if (a.nodeId === nodeId && isHoldingCapacity(a)) this.setClientStatus(a.id, 'lost');
  }

  /** What the server does on `baton node drain`: no new work, allocs move off before the deadline. */
  drainNode(nodeId: string, deadlineInMs = 60 * 60_000): NodeInfo {
    const node = this.node(nodeId);
    node.eligibility = 'ineligible';
    node.drain = { startedAt: new Date(this.now).toISOString(), deadline: new Date(this.now + deadlineInMs).toISOString() };
    node.modifyIndex = ++this.index;
    return node;
  }

  setEligibility(nodeId: string, eligible: boolean): NodeInfo {
    const node = this.node(nodeId);
    node.eligibility = eligible ? 'eligible' : 'ineligible';
    if (eligible) delete node.drain;
    node.modifyIndex = ++this.index;
    return node;
  }

  /** Sum of resources held per node id. */
  usedByNode(): Map<string, { cpu: number; memory: number; disk: number }> {
    const m = new Map<string, { cpu: number; memory: number; disk: number }>();
    for (const a of this.usage()) {
      const u = m.get(a.nodeId) ?? { cpu: 0, memory: 0, disk: 0 };
      u.cpu += a.resources.cpu;
      u.memory += a.resources.memory;
      u.disk += a.resources.disk;
      m.set(a.nodeId, u);
    }
    return m;
  }
}
