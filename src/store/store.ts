/**
 * The state store: every read and write of baton's state goes through here.
 * Each write is one transaction that bumps the global index; after commit the
 * store emits `change` so blocking queries (agents' alloc watches, log
 * follows) wake within milliseconds.
 */
import { EventEmitter } from 'node:events';
import type { Kysely, Transaction } from 'kysely';
import type {
  AgentAlloc,
  Alloc,
  AllocClientStatus,
  AllocStatusUpdate,
  ClusterEvent,
  Deployment,
  DispatchRun,
  Evaluation,
  EvalTrigger,
  EventTopic,
  Job,
  JobSpec,
  JobStatus,
  JobSummary,
  LogChunk,
  NodeInfo,
  NodeSummary,
  RegisterNodeRequest,
  Resources,
  RunRow,
  TokenInfo,
  TokenRole,
} from '../api/types.js';
import { childId, childSpec } from '../jobs/dispatch.js';
import { nextLaunch } from '../jobs/periodic.js';
import { runRow, runsOfJob } from '../jobs/runs.js';
import { pickNextEval } from '../scheduler/fair-share.js';
import { sumTaskResources } from '../scheduler/resources.js';
import { checkPlan } from '../scheduler/check-plan.js';
import { allocCounts, computeJobStatus } from '../scheduler/job-status.js';
import type { DeploymentUpdate, Plan, SchedulerSnapshot } from '../scheduler/types.js';
import { AmbiguousIdError, ConflictError, NotFoundError } from './errors.js';
import { hashSecret, newId } from './ids.js';
import { migrate } from './migrations.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

const LIVE: AllocClientStatus[] = ['pending', 'running'];
const JOB_CACHE_ALLOCS = 100_000;
const jobKey = (namespace: string, jobId: string): string => `${namespace}\0${jobId}`;
const iso = (ms: number): string => new Date(ms).toISOString();

export interface ChangeEvent {
  index: number;
  /** nodes whose alloc list changed */
  nodes: Set<string>;
}

/** an event recorded inside a write; the index and time are stamped after commit */
type PendingEvent = Omit<ClusterEvent, 'index' | 'time'>;

const EVAL_EVENT: Partial<Record<Evaluation['status'], string>> = { blocked: 'EvalBlocked', complete: 'EvalCompleted', failed: 'EvalFailed' };

export interface StoreOptions {
  /** bytes of log kept per task and stream; older output is dropped first */
  logCapBytes: number;
  /** allocs kept parsed in memory across the jobs read most recently (default 100,000) */
  jobCacheAllocs?: number;
}

export interface AllocQuery {
  namespace?: string;
  jobId?: string;
  nodeId?: string;
  status?: string;
}

export class Store extends EventEmitter {
  private index = 0;
  /**
   * Allocs holding capacity (pending or running), kept in memory: every
   * evaluation needs them all, and reading and parsing them from SQLite each
   * time was most of the cost of scheduling. Read-only for callers; changed
   * only after a write commits.
   */
  private readonly live = new Map<string, Alloc>();
  /**
   * Every alloc of recently read jobs, by job, least recently used first: a
   * batch job of thousands of runs is read whole on every evaluation, status
   * report and status query, and parsing it from SQLite each time made the
   * server's work per run grow with the job. Read-only for callers; changed
   * only after a write commits; bounded by options.jobCacheAllocs.
   */
  private readonly jobCache = new Map<string, Map<string, Alloc>>();
  private jobCacheSize = 0;
  private txAllocs: Alloc[] | undefined;
  /** the events of the write in progress; emitted as 'events' only once it commits */
  private txEvents: PendingEvent[] | undefined;
  private constructor(
    readonly db: Kysely<Database>,
    readonly kind: 'sqlite' | 'postgres',
    readonly options: StoreOptions,
  ) {
    super();
    this.setMaxListeners(0);
  }

  static async open(db: Kysely<Database>, kind: 'sqlite' | 'postgres', options: StoreOptions): Promise<Store> {
    await migrate(db);
    const s = new Store(db, kind, options);
    const row = await db.selectFrom('meta').select('value').where('key', '=', 'index').executeTakeFirst();
    s.index = row ? Number(row.value) : 0;
    for (const a of await s.queryAllocs(db, { liveOnly: true })) s.live.set(a.id, a);
    return s;
  }

  currentIndex(): number {
    return this.index;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** one write: a transaction that bumps the index; listeners hear of it after commit */
  private async write<T>(fn: (trx: Transaction<Database>, index: number, touched: Set<string>) => Promise<T>): Promise<T> {
    const touched = new Set<string>();
    let next = 0;
    const changed: Alloc[] = [];
    const events: PendingEvent[] = [];
    let result: T;
    try {
      result = await this.db.transaction().execute(async (trx) => {
        this.txAllocs = undefined;
        next = this.index + 1;
        this.txAllocs = changed;
        // a retried or failed transaction must not leave half its events behind
        events.length = 0;
        this.txEvents = events;
        const r = await fn(trx, next, touched);
        await trx.insertInto('meta').values({ key: 'index', value: String(next) })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(next) })).execute();
        return r;
      });
    } finally {
      this.txEvents = undefined;
    }
    this.txAllocs = undefined;
    for (const a of changed) {
      if (LIVE.includes(a.clientStatus)) this.live.set(a.id, a);
      else this.live.delete(a.id);
      const cached = this.jobCache.get(jobKey(a.namespace, a.jobId));
      if (cached) {
        if (!cached.has(a.id)) this.jobCacheSize++;
        cached.set(a.id, a);
      }
    }
    this.index = next;
    if (events.length > 0) {
      const time = iso(Date.now());
      this.emit('events', events.map((e): ClusterEvent => ({ index: next, time, ...e })));
    }
    this.emit('change', { index: next, nodes: touched } satisfies ChangeEvent);
    return result;
  }

  /** Notes one change for the event stream (a no-op outside a write). Cheap: the payload is kept by reference. */
  private record(topic: EventTopic, type: string, key: string, namespace: string | undefined, payload: unknown): void {
    this.txEvents?.push({ topic, type, key, ...(namespace !== undefined ? { namespace } : {}), payload });
  }

  // ------------------------------------------------------------ meta and tokens

  async getMeta(key: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }

  async createToken(secret: string, name: string, role: TokenRole, namespace: string): Promise<TokenInfo> {
    const info: TokenInfo = { id: newId(), name, role, namespace, createdAt: new Date().toISOString() };
    await this.db.insertInto('tokens').values({
      id: info.id, secret_hash: hashSecret(secret), name, role, namespace, created_at: info.createdAt,
    }).execute();
    return info;
  }

  async tokenBySecret(secret: string): Promise<TokenInfo | undefined> {
    const r = await this.db.selectFrom('tokens').selectAll().where('secret_hash', '=', hashSecret(secret)).executeTakeFirst();
    return r ? { id: r.id, name: r.name, role: r.role as TokenRole, namespace: r.namespace, createdAt: r.created_at } : undefined;
  }

  async countTokens(): Promise<number> {
    const r = await this.db.selectFrom('tokens').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  // ------------------------------------------------------------ jobs

  /** Stores a new version when the spec changed (or the job was stopped), and always makes an eval. */
  async registerJob(spec: JobSpec, now: number): Promise<{ job: Job; evalId: string; changed: boolean }> {
    return this.write(async (trx, index) => this.registerIn(trx, index, spec, now));
  }

  private async registerIn(trx: Db, index: number, spec: JobSpec, now: number): Promise<{ job: Job; evalId: string; changed: boolean }> {
    const existing = await this.loadJob(trx, spec.namespace, spec.name);
    let job: Job;
    let changed = true;
    if (existing && !existing.stopped && JSON.stringify(existing.spec) === JSON.stringify(spec)) {
      job = existing;
      changed = false;
    } else {
      const version = existing ? existing.version + 1 : 1;
      job = {
        id: spec.name, namespace: spec.namespace, version, spec, stopped: false, status: 'pending',
        submittedAt: iso(now), createIndex: existing?.createIndex ?? index, modifyIndex: index,
      };
      await trx.insertInto('job_versions').values({
        namespace: job.namespace, id: job.id, version, spec: JSON.stringify(spec), submitted_at: job.submittedAt,
      }).execute();
      await this.saveJob(trx, job, !existing, 'JobRegistered');
      if (existing && !existing.stopped && sameButCount(existing.spec, spec)) {
        // only the count changed: running allocs carry on as the new version, nothing restarts
        for (const a of await this.queryAllocs(trx, { namespace: job.namespace, jobId: job.id })) {
          if (a.jobVersion !== existing.version || a.desiredStatus !== 'run' || !LIVE.includes(a.clientStatus)) continue;
          a.jobVersion = version;
          a.modifyIndex = index;
          a.modifiedAt = iso(now);
          await this.updateAlloc(trx, a);
        }
      }
    }
    const ev = await this.createEval(trx, index, job, 'job-register', now);
    return { job, evalId: ev.id, changed };
  }

  /** `baton job scale`: a new version with another count, updated in place */
  async scaleJob(namespace: string, id: string, count: number, now: number): Promise<{ job: Job; evalId: string }> {
    const job = await this.loadJob(this.db, namespace, id);
    if (!job) throw new NotFoundError(`job "${id}" not found in namespace "${namespace}"`);
    if (job.spec.type === 'system') throw new ConflictError(`job "${id}" is a system job: it runs one alloc per node and has no count`);
    if (job.spec.parameterized || job.spec.periodic) throw new ConflictError(`job "${id}" is a template: dispatch runs of it instead of scaling it`);
    const r = await this.registerJob({ ...job.spec, count }, now);
    return { job: r.job, evalId: r.evalId };
  }

  // ------------------------------------------------------------ node eligibility and drain

  async setEligibility(nodeId: string, eligible: boolean, now: number): Promise<NodeInfo> {
    return this.write(async (trx, index) => {
      const node = await this.loadNode(trx, nodeId);
      node.eligibility = eligible ? 'eligible' : 'ineligible';
      if (eligible) delete node.drain;
      node.modifyIndex = index;
      await this.saveNode(trx, node, Date.parse(node.lastHeartbeatAt), 'NodeEligibility');
      if (eligible) {
        await this.unblockAll(trx);
        await this.evalSystemJobs(trx, index, now);
      } else {
        await this.evalJobsOnNode(trx, index, nodeId, 'node-update', now);
      }
      return node;
    });
  }

  /** Starts (or cancels) a drain: the node takes no new work and its allocs move elsewhere. */
  async drainNode(nodeId: string, deadlineMs: number | undefined, cancel: boolean, now: number): Promise<NodeInfo> {
    if (cancel) return this.setEligibility(nodeId, true, now);
    return this.write(async (trx, index) => {
      const node = await this.loadNode(trx, nodeId);
      node.eligibility = 'ineligible';
      node.drain = { startedAt: iso(now), deadline: iso(now + (deadlineMs ?? 60 * 60_000)) };
      node.modifyIndex = index;
      await this.saveNode(trx, node, Date.parse(node.lastHeartbeatAt), 'NodeDrain');
      await this.evalJobsOnNode(trx, index, nodeId, 'node-update', now);
      return node;
    });
  }

  /**
   * Drains in progress: past its deadline a node's remaining jobs are looked at
   * again (the scheduler then stops what is left); a node with nothing left
   * has finished draining.
   */
  async checkDrains(now: number): Promise<void> {
    const nodes = (await this.listNodeInfos(this.db)).filter((n) => n.drain);
    for (const node of nodes) {
      const live = this.liveAllocs(node.id);
      if (live.length === 0) {
        await this.write(async (trx, index) => {
          const n = await this.loadNode(trx, node.id);
          if (!n.drain) return;
          delete n.drain;
          n.modifyIndex = index;
          await this.saveNode(trx, n, Date.parse(n.lastHeartbeatAt), 'NodeDrain');
        });
        continue;
      }
      const deadline = Date.parse(node.drain!.deadline);
      const key = `drain_deadline_evaluated:${node.id}:${node.drain!.deadline}`;
      if (now > deadline && !(await this.getMeta(key))) {
        await this.setMeta(key, '1');
        await this.write(async (trx, index) => this.evalJobsOnNode(trx, index, node.id, 'node-update', now));
      }
    }
  }

  private async evalJobsOnNode(db: Db, index: number, nodeId: string, trigger: EvalTrigger, now: number): Promise<void> {
    const seen = new Set<string>();
    for (const a of this.liveAllocs(nodeId)) {
      const key = `${a.namespace}/${a.jobId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const job = await this.loadJob(db, a.namespace, a.jobId);
      await this.createEval(db, index, job ?? { namespace: a.namespace, id: a.jobId }, trigger, now);
    }
  }

  /** a node joined or came back: every system job looks again (it may want an alloc there) */
  private async evalSystemJobs(db: Db, index: number, now: number): Promise<void> {
    const rows = await db.selectFrom('jobs').select('data').where('parent_id', 'is', null).execute();
    for (const r of rows) {
      const job = JSON.parse(r.data) as Job;
      if (job.spec.type === 'system' && !job.stopped) await this.createEval(db, index, job, 'node-update', now);
    }
  }

  /**
   * Makes one child job (and eval) per run of a parameterized job, in one
   * transaction: a sweep is stored whole or not at all.
   */
  async dispatchJobs(parent: Job, runs: DispatchRun[], sweepId: string, now: number, launch?: { id: string; at: string }): Promise<string[]> {
    const launchFor = launch?.at;
    return this.write(async (trx, index) => {
      const ids: string[] = [];
      for (let row = 0; row < runs.length; row++) {
        const run = runs[row];
        const id = launch?.id ?? childId(parent.id, sweepId, row);
        if (await this.loadJob(trx, parent.namespace, id)) throw new ConflictError(`job ${id} exists already`);
        const spec = childSpec(parent.spec, id, run.meta);
        const job: Job = {
          id, namespace: parent.namespace, version: 1, spec, stopped: false, status: 'pending', submittedAt: iso(now),
          parentId: parent.id,
          dispatch: { meta: run.meta, ...(run.payload ? { payload: run.payload } : {}), sweepId, row, ...(launchFor ? { launchFor } : {}) },
          createIndex: index, modifyIndex: index,
        };
        await trx.insertInto('job_versions').values({ namespace: job.namespace, id, version: 1, spec: JSON.stringify(spec), submitted_at: job.submittedAt }).execute();
        await this.saveJob(trx, job, true);
        await this.createEval(trx, index, job, 'job-register', now);
        ids.push(id);
      }
      return ids;
    });
  }

  /** One row per run: children of a parent, or indexes of a batch job. */
  async listRuns(job: Job): Promise<RunRow[]> {
    if (!job.spec.parameterized && !job.spec.periodic) return runsOfJob(job, await this.listAllocs({ namespace: job.namespace, jobId: job.id }));
    const children = await this.listJobs(job.namespace, { parent: job.id });
    const allocs = await this.db.selectFrom('allocs').innerJoin('jobs', (j) => j.onRef('jobs.namespace', '=', 'allocs.namespace').onRef('jobs.id', '=', 'allocs.job_id'))
      .select('allocs.data').where('jobs.namespace', '=', job.namespace).where('jobs.parent_id', '=', job.id).execute();
    const byJob = new Map<string, Alloc[]>();
    for (const r of allocs) {
      const a = JSON.parse(r.data) as Alloc;
      byJob.set(a.jobId, [...(byJob.get(a.jobId) ?? []), a]);
    }
    return children
      .sort((a, b) => a.createIndex - b.createIndex || (a.dispatch?.row ?? 0) - (b.dispatch?.row ?? 0))
      .map((c, i) => runRow(c, i, byJob.get(c.id) ?? []));
  }

  async stopJob(namespace: string, id: string, now: number): Promise<{ evalId: string }> {
    return this.write(async (trx, index) => {
      const job = await this.loadJob(trx, namespace, id);
      if (!job) throw new NotFoundError(`job "${id}" not found in namespace "${namespace}"`);
      job.stopped = true;
      job.modifyIndex = index;
      await this.saveJob(trx, job, false, 'JobStopped');
      const ev = await this.createEval(trx, index, job, 'job-stop', now);
      // stopping a sweep's parent stops the runs it launched
      const children = await trx.selectFrom('jobs').select('data').where('namespace', '=', namespace).where('parent_id', '=', id).execute();
      for (const row of children) {
        const child = JSON.parse(row.data) as Job;
        if (child.stopped || child.status === 'complete' || child.status === 'failed') continue;
        child.stopped = true;
        child.modifyIndex = index;
        await this.saveJob(trx, child, false, 'JobStopped');
        await this.createEval(trx, index, child, 'job-stop', now);
      }
      return { evalId: ev.id };
    });
  }

  async getJob(namespace: string, id: string): Promise<Job | undefined> {
    return this.loadJob(this.db, namespace, id);
  }

  /** top-level jobs by default; with `parent`, the children of that job */
  async listJobs(namespace: string, opts: { parent?: string } = {}): Promise<Job[]> {
    let q = this.db.selectFrom('jobs').select('data');
    if (namespace !== '*') q = q.where('namespace', '=', namespace);
    q = opts.parent !== undefined ? q.where('parent_id', '=', opts.parent) : q.where('parent_id', 'is', null);
    const rows = await q.orderBy('namespace').orderBy('id').execute();
    return rows.map((r) => JSON.parse(r.data) as Job);
  }

  async jobSummary(job: Job): Promise<JobSummary> {
    const allocs = await this.listAllocs({ namespace: job.namespace, jobId: job.id });
    const blockedEval = await this.db.selectFrom('evals').select('data')
      .where('namespace', '=', job.namespace).where('job_id', '=', job.id).where('status', '=', 'blocked')
      .orderBy('create_index', 'desc').executeTakeFirst();
    const blocked = blockedEval ? (JSON.parse(blockedEval.data) as Evaluation).failures : undefined;
    const summary: JobSummary = {
      id: job.id, namespace: job.namespace, type: job.spec.type, version: job.version, priority: job.spec.priority,
      count: job.spec.count, status: job.status, allocs: allocCounts(allocs), submittedAt: job.submittedAt,
      ...(blocked && blocked.length ? { blocked } : {}),
      ...(job.parentId ? { parentId: job.parentId } : {}),
    };
    if (job.spec.parameterized || job.spec.periodic) {
      const rows = await this.db.selectFrom('jobs').select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .where('namespace', '=', job.namespace).where('parent_id', '=', job.id).groupBy('status').execute();
      const children: Record<JobStatus, number> = { pending: 0, running: 0, complete: 0, failed: 0, stopped: 0 };
      for (const r of rows) if (r.status && r.status in children) children[r.status as JobStatus] = Number(r.n);
      summary.children = children;
      const next = job.spec.periodic && !job.stopped ? nextLaunch(job.spec.periodic, new Date()) : undefined;
      if (next) summary.nextLaunch = next.toISOString();
    }
    return summary;
  }

  /** the spec a given version of a job ran with */
  async jobVersionSpec(namespace: string, id: string, version: number): Promise<JobSpec | undefined> {
    const r = await this.db.selectFrom('job_versions').select('spec')
      .where('namespace', '=', namespace).where('id', '=', id).where('version', '=', version).executeTakeFirst();
    return r ? (JSON.parse(r.spec) as JobSpec) : undefined;
  }

  /** where a task's stored output ends */
  async logEnd(allocId: string, task: string, stream: string): Promise<number> {
    const r = await this.db.selectFrom('logs').select(['offset', 'size'])
      .where('alloc_id', '=', allocId).where('task', '=', task).where('stream', '=', stream)
      .orderBy('offset', 'desc').limit(1).executeTakeFirst();
    return r ? r.offset + r.size : 0;
  }

  private async loadJob(db: Db, namespace: string, id: string): Promise<Job | undefined> {
    const r = await db.selectFrom('jobs').select('data').where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
    return r ? (JSON.parse(r.data) as Job) : undefined;
  }

  private async saveJob(db: Db, job: Job, insert: boolean, event = insert ? 'JobRegistered' : 'JobUpdated'): Promise<void> {
    const data = JSON.stringify(job);
    this.record('job', event, job.id, job.namespace, job);
    if (insert) {
      await db.insertInto('jobs').values({
        namespace: job.namespace, id: job.id, version: job.version, data, modify_index: job.modifyIndex, parent_id: job.parentId ?? null, status: job.status,
      }).execute();
    } else {
      await db.updateTable('jobs').set({ version: job.version, data, modify_index: job.modifyIndex, status: job.status })
        .where('namespace', '=', job.namespace).where('id', '=', job.id).execute();
    }
  }

  /** recompute the stored status of a job from its allocs */
  private async refreshJobStatus(db: Db, namespace: string, id: string, index: number, now: number): Promise<void> {
    const job = await this.loadJob(db, namespace, id);
    if (!job) return;
    const allocs = await this.jobAllocs(db, namespace, id);
    const status = computeJobStatus(job, allocs, now);
    if (status !== job.status) {
      job.status = status;
      job.modifyIndex = index;
      await this.saveJob(db, job, false, 'JobStatusChanged');
    }
  }

  // ------------------------------------------------------------ deployments and job versions

  /** newest first */
  async listDeployments(filter: { namespace?: string; jobId?: string; limit?: number } = {}): Promise<Deployment[]> {
    let q = this.db.selectFrom('deployments').select('data');
    if (filter.namespace && filter.namespace !== '*') q = q.where('namespace', '=', filter.namespace);
    if (filter.jobId) q = q.where('job_id', '=', filter.jobId);
    const rows = await q.orderBy('create_index', 'desc').limit(filter.limit ?? 200).execute();
    return rows.map((r) => JSON.parse(r.data) as Deployment);
  }

  /** by id or unique id prefix */
  async getDeployment(idOrPrefix: string): Promise<Deployment> {
    const rows = await this.db.selectFrom('deployments').select('data').where('id', 'like', `${escapeLike(idOrPrefix)}%`).limit(10).execute();
    return JSON.parse(pickOne(rows.map((r) => r.data), idOrPrefix, 'deployment', (d) => (JSON.parse(d) as Deployment).id)) as Deployment;
  }

  /** `baton deployment promote`: the canaries proved themselves, the rolling update goes on */
  async promoteDeployment(id: string, now: number): Promise<Deployment> {
    return this.write(async (trx, index) => {
      const d = await this.loadDeployment(trx, id);
      if (!d) throw new NotFoundError(`deployment ${id} not found`);
      if (d.status !== 'running') throw new ConflictError(`deployment ${shortRef(d.id)} is ${d.status}: only a running deployment can be promoted`);
      if (d.desiredCanaries === 0) throw new ConflictError(`deployment ${shortRef(d.id)} has no canaries to promote`);
      if (d.promoted) throw new ConflictError(`deployment ${shortRef(d.id)} is promoted already`);
      const canaries = (await this.queryAllocs(trx, { namespace: d.namespace, jobId: d.jobId })).filter((a) => a.deploymentId === d.id && a.canary && a.desiredStatus === 'run');
      const unhealthy = canaries.filter((a) => a.healthy !== true);
      if (canaries.length < d.desiredCanaries || unhealthy.length > 0) {
        throw new ConflictError(`deployment ${shortRef(d.id)}: ${canaries.length - unhealthy.length} of ${d.desiredCanaries} canaries are healthy; promote once all are`);
      }
      d.promoted = true;
      d.statusDescription = 'promoted: rolling out the rest';
      await this.saveDeployment(trx, d, index, now);
      const job = await this.loadJob(trx, d.namespace, d.jobId);
      await this.createEval(trx, index, job ?? { namespace: d.namespace, id: d.jobId }, 'job-register', now);
      return d;
    });
  }

  /** `baton deployment fail`: stop rolling out; with auto_revert the last good version comes back */
  async failDeployment(id: string, now: number): Promise<Deployment> {
    return this.write(async (trx, index) => {
      const d = await this.loadDeployment(trx, id);
      if (!d) throw new NotFoundError(`deployment ${id} not found`);
      if (d.status !== 'running' && d.status !== 'paused') throw new ConflictError(`deployment ${shortRef(d.id)} is ${d.status} already`);
      await this.updateDeployment(trx, { id: d.id, status: 'failed', statusDescription: 'failed by a user' }, index, now);
      const job = await this.loadJob(trx, d.namespace, d.jobId);
      await this.createEval(trx, index, job ?? { namespace: d.namespace, id: d.jobId }, 'job-register', now);
      return (await this.loadDeployment(trx, d.id))!;
    });
  }

  /** every stored version of a job, newest first, with the deployment that rolled it out */
  async jobVersions(namespace: string, id: string): Promise<Array<{ version: number; submittedAt: string; spec: JobSpec; deployment?: Pick<Deployment, 'id' | 'status' | 'statusDescription'> }>> {
    const rows = await this.db.selectFrom('job_versions').selectAll().where('namespace', '=', namespace).where('id', '=', id).orderBy('version', 'desc').execute();
    if (rows.length === 0) throw new NotFoundError(`job "${id}" not found in namespace "${namespace}"`);
    const deps = new Map<number, Deployment>();
    // newest first: the latest deployment of a version wins
    for (const d of (await this.listDeployments({ namespace, jobId: id, limit: 1000 })).reverse()) deps.set(d.jobVersion, d);
    return rows.map((r) => {
      const d = deps.get(r.version);
      return { version: r.version, submittedAt: r.submitted_at, spec: JSON.parse(r.spec) as JobSpec, ...(d ? { deployment: { id: d.id, status: d.status, statusDescription: d.statusDescription } } : {}) };
    });
  }

  /** `baton job revert`: registers the spec of an earlier version as a new version */
  async revertJob(namespace: string, id: string, version: number, now: number): Promise<{ job: Job; evalId: string; changed: boolean }> {
    return this.write(async (trx, index) => {
      const job = await this.loadJob(trx, namespace, id);
      if (!job) throw new NotFoundError(`job "${id}" not found in namespace "${namespace}"`);
      return this.revertIn(trx, index, job, version, now);
    });
  }

  private async revertIn(trx: Db, index: number, job: Job, version: number, now: number): Promise<{ job: Job; evalId: string; changed: boolean }> {
    const r = await trx.selectFrom('job_versions').select('spec').where('namespace', '=', job.namespace).where('id', '=', job.id).where('version', '=', version).executeTakeFirst();
    if (!r) throw new NotFoundError(`job "${job.id}" has no version ${version} (it is at version ${job.version})`);
    const spec = r.spec;
    const out = await this.registerIn(trx, index, JSON.parse(spec) as JobSpec, now);
    if (!out.changed) return out;
    // Allocs still running the very same spec carry on as the new version: the old
    // version keeps serving without a restart, and only the failed rollout is undone.
    const same = new Map<number, boolean>();
    for (const a of await this.queryAllocs(trx, { namespace: job.namespace, jobId: job.id, liveOnly: true })) {
      if (a.desiredStatus !== 'run' || a.jobVersion === out.job.version) continue;
      if (!same.has(a.jobVersion)) {
        const v = await trx.selectFrom('job_versions').select('spec').where('namespace', '=', job.namespace).where('id', '=', job.id).where('version', '=', a.jobVersion).executeTakeFirst();
        same.set(a.jobVersion, v?.spec === spec);
      }
      if (!same.get(a.jobVersion)) continue;
      a.jobVersion = out.job.version;
      a.modifyIndex = index;
      a.modifiedAt = iso(now);
      await this.updateAlloc(trx, a);
    }
    return out;
  }

  private async loadDeployment(db: Db, id: string): Promise<Deployment | undefined> {
    const r = await db.selectFrom('deployments').select('data').where('id', '=', id).executeTakeFirst();
    return r ? (JSON.parse(r.data) as Deployment) : undefined;
  }

  private async latestDeployment(db: Db, namespace: string, jobId: string): Promise<Deployment | undefined> {
    const r = await db.selectFrom('deployments').select('data').where('namespace', '=', namespace).where('job_id', '=', jobId)
      .orderBy('create_index', 'desc').limit(1).executeTakeFirst();
    return r ? (JSON.parse(r.data) as Deployment) : undefined;
  }

  private async saveDeployment(db: Db, d: Deployment, index: number, now: number): Promise<void> {
    d.modifyIndex = index;
    d.modifiedAt = iso(now);
    this.record('deployment', 'DeploymentUpdated', d.id, d.namespace, d);
    await db.updateTable('deployments').set({ status: d.status, data: JSON.stringify(d) }).where('id', '=', d.id).execute();
  }

  /** the deployment a plan's placements join: created by the plan, or the running one it names */
  private async planDeployment(db: Db, plan: Plan, index: number, now: number): Promise<Deployment | undefined> {
    if (plan.createDeployment) {
      const d: Deployment = { ...plan.createDeployment, canaries: [], placedAllocs: 0, id: newId(), createIndex: index, modifyIndex: index, createdAt: iso(now), modifiedAt: iso(now) };
      this.record('deployment', 'DeploymentCreated', d.id, d.namespace, d);
      await db.insertInto('deployments').values({
        id: d.id, namespace: d.namespace, job_id: d.jobId, job_version: d.jobVersion, status: d.status, data: JSON.stringify(d), create_index: index,
      }).execute();
      return d;
    }
    return plan.deploymentId ? this.loadDeployment(db, plan.deploymentId) : undefined;
  }

  private async recordPlaced(db: Db, d: Deployment, placed: Alloc[], index: number, now: number): Promise<void> {
    const mine = placed.filter((a) => a.deploymentId === d.id);
    if (mine.length === 0) return;
    const fresh = (await this.loadDeployment(db, d.id))!;
    fresh.placedAllocs += mine.length;
    fresh.canaries.push(...mine.filter((a) => a.canary).map((a) => a.id));
    await this.saveDeployment(db, fresh, index, now);
  }

  /**
   * Applies what the scheduler (or a user) decided. A deployment that fails
   * with auto_revert registers the last version that deployed successfully
   * (or else the one before it) as a new version, unless a newer version was
   * submitted meanwhile.
   */
  private async updateDeployment(db: Db, u: DeploymentUpdate, index: number, now: number): Promise<void> {
    const d = await this.loadDeployment(db, u.id);
    if (!d) return;
    // a finished deployment stays as it ended; only counts may still change
    const { id: _id, ...fields } = u;
    const terminal = d.status !== 'running' && d.status !== 'paused';
    if (terminal && (fields.status !== undefined || fields.statusDescription !== undefined)) return;
    const failing = fields.status === 'failed';
    Object.assign(d, fields);
    if (failing && d.strategy.autoRevert) {
      const job = await this.loadJob(db, d.namespace, d.jobId);
      if (job && !job.stopped && job.version === d.jobVersion) {
        const good = (await db.selectFrom('deployments').select('data').where('namespace', '=', d.namespace).where('job_id', '=', d.jobId)
          .where('status', '=', 'successful').where('job_version', '<', d.jobVersion).orderBy('job_version', 'desc').limit(1).executeTakeFirst());
        const target = good ? (JSON.parse(good.data) as Deployment).jobVersion : d.jobVersion - 1;
        if (target >= 1) {
          const r = await this.revertIn(db, index, job, target, now);
          if (r.changed) {
            d.revertedTo = target;
            d.statusDescription = `${d.statusDescription}; reverted to version ${target} (now version ${r.job.version})`;
          }
        }
      }
    }
    await this.saveDeployment(db, d, index, now);
  }

  // ------------------------------------------------------------ evals

  private async createEval(db: Db, index: number, job: Pick<Job, 'namespace' | 'id'> & { spec?: JobSpec }, trigger: EvalTrigger, now: number, waitUntil?: number): Promise<Evaluation> {
    const ev: Evaluation = {
      id: newId(), namespace: job.namespace, jobId: job.id, priority: job.spec?.priority ?? 50, triggeredBy: trigger,
      status: 'pending', statusDescription: '', queuedAllocs: 0, failures: [],
      ...(waitUntil !== undefined ? { waitUntil: iso(waitUntil) } : {}),
      createIndex: index, modifyIndex: index, createdAt: iso(now), modifiedAt: iso(now),
    };
    this.record('eval', 'EvalCreated', ev.id, ev.namespace, ev);
    await db.insertInto('evals').values({
      id: ev.id, namespace: ev.namespace, job_id: ev.jobId, status: ev.status, priority: ev.priority,
      wait_until: waitUntil ?? 0, data: JSON.stringify(ev), create_index: index,
    }).execute();
    return ev;
  }

  private async saveEval(db: Db, ev: Evaluation): Promise<void> {
    this.record('eval', EVAL_EVENT[ev.status] ?? 'EvalUpdated', ev.id, ev.namespace, { ...ev });
    await db.updateTable('evals').set({ status: ev.status, data: JSON.stringify(ev), priority: ev.priority }).where('id', '=', ev.id).execute();
  }

  /**
   * The next eval due: highest priority first; among equal priorities, the
   * namespace with the smallest dominant share of the cluster goes first, so
   * one person's sweep of 500 does not starve a colleague's 5 runs.
   */
  async nextEval(now: number): Promise<Evaluation | undefined> {
    const rows = await this.db.selectFrom('evals').select(['id', 'namespace', 'priority', 'create_index']).where('status', '=', 'pending').where('wait_until', '<=', now)
      .orderBy('priority', 'desc').orderBy('create_index', 'asc').limit(2000).execute();
    if (rows.length === 0) return undefined;
    let id = rows[0].id;
    const top = rows.filter((r) => r.priority === rows[0].priority);
    if (new Set(top.map((r) => r.namespace)).size > 1) {
      const { usage, total } = await this.namespaceUsage(this.db);
      id = pickNextEval(top.map((r) => ({ id: r.id, namespace: r.namespace, priority: r.priority, createIndex: r.create_index })), usage, total) ?? id;
    }
    const r = await this.db.selectFrom('evals').select('data').where('id', '=', id).executeTakeFirstOrThrow();
    return JSON.parse(r.data) as Evaluation;
  }

  /** what each namespace's live allocs hold, and what the ready nodes have in all */
  private async namespaceUsage(db: Db): Promise<{ usage: Map<string, Resources>; total: Resources; nodes: NodeInfo[]; live: Alloc[] }> {
    const nodes = (await this.listNodeInfos(db)).filter((n) => n.status === 'ready' && n.eligibility === 'eligible');
    const total: Resources = { cpu: 0, memory: 0, disk: 0 };
    for (const n of nodes) {
      total.cpu += n.capacity.cpu;
      total.memory += n.capacity.memory;
      total.disk += n.capacity.disk;
    }
    const live = this.liveAllocs();
    const usage = new Map<string, Resources>();
    for (const a of live) {
      const u = usage.get(a.namespace) ?? { cpu: 0, memory: 0, disk: 0 };
      u.cpu += a.resources.cpu;
      u.memory += a.resources.memory;
      u.disk += a.resources.disk;
      usage.set(a.namespace, u);
    }
    return { usage, total, nodes, live };
  }

  /** when the earliest delayed eval becomes due, if any */
  async nextEvalDue(): Promise<number | undefined> {
    const r = await this.db.selectFrom('evals').select((eb) => eb.fn.min<number>('wait_until').as('t')).where('status', '=', 'pending').executeTakeFirst();
    return r?.t ?? undefined;
  }

  async getEval(idOrPrefix: string): Promise<Evaluation> {
    const rows = await this.db.selectFrom('evals').select('data').where('id', 'like', `${escapeLike(idOrPrefix)}%`).limit(10).execute();
    return JSON.parse(pickOne(rows.map((r) => r.data), idOrPrefix, 'eval', (d) => (JSON.parse(d) as Evaluation).id)) as Evaluation;
  }

  async listEvals(filter: { namespace?: string; jobId?: string; status?: string; limit?: number }): Promise<Evaluation[]> {
    let q = this.db.selectFrom('evals').select('data');
    if (filter.namespace && filter.namespace !== '*') q = q.where('namespace', '=', filter.namespace);
    if (filter.jobId) q = q.where('job_id', '=', filter.jobId);
    if (filter.status) q = q.where('status', '=', filter.status);
    const rows = await q.orderBy('create_index', 'desc').limit(filter.limit ?? 200).execute();
    return rows.map((r) => JSON.parse(r.data) as Evaluation);
  }

  /** A consistent view for the scheduler (SQLite serialises; reads happen between writes). */
  async snapshot(ev: Evaluation, now: number): Promise<SchedulerSnapshot> {
    const job = await this.loadJob(this.db, ev.namespace, ev.jobId);
    const nodes = await this.listNodeInfos(this.db);
    const usage = this.liveAllocs();
    const jobAllocs = await this.jobAllocs(this.db, ev.namespace, ev.jobId);
    const snapshot: SchedulerSnapshot = { now, eval: ev, job, nodes, usage, jobAllocs };
    const deployment = await this.latestDeployment(this.db, ev.namespace, ev.jobId);
    if (deployment) snapshot.deployment = deployment;
    if (job?.spec.preempt) {
      // only batch runs may be preempted: services and their like stay out of the map
      const priorities: Record<string, number> = {};
      for (const a of usage) {
        const key = `${a.namespace}/${a.jobId}`;
        if (key in priorities) continue;
        const other = await this.loadJob(this.db, a.namespace, a.jobId);
        if (other && other.spec.type === 'batch') priorities[key] = other.spec.priority;
      }
      snapshot.jobPriorities = priorities;
    }
    return snapshot;
  }

  /**
   * Commits what the scheduler decided, after checking it against fresh state:
   * placements that no longer fit are dropped and the eval retried.
   */
  async applyPlan(ev: Evaluation, plan: Plan, now: number): Promise<{ placed: Alloc[]; rejected: number }> {
    return this.write(async (trx, index, touched) => {
      const nodes = await this.listNodeInfos(trx);
      const check = checkPlan(plan, nodes, this.liveAllocs());
      const deployment = await this.planDeployment(trx, plan, index, now);
      const placed: Alloc[] = [];
      for (const p of check.accepted) {
        const alloc: Alloc = {
          id: newId(), namespace: plan.namespace, jobId: plan.jobId, jobVersion: p.jobVersion, name: p.name, index: p.index,
          nodeId: p.nodeId, nodeName: p.nodeName, evalId: ev.id, desiredStatus: 'run', desiredDescription: '',
          clientStatus: 'pending', clientDescription: 'waiting for the agent', resources: p.resources, taskStates: {},
          attempt: p.attempt, ...(p.previousAllocId ? { previousAllocId: p.previousAllocId } : {}),
          ...(p.taskResources ? { taskResources: p.taskResources } : {}),
          ...(p.ports ? { ports: p.ports } : {}),
          ...(p.deployment && deployment ? { deploymentId: deployment.id } : {}), ...(p.canary && deployment ? { canary: true } : {}),
          createIndex: index, modifyIndex: index, createdAt: iso(now), modifiedAt: iso(now),
        };
        touched.add(alloc.nodeId);
        placed.push(alloc);
      }
      await this.insertAllocs(trx, placed);
      if (deployment) await this.recordPlaced(trx, deployment, placed, index, now);
      for (const u of plan.deploymentUpdates ?? []) await this.updateDeployment(trx, u, index, now);
      for (const s of plan.stop) {
        const a = await this.loadAlloc(trx, s.allocId);
        if (!a || a.desiredStatus === 'stop') continue;
        a.desiredStatus = 'stop';
        a.desiredDescription = s.description;
        if (s.preemptedBy) a.preemptedBy = s.preemptedBy;
        // an alloc that never reached its node will never be reported: it ends here
        if (a.clientStatus === 'pending' && Object.keys(a.taskStates).length === 0) {
          a.clientStatus = 'complete';
          a.clientDescription = `stopped before it started: ${s.description}`;
        }
        a.modifyIndex = index;
        a.modifiedAt = iso(now);
        await this.updateAlloc(trx, a, 'AllocStopped');
        touched.add(a.nodeId);
      }
      // an older blocked eval of this job is superseded by this one
      await this.cancelBlocked(trx, ev.namespace, ev.jobId, ev.id);
      const queued = plan.queuedAllocs + check.rejected.length;
      if (check.rejected.length > 0) {
        ev.status = 'complete';
        ev.statusDescription = `${check.rejected.length} placements no longer fit; evaluating again`;
        const job = await this.loadJob(trx, ev.namespace, ev.jobId);
        await this.createEval(trx, index, job ?? { namespace: ev.namespace, id: ev.jobId }, ev.triggeredBy, now);
      } else if (queued > 0) {
        ev.status = 'blocked';
        ev.statusDescription = `${queued} allocs wait for capacity`;
      } else {
        ev.status = 'complete';
        ev.statusDescription = `placed ${placed.length}, stopped ${plan.stop.length}`;
      }
      ev.queuedAllocs = queued;
      ev.failures = plan.failures;
      ev.modifyIndex = index;
      ev.modifiedAt = iso(now);
      await this.saveEval(trx, ev);
      if (ev.status === 'blocked') {
        const job = await this.loadJob(trx, ev.namespace, ev.jobId);
        if (job) await trx.updateTable('evals').set({ ask: JSON.stringify(sumTaskResources(job.spec)) }).where('id', '=', ev.id).execute();
      }
      if (plan.followUpAt !== undefined) {
        const job = await this.loadJob(trx, ev.namespace, ev.jobId);
        await this.createEval(trx, index, job ?? { namespace: ev.namespace, id: ev.jobId }, 'retry', now, plan.followUpAt);
      }
      // evals of this job already waiting are answered by this one
      await trx.updateTable('evals').set({ status: 'cancelled' })
        .where('namespace', '=', ev.namespace).where('job_id', '=', ev.jobId).where('status', '=', 'pending')
        .where('wait_until', '<=', now).where('id', '!=', ev.id).where('create_index', '<', index).execute();
      await this.refreshJobStatus(trx, ev.namespace, ev.jobId, index, now);
      return { placed, rejected: check.rejected.length };
    });
  }

  /** Marks an eval failed when the scheduler itself threw (a bug, never bad input). */
  async failEval(ev: Evaluation, message: string, now: number): Promise<void> {
    await this.write(async (trx, index) => {
      ev.status = 'failed';
      ev.statusDescription = message;
      ev.modifyIndex = index;
      ev.modifiedAt = iso(now);
      await this.saveEval(trx, ev);
    });
  }

  private async cancelBlocked(db: Db, namespace: string, jobId: string, exceptId: string): Promise<void> {
    await db.updateTable('evals').set({ status: 'cancelled' })
      .where('namespace', '=', namespace).where('job_id', '=', jobId).where('status', '=', 'blocked').where('id', '!=', exceptId).execute();
  }

  /** A node joined or came back: every blocked eval gets another go. */
  private async unblockAll(db: Db): Promise<void> {
    await db.updateTable('evals').set({ status: 'pending' }).where('status', '=', 'blocked').execute();
  }

  /**
   * Allocs ended and freed capacity: wake only the blocked evals whose next
   * alloc fits somewhere in what is now free, in the order they would be
   * served (priority, then fair share, then age). Waking all of them for
   * every finished run would re-evaluate a queue of 1,000 a thousand times.
   */
  private async unblockFitting(db: Db): Promise<void> {
    const rows = await db.selectFrom('evals').select(['id', 'namespace', 'priority', 'create_index', 'ask']).where('status', '=', 'blocked')
      .orderBy('priority', 'desc').orderBy('create_index', 'asc').limit(5000).execute();
    if (rows.length === 0) return;
    const { usage, total, nodes, live } = await this.namespaceUsage(db);
    const free = new Map(nodes.map((n) => [n.id, { ...n.capacity }]));
    for (const a of live) {
      const f = free.get(a.nodeId);
      if (!f) continue;
      f.cpu -= a.resources.cpu;
      f.memory -= a.resources.memory;
      f.disk -= a.resources.disk;
    }
    const wake: string[] = [];
    let candidates = rows.map((r) => ({ id: r.id, namespace: r.namespace, priority: r.priority, createIndex: r.create_index, ask: r.ask ? (JSON.parse(r.ask) as Resources) : undefined }));
    while (candidates.length > 0) {
      const id = pickNextEval(candidates, usage, total) ?? candidates[0].id;
      const c = candidates.find((x) => x.id === id)!;
      candidates = candidates.filter((x) => x.id !== id);
      if (!c.ask) {
        wake.push(c.id);
        continue;
      }
      const ask = c.ask;
      const node = [...free.values()].find((f) => f.cpu >= ask.cpu && f.memory >= ask.memory && f.disk >= ask.disk);
      if (!node) continue;
      node.cpu -= ask.cpu;
      node.memory -= ask.memory;
      node.disk -= ask.disk;
      const u = usage.get(c.namespace) ?? { cpu: 0, memory: 0, disk: 0 };
      usage.set(c.namespace, { cpu: u.cpu + ask.cpu, memory: u.memory + ask.memory, disk: u.disk + ask.disk });
      wake.push(c.id);
    }
    for (let i = 0; i < wake.length; i += 500) {
      await db.updateTable('evals').set({ status: 'pending' }).where('id', 'in', wake.slice(i, i + 500)).execute();
    }
  }

  // ------------------------------------------------------------ nodes

  async registerNode(req: RegisterNodeRequest, secret: string, ttlMs: number, now: number): Promise<NodeInfo> {
    return this.write(async (trx, index) => {
      const node: NodeInfo = {
        id: newId(), name: req.name, status: 'ready', eligibility: 'eligible', nodeClass: req.nodeClass,
        datacenter: req.datacenter, drivers: req.drivers, attributes: req.attributes, labels: req.labels,
        capacity: req.capacity, reserved: req.reserved, heartbeatTtlMs: ttlMs, lastHeartbeatAt: iso(now),
        ...(req.address ? { address: req.address } : {}), ...(req.volumes ? { volumes: req.volumes } : {}), ...(req.portRange ? { portRange: req.portRange } : {}),
        registeredAt: iso(now), createIndex: index, modifyIndex: index,
      };
      this.record('node', 'NodeRegistered', node.id, undefined, node);
      await trx.insertInto('nodes').values({
        id: node.id, name: node.name, secret_hash: hashSecret(secret), status: node.status, last_heartbeat: now,
        data: JSON.stringify(node), modify_index: index,
      }).execute();
      await this.unblockAll(trx);
      await this.evalSystemJobs(trx, index, now);
      return node;
    });
  }

  async nodeBySecret(secret: string): Promise<NodeInfo | undefined> {
    const r = await this.db.selectFrom('nodes').select('data').where('secret_hash', '=', hashSecret(secret)).executeTakeFirst();
    return r ? (JSON.parse(r.data) as NodeInfo) : undefined;
  }

  /** An agent (re)started: fresh facts, and the node is ready again. */
  async updateNode(nodeId: string, req: RegisterNodeRequest, now: number): Promise<NodeInfo> {
    return this.write(async (trx, index) => {
      const node = await this.loadNode(trx, nodeId);
      Object.assign(node, {
        name: req.name, nodeClass: req.nodeClass, datacenter: req.datacenter, drivers: req.drivers, attributes: req.attributes,
        labels: req.labels, capacity: req.capacity, reserved: req.reserved, status: 'ready', lastHeartbeatAt: iso(now), modifyIndex: index,
        address: req.address, volumes: req.volumes, portRange: req.portRange,
      });
      await this.saveNode(trx, node, now);
      await this.unblockAll(trx);
      await this.evalSystemJobs(trx, index, now);
      return node;
    });
  }

  async heartbeat(nodeId: string, now: number): Promise<NodeInfo> {
    const node = await this.loadNode(this.db, nodeId);
    if (node.status === 'ready') {
      // the hot path: no index bump, nothing for watchers to see
      node.lastHeartbeatAt = iso(now);
      await this.db.updateTable('nodes').set({ last_heartbeat: now, data: JSON.stringify(node) }).where('id', '=', nodeId).execute();
      return node;
    }
    return this.write(async (trx, index) => {
      const n = await this.loadNode(trx, nodeId);
      n.status = 'ready';
      n.lastHeartbeatAt = iso(now);
      n.modifyIndex = index;
      await this.saveNode(trx, n, now);
      await this.unblockAll(trx);
      await this.evalSystemJobs(trx, index, now);
      return n;
    });
  }

  /** ready nodes whose last heartbeat is older than their TTL */
  async expiredNodes(now: number): Promise<NodeInfo[]> {
    const rows = await this.db.selectFrom('nodes').select('data').where('status', '=', 'ready').execute();
    return rows.map((r) => JSON.parse(r.data) as NodeInfo).filter((n) => Date.parse(n.lastHeartbeatAt) + n.heartbeatTtlMs < now);
  }

  /** The node stopped heartbeating: its allocs are lost and their jobs re-evaluated elsewhere. */
  async markNodeDown(nodeId: string, now: number): Promise<{ lost: number }> {
    return this.write(async (trx, index, touched) => {
      const node = await this.loadNode(trx, nodeId);
      if (node.status === 'down') return { lost: 0 };
      node.status = 'down';
      node.modifyIndex = index;
      await this.saveNode(trx, node, Date.parse(node.lastHeartbeatAt), 'NodeDown');
      touched.add(nodeId);
      const allocs = await this.queryAllocs(trx, { nodeId, liveOnly: true });
      const jobs = new Map<string, { namespace: string; id: string }>();
      for (const a of allocs) {
        a.clientStatus = 'lost';
        a.clientDescription = `node ${node.name} missed its heartbeats for ${Math.round(node.heartbeatTtlMs / 1000)}s`;
        a.desiredStatus = 'stop';
        a.desiredDescription = 'alloc lost with its node; replaced elsewhere';
        a.modifyIndex = index;
        a.modifiedAt = iso(now);
        await this.updateAlloc(trx, a);
        jobs.set(`${a.namespace}/${a.jobId}`, { namespace: a.namespace, id: a.jobId });
      }
      for (const j of jobs.values()) {
        const job = await this.loadJob(trx, j.namespace, j.id);
        await this.createEval(trx, index, job ?? j, 'node-down', now);
        await this.refreshJobStatus(trx, j.namespace, j.id, index, now);
      }
      return { lost: allocs.length };
    });
  }

  async listNodes(): Promise<NodeSummary[]> {
    const nodes = await this.listNodeInfos(this.db);
    const usage = this.liveAllocs();
    return nodes.map((n) => summarizeNode(n, usage));
  }

  /** by id, unique id prefix, or name */
  async getNode(ref: string): Promise<NodeSummary> {
    const nodes = await this.listNodeInfos(this.db);
    let node = nodes.find((n) => n.id === ref);
    if (!node) {
      const byName = nodes.filter((n) => n.name === ref);
      const matches = byName.length > 0 ? byName : nodes.filter((n) => n.id.startsWith(ref));
      node = JSON.parse(pickOne(matches.map((m) => JSON.stringify(m)), ref, 'node', (d) => (JSON.parse(d) as NodeInfo).id)) as NodeInfo;
    }
    const usage = this.liveAllocs(node.id);
    return summarizeNode(node, usage);
  }

  private async listNodeInfos(db: Db): Promise<NodeInfo[]> {
    const rows = await db.selectFrom('nodes').select('data').orderBy('name').execute();
    return rows.map((r) => JSON.parse(r.data) as NodeInfo);
  }

  private async loadNode(db: Db, id: string): Promise<NodeInfo> {
    const r = await db.selectFrom('nodes').select('data').where('id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError(`node ${id} not found`);
    return JSON.parse(r.data) as NodeInfo;
  }

  private async saveNode(db: Db, node: NodeInfo, lastHeartbeat: number, event = 'NodeUpdated'): Promise<void> {
    this.record('node', event, node.id, undefined, node);
    await db.updateTable('nodes').set({
      name: node.name, status: node.status, last_heartbeat: lastHeartbeat, data: JSON.stringify(node), modify_index: node.modifyIndex,
    }).where('id', '=', node.id).execute();
  }

  // ------------------------------------------------------------ allocs

  async listAllocs(filter: AllocQuery): Promise<Alloc[]> {
    if (filter.jobId && filter.namespace && filter.namespace !== '*' && !filter.nodeId && !filter.status) {
      return this.jobAllocs(this.db, filter.namespace, filter.jobId);
    }
    return this.queryAllocs(this.db, filter);
  }

  async getAlloc(idOrPrefix: string): Promise<Alloc> {
    const rows = await this.db.selectFrom('allocs').select('data').where('id', 'like', `${escapeLike(idOrPrefix)}%`).limit(10).execute();
    return JSON.parse(pickOne(rows.map((r) => r.data), idOrPrefix, 'alloc', (d) => (JSON.parse(d) as Alloc).id)) as Alloc;
  }

  /**
   * What an agent must know about: its allocs minus those that are over on
   * both sides (desired stop and finished), each with the job version to run.
   */
  async agentAllocs(nodeId: string): Promise<AgentAlloc[]> {
    // finished allocs pile up on a busy node; only live and lost ones can still concern its agent
    const allocs = await this.queryAllocs(this.db, { nodeId, clientStatuses: [...LIVE, 'lost'] });
    const out: AgentAlloc[] = [];
    const specs = new Map<string, JobSpec>();
    for (const a of allocs) {
      if (a.desiredStatus === 'stop' && (a.clientStatus === 'complete' || a.clientStatus === 'failed')) continue;
      if (a.desiredStatus === 'stop' && a.clientStatus === 'lost' && Object.values(a.taskStates).every((t) => t.state === 'dead')) continue;
      if (a.desiredStatus === 'run' && (a.clientStatus === 'complete' || a.clientStatus === 'failed')) continue;
      const key = `${a.namespace}/${a.jobId}@${a.jobVersion}`;
      let spec = specs.get(key);
      if (!spec) {
        const r = await this.db.selectFrom('job_versions').select('spec')
          .where('namespace', '=', a.namespace).where('id', '=', a.jobId).where('version', '=', a.jobVersion).executeTakeFirst();
        if (!r) continue;
        spec = JSON.parse(r.spec) as JobSpec;
        specs.set(key, spec);
      }
      // only dispatched children (ids with a '/') can carry a payload
      const payload = a.jobId.includes('/') ? (await this.loadJob(this.db, a.namespace, a.jobId))?.dispatch?.payload : undefined;
      out.push({ alloc: a, job: spec, ...(payload ? { payload } : {}) });
    }
    return out;
  }

  /**
   * An agent's report. Only the node's own allocs may be reported (403
   * otherwise); a finished alloc never goes back to running.
   */
  async updateAllocs(nodeId: string, updates: AllocStatusUpdate[], now: number): Promise<number> {
    return this.write(async (trx, index, touched) => {
      const jobs = new Map<string, { namespace: string; id: string; failed: boolean; ended: boolean; cameUp: boolean; deployment?: string }>();
      let freed = false;
      for (const u of updates) {
        const a = await this.loadAlloc(trx, u.allocId);
        if (!a) throw new NotFoundError(`alloc ${u.allocId} not found`);
        if (a.nodeId !== nodeId) throw new ForbiddenError(`alloc ${u.allocId} belongs to another node`);
        if (a.clientStatus === 'complete' || a.clientStatus === 'failed') continue;
        const wasUp = a.clientStatus === 'running' && a.healthy !== false;
        const wasHealthy = a.healthy === true;
        a.taskStates = u.taskStates;
        if (a.clientStatus !== 'lost') {
          a.clientStatus = u.clientStatus;
          a.clientDescription = u.clientDescription;
        }
        const tasks = Object.values(a.taskStates);
        a.healthy = a.clientStatus === 'running' && tasks.length > 0 && tasks.every((t) => t.state === 'running' && (t.health === undefined || t.health === 'healthy'));
        // a deployment counts an alloc once it has been healthy for min_healthy_time without a break
        if (a.healthy && !wasHealthy) a.healthySince = iso(now);
        if (!a.healthy) delete a.healthySince;
        a.modifyIndex = index;
        a.modifiedAt = iso(now);
        await this.updateAlloc(trx, a);
        // not touched: the agent knows what it reported, and waking its alloc watch for
        // that made it fetch its whole alloc list after every report; it hears of the
        // finished allocs with the next change that concerns it (or the watch timeout)
        const terminal = u.clientStatus === 'complete' || u.clientStatus === 'failed' || u.clientStatus === 'lost';
        if (terminal) freed = true;
        const key = `${a.namespace}/${a.jobId}`;
        const j = jobs.get(key) ?? { namespace: a.namespace, id: a.jobId, failed: false, ended: false, cameUp: false, deployment: undefined as string | undefined };
        if (a.deploymentId && (a.healthy !== wasHealthy || terminal)) j.deployment = a.deploymentId;
        if (terminal && a.clientStatus !== 'lost') j.ended = true;
        if (!wasUp && a.clientStatus === 'running' && a.healthy) j.cameUp = true;
        if (u.clientStatus === 'failed') j.failed = true;
        jobs.set(key, j);
      }
      // a replacement that came up lets a drain (or an update) take its next step
      const draining = [...jobs.values()].some((j) => j.cameUp) ? new Set((await this.listNodeInfos(trx)).filter((n) => n.drain).map((n) => n.id)) : new Set<string>();
      for (const j of jobs.values()) {
        const migrating = j.cameUp && draining.size > 0 && this.liveAllocs().some((x) => x.namespace === j.namespace && x.jobId === j.id && draining.has(x.nodeId));
        // an alloc of a running deployment turned healthy or unhealthy: the rollout takes its next step
        const rolling = !j.ended && !migrating && j.deployment !== undefined && (await this.loadDeployment(trx, j.deployment))?.status === 'running';
        if (j.ended || migrating || rolling) {
          const job = await this.loadJob(trx, j.namespace, j.id);
          await this.createEval(trx, index, job ?? j, j.failed ? 'alloc-failure' : j.ended ? 'alloc-stop' : 'node-update', now);
        }
        await this.refreshJobStatus(trx, j.namespace, j.id, index, now);
      }
      if (freed) await this.unblockFitting(trx);
      return index;
    });
  }

  private async queryAllocs(db: Db, f: AllocQuery & { liveOnly?: boolean; clientStatuses?: AllocClientStatus[] }): Promise<Alloc[]> {
    let q = db.selectFrom('allocs').select('data');
    if (f.namespace && f.namespace !== '*') q = q.where('namespace', '=', f.namespace);
    if (f.jobId) q = q.where('job_id', '=', f.jobId);
    if (f.nodeId) q = q.where('node_id', '=', f.nodeId);
    if (f.status) q = q.where('client_status', '=', f.status);
    if (f.liveOnly) q = q.where('client_status', 'in', LIVE);
    if (f.clientStatuses) q = q.where('client_status', 'in', f.clientStatuses);
    const rows = await q.orderBy('create_index').execute();
    return rows.map((r) => JSON.parse(r.data) as Alloc);
  }

  private async loadAlloc(db: Db, id: string): Promise<Alloc | undefined> {
    const r = await db.selectFrom('allocs').select('data').where('id', '=', id).executeTakeFirst();
    return r ? (JSON.parse(r.data) as Alloc) : undefined;
  }

  /** inserts in batches: one statement per few hundred rows, not per alloc */
  private async insertAllocs(db: Db, allocs: Alloc[]): Promise<void> {
    for (let i = 0; i < allocs.length; i += 200) {
      await db.insertInto('allocs').values(allocs.slice(i, i + 200).map((a) => ({
        id: a.id, namespace: a.namespace, job_id: a.jobId, node_id: a.nodeId, desired_status: a.desiredStatus,
        client_status: a.clientStatus, data: JSON.stringify(a), create_index: a.createIndex, modify_index: a.modifyIndex,
      }))).execute();
    }
    this.txAllocs?.push(...allocs);
    for (const a of allocs) this.record('alloc', 'AllocPlaced', a.id, a.namespace, a);
  }

  /**
   * All allocs of one job (read-only objects; the array is the caller's), oldest first. Inside a write
   * (db is the transaction) what the write changed so far counts already.
   */
  private async jobAllocs(db: Db, namespace: string, jobId: string): Promise<Alloc[]> {
    const key = jobKey(namespace, jobId);
    let cached = this.jobCache.get(key);
    if (cached) {
      // most recently used goes last
      this.jobCache.delete(key);
      this.jobCache.set(key, cached);
    } else {
      const before = this.index;
      const inWrite = db !== this.db;
      const rows = await this.queryAllocs(db, { namespace, jobId });
      // only committed state may be cached, and only if no write committed while reading
      if (inWrite || this.index !== before) return rows;
      cached = new Map(rows.map((a) => [a.id, a]));
      this.jobCache.set(key, cached);
      this.jobCacheSize += cached.size;
      for (const [k, m] of this.jobCache) {
        if (this.jobCacheSize <= (this.options.jobCacheAllocs ?? JOB_CACHE_ALLOCS) || k === key) break;
        this.jobCache.delete(k);
        this.jobCacheSize -= m.size;
      }
    }
    const mine = this.txAllocs?.filter((a) => a.namespace === namespace && a.jobId === jobId);
    if (!mine?.length) return [...cached.values()];
    const view = new Map(cached);
    for (const a of mine) view.set(a.id, a);
    return [...view.values()];
  }

  /** the allocs holding capacity, optionally on one node (read-only objects) */
  private liveAllocs(nodeId?: string): Alloc[] {
    let view = this.live;
    // inside a write, what it changed so far counts already
    if (this.txAllocs?.length) {
      view = new Map(this.live);
      for (const a of this.txAllocs) {
        if (LIVE.includes(a.clientStatus)) view.set(a.id, a);
        else view.delete(a.id);
      }
    }
    const all = [...view.values()];
    return nodeId ? all.filter((a) => a.nodeId === nodeId) : all;
  }

  private async updateAlloc(db: Db, a: Alloc, event = 'AllocUpdated'): Promise<void> {
    // a copy: callers go on changing `a` within the write
    const copy = structuredClone(a);
    this.txAllocs?.push(copy);
    this.record('alloc', event, a.id, a.namespace, copy);
    await db.updateTable('allocs').set({
      desired_status: a.desiredStatus, client_status: a.clientStatus, data: JSON.stringify(a), modify_index: a.modifyIndex,
    }).where('id', '=', a.id).execute();
  }

  // ------------------------------------------------------------ logs

  /** Appends shipped output, dropping the oldest chunks of a stream past the cap. */
  async appendLogs(nodeId: string, chunks: LogChunk[]): Promise<number> {
    const allocIds = new Set<string>();
    await this.db.transaction().execute(async (trx) => {
      const owners = new Map<string, string>();
      for (const c of chunks) {
        let owner = owners.get(c.allocId);
        if (owner === undefined) {
          const a = await this.loadAlloc(trx, c.allocId);
          if (!a) throw new NotFoundError(`alloc ${c.allocId} not found`);
          owner = a.nodeId;
          owners.set(c.allocId, owner);
        }
        if (owner !== nodeId) throw new ForbiddenError(`alloc ${c.allocId} belongs to another node`);
        const size = Buffer.byteLength(c.data);
        if (size === 0) continue;
        const last = await trx.selectFrom('logs').select(['offset', 'size'])
          .where('alloc_id', '=', c.allocId).where('task', '=', c.task).where('stream', '=', c.stream)
          .orderBy('offset', 'desc').limit(1).executeTakeFirst();
        const offset = last ? last.offset + last.size : 0;
        await trx.insertInto('logs').values({ alloc_id: c.allocId, task: c.task, stream: c.stream, offset, size, data: c.data }).execute();
        const floor = offset + size - this.options.logCapBytes;
        if (floor > 0) {
          await trx.deleteFrom('logs').where('alloc_id', '=', c.allocId).where('task', '=', c.task).where('stream', '=', c.stream)
            .where((eb) => eb('offset', '+', eb.ref('size')), '<=', floor).execute();
        }
        allocIds.add(c.allocId);
      }
    });
    for (const id of allocIds) this.emit('logs', id);
    return chunks.length;
  }

  /** bytes from `offset` on (or from the oldest kept byte when older output was dropped) */
  async readLogs(allocId: string, task: string, stream: string, offset: number, maxBytes = 512 * 1024): Promise<{ data: string; nextOffset: number; dropped: number }> {
    const rows = await this.db.selectFrom('logs').select(['offset', 'size', 'data'])
      .where('alloc_id', '=', allocId).where('task', '=', task).where('stream', '=', stream)
      .where((eb) => eb('offset', '+', eb.ref('size')), '>', offset)
      .orderBy('offset').limit(1000).execute();
    let out = '';
    let bytes = 0;
    let next = offset;
    let dropped = 0;
    for (const r of rows) {
      if (bytes > 0 && bytes + r.size > maxBytes) break;
      if (r.offset > next) dropped += r.offset - next;
      const buf = Buffer.from(r.data);
      const skip = Math.max(0, next - r.offset);
      out += skip > 0 ? buf.subarray(skip).toString() : r.data;
      bytes += r.size - skip;
      next = r.offset + r.size;
    }
    return { data: out, nextOffset: next, dropped };
  }
}

export class ForbiddenError extends Error {
  readonly status = 403;
}

/** two specs that differ in count only: the job can be scaled in place */
function sameButCount(a: JobSpec, b: JobSpec): boolean {
  return a.count !== b.count && JSON.stringify({ ...a, count: 0 }) === JSON.stringify({ ...b, count: 0 });
}

function summarizeNode(n: NodeInfo, usage: Alloc[]): NodeSummary {
  const used: Resources = { cpu: 0, memory: 0, disk: 0 };
  let allocCount = 0;
  for (const a of usage) {
    if (a.nodeId !== n.id) continue;
    used.cpu += a.resources.cpu;
    used.memory += a.resources.memory;
    used.disk += a.resources.disk;
    allocCount++;
  }
  return { ...n, used, allocCount };
}

function shortRef(id: string): string {
  return id.slice(0, 8);
}

function escapeLike(s: string): string {
  return s.replace(/[%_\\]/g, '');
}

function pickOne(rows: string[], ref: string, what: string, idOf: (row: string) => string): string {
  if (ref.length < 4 && rows.length !== 1) throw new AmbiguousIdError(`${what} id prefix "${ref}" is too short: give at least 4 characters`);
  const exact = rows.find((r) => idOf(r) === ref);
  if (exact) return exact;
  if (rows.length === 0) throw new NotFoundError(`${what} "${ref}" not found`);
  if (rows.length > 1) throw new AmbiguousIdError(`${what} id prefix "${ref}" matches ${rows.length}: ${rows.map(idOf).slice(0, 5).join(', ')}; give more characters`);
  return rows[0];
}

export { AmbiguousIdError, ConflictError, NotFoundError };
