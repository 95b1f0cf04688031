/**
 * The state store: every read and write of baton's state goes through here.
 * Each write is one transaction that bumps the global index; after commit the
 * store emits `change` so blocking queries (agents' alloc watches, log
 * follows) wake within milliseconds.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { type Kysely, type Transaction } from 'kysely';
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
  GcResponse,
  Job,
  JobSpec,
  JobStatus,
  JobSummary,
  LogChunk,
  NodeInfo,
  NodeSummary,
  QueueSummary,
  RegisterNodeRequest,
  Resources,
  RunOutcome,
  RunRow,
  RunStats,
  SecretInfo,
  TokenInfo,
  TokenRole,
} from '../api/types.js';
import { childId } from '../jobs/dispatch.js';
import { nextLaunch } from '../jobs/periodic.js';
import { formatDuration } from '../spec/units.js';
import { applyRunChange, publicStats, runFacts, subtractStats, type RunFacts, type StoredRunStats } from '../jobs/run-stats.js';
import { runRow, runsOfJob } from '../jobs/runs.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import {
  insertRuns,
  isRunId,
  listRunRecords,
  loadRun,
  loadStats,
  newStatsRow,
  queuedRuns,
  runJob,
  runRowOf,
  saveRun,
  saveStats,
  type RunRecord,
  type RunResult,
} from './runs.js';
import { blockedToWake, isReplacementTrigger, pickNextEval, roomOf, type Room } from '../scheduler/fair-share.js';
import { isParentJob, jobKind } from '../scheduler/reconcile.js';
import { fits, RESOURCE_DIMENSIONS, sumTaskResources } from '../scheduler/resources.js';
import { acceptPlan, allocFromPlacement, applyStop, evalOutcome } from '../scheduler/plan-apply.js';
import {
  applyDeploymentUpdate,
  failRefusal,
  liveCanaries,
  promote,
  promoteRefusal,
  recordPlacements,
  revertTarget,
} from '../scheduler/deployment-transitions.js';
import { allocCounts, computeJobStatus } from '../scheduler/job-status.js';
import type { DeploymentUpdate, FairShareView, Plan, QueuedRun, SchedulerSnapshot } from '../scheduler/types.js';
import { AmbiguousIdError, ConflictError, describeStoreError, NotFoundError, NotLeaderError } from './errors.js';
import { hashSecret, newId } from './ids.js';
import {
  allSealed,
  deleteSecret,
  listSecrets,
  loadSecrets,
  saveSecret,
  secretsStamp,
  secretVersion,
  secretVersions,
  updateSealed,
  type StoredSecret,
} from './secrets.js';
import type { ChangeListener, LeaderLease, StoreBackend, StoreKind } from './backend.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

const LIVE: AllocClientStatus[] = ['pending', 'running'];
const JOB_CACHE_ALLOCS = 50_000;
/** most runs one pass over a parent's queue places; the pass after it goes on */
export const QUEUE_BATCH = 200;
/** parent versions' specs kept parsed: every read of a run makes its spec from one */
const PARENT_SPECS = 1_000;
const jobKey = (namespace: string, jobId: string): string => `${namespace}\0${jobId}`;
const iso = (ms: number): string => new Date(ms).toISOString();

/** writes whose events a shared store keeps in `changes`: a server's event buffer starts from them */
export const CHANGES_KEPT = 20_000;
/** how often a shared store looks for others' commits besides their notices */
const FOLLOW_POLL_MS = 1_000;

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
  /**
   * a shared store hears other servers' commits as they happen (default);
   * false: only when it writes or follow() is called (tests that need a
   * server to be behind on purpose)
   */
  listen?: boolean;
}

export interface DispatchOptions {
  /** a periodic launch: the run's id and the slot it is for */
  launch?: { id: string; at: string };
  /** continue the sweep from this row (a later part of a large dispatch) */
  offset?: number;
}

export interface DispatchResult {
  ids: string[];
  /** runs in the sweep so far */
  total: number;
  /** this part had been stored before */
  repeated: boolean;
}

export interface RunPageFilter {
  cursor?: string;
  limit?: number;
  outcome?: RunOutcome;
  sweepId?: string;
}

export interface JobPageFilter {
  /** the runs of this parent instead of top-level jobs */
  parent?: string;
  status?: JobStatus;
  /** batch, service, system, parameterized or periodic */
  kind?: string;
  cursor?: string;
  limit?: number;
}

export const DEFAULT_PAGE = 100;

/** a page size the server can answer quickly: default DEFAULT_PAGE, at most `max` */
export function clampLimit(limit: number | undefined, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}

/** what a stored run counts as in its sweep's totals */
function storedFacts(run: RunRecord): RunFacts {
  return runFacts(run.status, { outcome: run.outcome, ...(run.result ?? {}) });
}

/** what a run keeps of its latest alloc's row; a run queued again says why */
function resultOf(row: RunRow, outcome: RunOutcome): RunResult {
  const { jobId: _j, index: _i, meta: _m, outcome: rowOutcome, ...rest } = row;
  if (outcome !== rowOutcome && (outcome === 'queued' || outcome === 'preempted') && row.allocId) {
    rest.reason = `waiting to run again after ${rowOutcome}${row.reason ? `: ${row.reason}` : ''}`;
  }
  return rest;
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
  /** parent job versions' specs: immutable once stored, so kept without invalidation (bounded) */
  private readonly parentSpecs = new Map<string, JobSpec | null>();
  /**
   * Heartbeats of ready nodes, kept here and written in one go every second
   * (flushHeartbeats): a heartbeat never waits for the store, so a big write
   * (a dispatch of 10,000 runs) cannot make it late. Node statuses follow
   * every committed write, so a heartbeat knows without a read whether its
   * node is ready (the fast path) or coming back (a write).
   */
  private readonly beats = new Map<string, number>();
  private readonly nodeStatus = new Map<string, NodeInfo['status']>();
  /** node secret hash → node: agents authenticate on every call; nodes are never removed, secrets never change */
  private readonly nodeAuth = new Map<string, NodeInfo>();
  /**
   * The write in progress, for the code running inside it only: the allocs it
   * changed so far (its reads see them) and its events (emitted once it
   * commits). Kept per asynchronous context, not on the instance: a read that
   * runs beside a write (PostgreSQL serves it on another connection) sees
   * committed state, never the write's half.
   */
  private readonly tx = new AsyncLocalStorage<{ allocs: Alloc[]; events: PendingEvent[] }>();

  private get txAllocs(): Alloc[] | undefined {
    return this.tx.getStore()?.allocs;
  }
  /** one follow (or write, on a shared store) at a time: each applies a range of indexes once, in order */
  private following: Promise<unknown> = Promise.resolve();
  private listener: ChangeListener | undefined;
  private poll: NodeJS.Timeout | undefined;
  private fence: { serverId: string; epoch: number } | undefined;
  /** the store's own (and its tests'): nothing outside src/store/ reads or writes the database */
  readonly db: Kysely<Database>;
  readonly kind: StoreKind;
  private constructor(
    private readonly backend: StoreBackend,
    readonly options: StoreOptions,
  ) {
    super();
    this.setMaxListeners(0);
    this.db = backend.db;
    this.kind = backend.kind;
  }

  static async open(backend: StoreBackend, options: StoreOptions): Promise<Store> {
    const db = backend.db;
    await backend.migrate();
    const s = new Store(backend, options);
    const row = await db.selectFrom('meta').select('value').where('key', '=', 'index').executeTakeFirst();
    s.index = row ? Number(row.value) : 0;
    for (const a of await s.queryAllocs(db, { liveOnly: true })) s.live.set(a.id, a);
    for (const n of await db.selectFrom('nodes').select(['id', 'status']).execute()) s.nodeStatus.set(n.id, n.status as NodeInfo['status']);
    if (backend.shared && options.listen !== false) {
      // notices say "something committed": what it was is read from `changes`, so a missed or merged notice loses nothing
      s.listener = await backend.listen(
        // follow() never rejects (a failed read is retried by the next one)
        (channel, payload) =>
          void (channel === 'baton_logs' ? s.emit('logs', payload) : channel === 'baton_leader' ? s.emit('leaderReleased', payload) : s.follow()),
        () => void s.follow(),
      );
      // what committed between reading the index above and listening
      await s.follow();
      // and a poll beside the notices: a listening connection that went quiet (a partition) is not noticed by TCP for hours
      s.poll = setInterval(() => void s.follow(), FOLLOW_POLL_MS);
      s.poll.unref();
    }
    return s;
  }

  /** several servers share this store's database */
  get shared(): boolean {
    return this.backend.shared;
  }

  /** the leader lease and the servers' presence (src/server/leadership.ts) */
  get lease(): LeaderLease {
    return this.backend.lease;
  }

  /** where the store is (no credentials) */
  get location(): string {
    return this.backend.describe;
  }

  /** allocs holding capacity by client status, from memory */
  liveCounts(): Array<{ client_status: string; n: number }> {
    let pending = 0;
    let running = 0;
    for (const a of this.live.values()) {
      if (a.clientStatus === 'pending') pending++;
      else running++;
    }
    return [
      { client_status: 'pending', n: pending },
      { client_status: 'running', n: running },
    ];
  }

  /** finished allocs by client status (a scan of history: the metrics ask once a minute) */
  async finishedAllocCounts(): Promise<Array<{ client_status: string; n: number }>> {
    return this.db
      .selectFrom('allocs')
      .select(['client_status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('client_status', 'in', ['complete', 'failed', 'lost'])
      .groupBy('client_status')
      .execute();
  }

  /** jobs by status, each parent's run totals (JSON StoredRunStats) and waiting evals by status: the metrics' gauges */
  async statusCounts(): Promise<{ jobs: Array<{ status: string | null; n: number }>; runStats: string[]; evals: Array<{ status: string; n: number }> }> {
    const [jobs, runs, evals] = await Promise.all([
      this.db
        .selectFrom('jobs')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('status')
        .execute(),
      this.db.selectFrom('run_stats').select('data').where('sweep_id', '=', '').execute(),
      this.db
        .selectFrom('evals')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .where('status', 'in', ['pending', 'blocked'])
        .groupBy('status')
        .execute(),
    ]);
    return { jobs, runStats: runs.map((r) => r.data), evals };
  }

  currentIndex(): number {
    return this.index;
  }

  async close(): Promise<void> {
    await this.flushHeartbeats().catch(() => undefined);
    clearInterval(this.poll);
    await this.listener?.close();
    await this.following.catch(() => undefined);
    await this.backend.close();
  }

  /**
   * Catches up with what other servers committed (a shared store only):
   * their writes' events are emitted here as if they were this server's, the
   * caches take their allocs and node statuses, and watchers wake. Runs one
   * at a time; safe to call at any moment, a call that finds nothing is one
   * small read.
   */
  follow(): Promise<void> {
    if (!this.backend.shared) return Promise.resolve();
    const run = this.following.then(() => this.backend.consistentRead((db) => this.applyFollowed(db)));
    this.following = run.catch(() => undefined);
    return run.catch(() => undefined);
  }

  /** the changes after this.index and their allocs, read in one consistent view (or under a write's index lock) */
  private async applyFollowed(db: Db): Promise<void> {
    const from = this.index;
    const rows = await db.selectFrom('changes').selectAll().where('at_index', '>', from).orderBy('at_index').execute();
    if (rows.length === 0) return;
    const to = rows[rows.length - 1].at_index;
    const allocs = await db.selectFrom('allocs').select('data').where('modify_index', '>', from).where('modify_index', '<=', to).execute();
    for (const r of allocs) this.cacheAlloc(JSON.parse(r.data) as Alloc);
    for (const r of rows) {
      // a write of this server that committed between its own apply and this read is not applied twice
      if (r.at_index <= this.index) continue;
      const events = JSON.parse(r.events) as PendingEvent[];
      this.index = r.at_index;
      for (const e of events) if (e.topic === 'node') this.nodeStatus.set(e.key, (e.payload as NodeInfo).status);
      if (events.length > 0) {
        const time = iso(r.time);
        this.emit(
          'events',
          events.map((e): ClusterEvent => ({ index: r.at_index, time, ...e })),
        );
      }
      this.emit('change', { index: r.at_index, nodes: new Set(JSON.parse(r.nodes) as string[]) } satisfies ChangeEvent);
    }
  }

  /**
   * The events of the latest writes, oldest first, as the change log keeps
   * them (shared stores; none on SQLite, whose one server saw them all): a
   * server that starts, or takes over, resumes a client's event stream from
   * an index another server handed out.
   */
  async recentEvents(limit: number): Promise<ClusterEvent[]> {
    if (!this.backend.shared) return [];
    const out: ClusterEvent[] = [];
    const rows = await this.db.selectFrom('changes').selectAll().where('at_index', '<=', this.index).orderBy('at_index', 'desc').limit(limit).execute();
    for (const r of rows.reverse()) {
      const time = iso(r.time);
      for (const e of JSON.parse(r.events) as PendingEvent[]) out.push({ index: r.at_index, time, ...e });
    }
    return out.slice(-limit);
  }

  /**
   * Where the caches disagree with a fresh read of the database (none, or a
   * bug): live allocs, node statuses and the cached jobs' allocs. For tests
   * and for an operator who doubts a server; call it when no write is in
   * flight, or a write's own changes show as drift for a moment.
   */
  async cacheDrift(): Promise<string[]> {
    await this.follow();
    const out: string[] = [];
    const live = await this.queryAllocs(this.db, { liveOnly: true });
    const want = new Map(live.map((a) => [a.id, a.modifyIndex]));
    for (const [id, m] of want)
      if (this.live.get(id)?.modifyIndex !== m) out.push(`live alloc ${id}: cached at ${this.live.get(id)?.modifyIndex ?? 'absent'}, stored at ${m}`);
    for (const [id, a] of this.live) if (!want.has(id)) out.push(`live alloc ${id}: cached as ${a.clientStatus}, not live in the store`);
    for (const n of await this.db.selectFrom('nodes').select(['id', 'status']).execute()) {
      if (this.nodeStatus.get(n.id) !== n.status) out.push(`node ${n.id}: cached ${this.nodeStatus.get(n.id) ?? 'absent'}, stored ${n.status}`);
    }
    for (const [key, cached] of this.jobCache) {
      const [namespace, jobId] = key.split('\0');
      const stored = await this.queryAllocs(this.db, { namespace, jobId });
      for (const a of stored)
        if (cached.get(a.id)?.modifyIndex !== a.modifyIndex)
          out.push(`job ${jobId} alloc ${a.id}: cached at ${cached.get(a.id)?.modifyIndex ?? 'absent'}, stored at ${a.modifyIndex}`);
    }
    return out;
  }

  /** a committed alloc into the caches, unless they hold a newer version of it already */
  private cacheAlloc(a: Alloc): void {
    const had = this.live.get(a.id);
    if (had && had.modifyIndex > a.modifyIndex) return;
    if (LIVE.includes(a.clientStatus)) this.live.set(a.id, a);
    else this.live.delete(a.id);
    const cached = this.jobCache.get(jobKey(a.namespace, a.jobId));
    if (cached) {
      const old = cached.get(a.id);
      if (old && old.modifyIndex > a.modifyIndex) return;
      if (!old) this.jobCacheSize++;
      cached.set(a.id, a);
    }
  }

  /**
   * One write: a transaction that takes the next index first (so writers on
   * every server serialise), and listeners hear of it after commit. On a
   * shared store it first catches up with what others committed before it,
   * records its events in `changes` and announces itself.
   */
  private write<T>(fn: (trx: Transaction<Database>, index: number, touched: Set<string>) => Promise<T>, leaderOnly = false): Promise<T> {
    if (!this.backend.shared) return this.writeOnce(fn, false);
    // under the follow lock from catching up to applying its own: a follow in between would apply this write as another's
    const run = this.following.then(() => this.writeOnce(fn, leaderOnly));
    this.following = run.catch(() => undefined);
    return run;
  }

  /**
   * A write only the leader makes (plans, nodes marked down, drains): on a
   * shared store it commits only while this server holds the leader lease at
   * the epoch it was given (fenceWith), checked in the same transaction.
   */
  private leaderWrite<T>(fn: (trx: Transaction<Database>, index: number, touched: Set<string>) => Promise<T>): Promise<T> {
    return this.write(fn, true);
  }

  /** the lease this server leads under (set by the server's leadership; undefined: it does not lead) */
  fenceWith(f: { serverId: string; epoch: number } | undefined): void {
    this.fence = f;
  }

  private async writeOnce<T>(fn: (trx: Transaction<Database>, index: number, touched: Set<string>) => Promise<T>, leaderOnly: boolean): Promise<T> {
    const touched = new Set<string>();
    let next = 0;
    const changed: Alloc[] = [];
    const events: PendingEvent[] = [];
    let result: T;
    let time = 0;
    // SQLite rolls back by itself on some faults (SQLITE_FULL, often at COMMIT); a ROLLBACK after
    // that fails with "no transaction is active", which must not hide what really went wrong
    try {
      const trx = await this.db.startTransaction().execute();
      try {
        next = await this.backend.nextIndex(trx);
        if (leaderOnly && this.backend.shared) {
          if (!this.fence) throw new NotLeaderError('this server does not lead: only the leader schedules, marks nodes down and drains');
          await this.backend.lease.fence(trx, this.fence.serverId, this.fence.epoch);
        }
        if (this.backend.shared && next - 1 > this.index) await this.applyFollowed(trx);
        result = await this.tx.run({ allocs: changed, events }, () => fn(trx, next, touched));
        time = Date.now();
        if (this.backend.shared) {
          await trx
            .insertInto('changes')
            .values({ at_index: next, time, nodes: JSON.stringify([...touched]), events: JSON.stringify(events) })
            .execute();
          await this.backend.announce(trx, 'baton_changes', String(next));
        }
        await trx.commit().execute();
      } catch (err) {
        await trx
          .rollback()
          .execute()
          .catch(() => undefined);
        throw err;
      }
    } catch (err) {
      throw describeStoreError(err);
    }
    for (const a of changed) this.cacheAlloc(a);
    this.index = next;
    for (const e of events) if (e.topic === 'node') this.nodeStatus.set(e.key, (e.payload as NodeInfo).status);
    if (events.length > 0) {
      const at = iso(time);
      this.emit(
        'events',
        events.map((e): ClusterEvent => ({ index: next, time: at, ...e })),
      );
    }
    this.emit('change', { index: next, nodes: touched } satisfies ChangeEvent);
    return result;
  }

  /** Notes one change for the event stream (a no-op outside a write). Cheap: the payload is kept by reference. */
  private record(topic: EventTopic, type: string, key: string, namespace: string | undefined, payload: unknown): void {
    this.tx.getStore()?.events.push({ topic, type, key, ...(namespace !== undefined ? { namespace } : {}), payload });
  }

  // ------------------------------------------------------------ meta and tokens

  async getMeta(key: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  /** stores `value` unless the key has one already; answers what the key holds after (the first writer's, on a race) */
  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    return (await this.getMeta(key))!;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  async createToken(secret: string, name: string, role: TokenRole, namespace: string, expiresAt?: string): Promise<TokenInfo> {
    const info: TokenInfo = { id: newId(), name, role, namespace, createdAt: new Date().toISOString(), ...(expiresAt ? { expiresAt } : {}) };
    await this.db
      .insertInto('tokens')
      .values({
        id: info.id,
        secret_hash: hashSecret(secret),
        name,
        role,
        namespace,
        created_at: info.createdAt,
        expires_at: expiresAt ?? null,
      })
      .execute();
    return info;
  }

  /** the token of a secret, expired ones included (the caller says why it is refused) */
  async tokenBySecret(secret: string): Promise<TokenInfo | undefined> {
    const r = await this.db.selectFrom('tokens').selectAll().where('secret_hash', '=', hashSecret(secret)).executeTakeFirst();
    return r ? tokenInfo(r) : undefined;
  }

  async tokenById(id: string): Promise<TokenInfo | undefined> {
    const r = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? tokenInfo(r) : undefined;
  }

  /** every API token, oldest first; never their secrets (only hashes are kept) */
  async listTokens(): Promise<TokenInfo[]> {
    const rows = await this.db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(tokenInfo);
  }

  async deleteToken(id: string): Promise<void> {
    await this.db.deleteFrom('tokens').where('id', '=', id).execute();
  }

  async countTokens(): Promise<number> {
    const r = await this.db
      .selectFrom('tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  // ------------------------------------------------------------ secrets

  /**
   * A new version of a secret. `seal` encrypts for the version given (it is
   * bound into the ciphertext); the nodes running allocs of its namespace are
   * woken, and those whose allocs name it see a new secretsStamp.
   */
  async putSecret(namespace: string, name: string, keys: string[], seal: (version: number) => string, now: number): Promise<SecretInfo> {
    return this.write(async (trx, _index, touched) => {
      const version = (await secretVersion(trx, namespace, name)) + 1;
      const info = await saveSecret(trx, namespace, name, version, keys, seal(version), iso(now));
      for (const a of this.live.values()) if (a.namespace === namespace) touched.add(a.nodeId);
      this.record('secret', 'SecretPut', `${namespace}/${name}`, namespace, info);
      return info;
    });
  }

  async deleteSecret(namespace: string, name: string): Promise<SecretInfo> {
    return this.write(async (trx, _index, touched) => {
      const info = await deleteSecret(trx, namespace, name);
      if (!info) throw new NotFoundError(`secret ${namespace}/${name} not found (baton secret ls -n ${namespace} lists them)`);
      for (const a of this.live.values()) if (a.namespace === namespace) touched.add(a.nodeId);
      this.record('secret', 'SecretDeleted', `${namespace}/${name}`, namespace, info);
      return info;
    });
  }

  listSecrets(namespace: string): Promise<SecretInfo[]> {
    return listSecrets(this.db, namespace);
  }

  async sealedSecret(namespace: string, name: string): Promise<StoredSecret | undefined> {
    return (await loadSecrets(this.db, namespace, [name]))[0];
  }

  /** Re-seals every secret whose `reseal` answers a new blob, all in one transaction (a key rotation). */
  async resealSecrets(reseal: (s: StoredSecret) => string | undefined): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      let n = 0;
      for (const s of await allSealed(trx)) {
        const sealed = reseal(s);
        if (sealed === undefined) continue;
        await updateSealed(trx, s.info.namespace, s.info.name, sealed);
        n++;
      }
      return n;
    });
  }

  /**
   * The sealed secrets a live alloc of this node names, for its agent. 404
   * for an alloc that is not this node's, or is over (nothing runs to need them).
   */
  async allocSecrets(nodeId: string, allocId: string): Promise<{ namespace: string; found: StoredSecret[]; missing: string[] }> {
    const a = this.live.get(allocId);
    if (!a || a.nodeId !== nodeId) throw new NotFoundError(`alloc ${allocId} is not a live alloc of this node`);
    const spec = await this.specOfAlloc(a);
    const names = [...new Set((spec?.tasks ?? []).flatMap((t) => (t.secrets ?? []).map((x) => x.name)))];
    const found = await loadSecrets(this.db, a.namespace, names);
    return { namespace: a.namespace, found, missing: names.filter((n) => !found.some((f) => f.info.name === n)) };
  }

  private async specOfAlloc(a: Alloc): Promise<JobSpec | undefined> {
    if (isRunId(a.jobId)) return (await this.loadJob(this.db, a.namespace, a.jobId))?.spec;
    const r = await this.db
      .selectFrom('job_versions')
      .select('spec')
      .where('namespace', '=', a.namespace)
      .where('id', '=', a.jobId)
      .where('version', '=', a.jobVersion)
      .executeTakeFirst();
    return r ? (JSON.parse(r.spec) as JobSpec) : undefined;
  }

  // ------------------------------------------------------------ jobs

  /** Stores a new version when the spec changed (or the job was stopped), and always makes an eval. */
  async registerJob(spec: JobSpec, now: number): Promise<{ job: Job; evalId: string; changed: boolean }> {
    return this.write(async (trx, index) => this.registerIn(trx, index, spec, now));
  }

  private async registerIn(trx: Db, index: number, spec: JobSpec, now: number): Promise<{ job: Job; evalId: string; changed: boolean }> {
    const existing = await this.loadJob(trx, spec.namespace, spec.name);
    if (existing && !existing.stopped && isParentJob(existing.spec) && !isParentJob(spec)) {
      // its queue is served only while it is a template: the runs waiting in it would never start
      throw new ConflictError(
        `job "${spec.name}" is parameterized or periodic and has its runs: stop it (baton job stop ${spec.name}) before submitting it as a plain job`,
      );
    }
    let job: Job;
    let changed = true;
    if (existing && !existing.stopped && JSON.stringify(existing.spec) === JSON.stringify(spec)) {
      job = existing;
      changed = false;
    } else {
      const version = existing ? existing.version + 1 : 1;
      job = {
        id: spec.name,
        namespace: spec.namespace,
        version,
        spec,
        stopped: false,
        status: 'pending',
        submittedAt: iso(now),
        createIndex: existing?.createIndex ?? index,
        modifyIndex: index,
      };
      await trx
        .insertInto('job_versions')
        .values({
          namespace: job.namespace,
          id: job.id,
          version,
          spec: JSON.stringify(spec),
          submitted_at: job.submittedAt,
        })
        .execute();
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
        await this.unblockFitting(trx);
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
        await this.leaderWrite(async (trx, index) => {
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
        await this.leaderWrite(async (trx, index) => this.evalJobsOnNode(trx, index, node.id, 'node-update', now));
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
    const rows = await db.selectFrom('jobs').select('data').where('kind', '=', 'system').execute();
    for (const r of rows) {
      const job = JSON.parse(r.data) as Job;
      if (job.spec.type === 'system' && !job.stopped) await this.createEval(db, index, job, 'node-update', now);
    }
  }

  /**
   * Stores one run per entry of a dispatch (or one periodic launch), in one
   * transaction: a part of a sweep is stored whole or not at all. A queued run
   * costs one row: no eval, no spec of its own. The parent's queue (one eval
   * for all its runs) places them in submission order.
   */
  async dispatchJobs(parent: Job, runs: DispatchRun[], sweepId: string, now: number, opts: DispatchOptions = {}): Promise<DispatchResult> {
    const ns = parent.namespace;
    return this.write(async (trx, index) => {
      const total = await loadStats(trx, ns, parent.id, '');
      const sweep = await loadStats(trx, ns, parent.id, sweepId);
      const offset = opts.offset ?? 0;
      // a first part may name its sweep (offset 0), so that sending it again after a lost answer is safe
      const naming = opts.offset !== undefined && !(offset === 0 && !sweep);
      if (naming) {
        if (!sweep) throw new NotFoundError(`sweep ${sweepId} of job "${parent.id}" not found: send its first part (offset 0) first`);
        const have = sweep.stats.total;
        if (offset + runs.length <= have) {
          // a part stored before (a retry after a lost answer): the same ids, nothing new
          const ids = runs.map((_, i) => childId(parent.id, sweepId, offset + i));
          if (!(await loadRun(trx, ns, ids[0]))) throw new ConflictError(`sweep ${sweepId} has no row ${offset}`);
          return { ids, total: have, repeated: true };
        }
        if (offset !== have) throw new ConflictError(`sweep ${sweepId} has ${have} runs: its next part starts at row ${have}, not ${offset}`);
      } else if (sweep) {
        throw new ConflictError(`sweep ${sweepId} exists already`);
      } else if (!opts.launch) {
        // run ids carry the first 8 characters of the sweep id: another sweep may have them
        const prefix = childId(parent.id, sweepId, 0).replace(/0$/, '');
        const taken = await trx
          .selectFrom('runs')
          .select('id')
          .where('namespace', '=', ns)
          .where('id', '>=', prefix)
          .where('id', '<', `${prefix.slice(0, -1)}.`)
          .limit(1)
          .executeTakeFirst();
        if (taken)
          throw new SweepIdTakenError(`sweep id ${sweepId.slice(0, 8)} is taken by another sweep of "${parent.id}": send the first part with another sweep id`);
      }
      if (opts.launch && (await loadRun(trx, ns, opts.launch.id))) throw new ConflictError(`job ${opts.launch.id} exists already`);
      const parentStats = total ?? newStatsRow(iso(now));
      const sweepStats = sweep ?? newStatsRow(iso(now));
      const records: RunRecord[] = runs.map((run, i) => ({
        namespace: ns,
        id: opts.launch?.id ?? childId(parent.id, sweepId, offset + i),
        parentId: parent.id,
        sweepId,
        seq: parentStats.nextSeq + i,
        row: offset + i,
        parentVersion: parent.version,
        version: 1,
        meta: run.meta,
        ...(run.payload ? { payload: run.payload } : {}),
        status: 'pending',
        outcome: 'queued',
        queued: true,
        stopped: false,
        submittedAt: iso(now),
        ...(opts.launch ? { launchFor: opts.launch.at } : {}),
        createIndex: index,
        modifyIndex: index,
      }));
      await insertRuns(trx, records);
      parentStats.nextSeq += records.length;
      for (const st of [parentStats.stats, sweepStats.stats]) {
        st.total += records.length;
        st.states.queued += records.length;
        st.outcomes.queued = (st.outcomes.queued ?? 0) + records.length;
      }
      await saveStats(trx, ns, parent.id, '', parentStats, !total);
      await saveStats(trx, ns, parent.id, sweepId, sweepStats, !sweep);
      this.record('job', 'RunsDispatched', parent.id, ns, { parentId: parent.id, sweepId, runs: records.length, offset, total: sweepStats.stats.total });
      await this.wakeQueue(trx, index, parent, 'job-register', now);
      return { ids: records.map((r) => r.id), total: sweepStats.stats.total, repeated: false };
    });
  }

  /** The parent's queue gets (another) look: its one waiting eval is woken, or one is made. */
  private async wakeQueue(db: Db, index: number, parent: Job, trigger: EvalTrigger, now: number): Promise<void> {
    const waiting = await db
      .selectFrom('evals')
      .select(['id', 'status'])
      .where('namespace', '=', parent.namespace)
      .where('job_id', '=', parent.id)
      .where('status', 'in', ['pending', 'blocked'])
      .orderBy('create_index', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (waiting?.status === 'pending') return;
    if (waiting) {
      await db.updateTable('evals').set({ status: 'pending' }).where('id', '=', waiting.id).execute();
      return;
    }
    await this.createEval(db, index, parent, trigger, now);
  }

  /**
   * One page of runs: the children of a parent in submission order, or the
   * indexes of a plain batch job. Filters: outcome, sweep.
   */
  async listRuns(job: Job, f: RunPageFilter = {}): Promise<{ runs: RunRow[]; next?: string }> {
    const limit = clampLimit(f.limit, 1000);
    if (!isParentJob(job.spec)) {
      const after = f.cursor ? Number(decodeCursor(f.cursor, ['number'])[0]) : -1;
      let rows = runsOfJob(job, await this.listAllocs({ namespace: job.namespace, jobId: job.id }));
      if (f.outcome) rows = rows.filter((r) => r.outcome === f.outcome);
      rows = rows.filter((r) => r.index > after);
      const page = rows.slice(0, limit);
      return { runs: page, ...(rows.length > limit ? { next: encodeCursor([page[page.length - 1].index]) } : {}) };
    }
    const afterSeq = f.cursor ? Number(decodeCursor(f.cursor, ['number'])[0]) : undefined;
    const records = await listRunRecords(this.db, job.namespace, job.id, { afterSeq, limit, outcome: f.outcome, sweepId: f.sweepId });
    const requested = sumTaskResources(job.spec).memory;
    const page = records.slice(0, limit);
    return {
      runs: page.map((r) => runRowOf(r, requested)),
      ...(records.length > limit ? { next: encodeCursor([page[page.length - 1].seq]) } : {}),
    };
  }

  /** the totals of one sweep of a parent, or of all its runs (sweepId '') */
  async runStats(job: Job, sweepId = ''): Promise<RunStats | undefined> {
    const row = await loadStats(this.db, job.namespace, job.id, sweepId);
    return row ? publicStats(row.stats, sumTaskResources(job.spec).memory, Date.now()) : undefined;
  }

  /**
   * Stops a job. For a parent, `stopping` settles once its queued runs are all
   * marked stopped, which for a big sweep goes on in chunks after this returns
   * (they are never placed from the moment the stop commits).
   */
  async stopJob(namespace: string, id: string, now: number): Promise<{ evalId: string; stopping?: Promise<number> }> {
    const r = await this.write(async (trx, index) => {
      const job = await this.loadJob(trx, namespace, id);
      if (!job) throw new NotFoundError(`job "${id}" not found in namespace "${namespace}"`);
      if (isRunId(id)) {
        await this.refreshRun(trx, namespace, id, index, now, { stopped: true, queued: false });
        const ev = await this.createEval(trx, index, job, 'job-stop', now);
        return { evalId: ev.id, parent: undefined };
      }
      job.stopped = true;
      job.modifyIndex = index;
      await this.saveJob(trx, job, false, 'JobStopped', now);
      const ev = await this.createEval(trx, index, job, 'job-stop', now);
      if (!isParentJob(job.spec)) return { evalId: ev.id, parent: undefined };
      // Stopping a sweep's parent stops the runs it launched. Runs already placed stop now;
      // the queued ones (maybe a million) are never placed from here on and are marked
      // stopped in chunks after this write, so the stop does not freeze the server.
      const stats = await loadStats(trx, namespace, id, '');
      if (stats) {
        stats.stopSeq = stats.nextSeq;
        await saveStats(trx, namespace, id, '', stats, false);
      }
      for (;;) {
        const active = await listRunRecords(trx, namespace, id, { limit: 500, active: true });
        for (const run of active.slice(0, 500)) {
          await this.refreshRun(trx, namespace, run.id, index, now, { stopped: true });
          const child = await this.loadJob(trx, namespace, run.id);
          if (child) await this.createEval(trx, index, child, 'job-stop', now);
        }
        if (active.length <= 500) break;
      }
      return { evalId: ev.id, parent: job };
    });
    if (!r.parent) return { evalId: r.evalId };
    const stopping = this.stopQueuedRuns(namespace, id, now);
    // a failure here leaves the rest to the GC loop's finishStops; nobody need wait for it
    stopping.catch(() => undefined);
    return { evalId: r.evalId, stopping };
  }

  /**
   * Marks queued runs of a stopped parent stopped, a few thousand per write,
   * yielding between writes so heartbeats and the API go on. Safe to run again
   * (the GC loop finishes what a crash interrupted). Returns how many it stopped.
   */
  async stopQueuedRuns(namespace: string, parentId: string, now: number, chunk = 2_000): Promise<number> {
    let stopped = 0;
    for (;;) {
      const n = await this.write(async (trx, index) => {
        const stats = await loadStats(trx, namespace, parentId, '');
        if (!stats || stats.stopSeq === 0) return 0;
        const runs = (await queuedRuns(trx, namespace, parentId, 0, chunk)).filter((r) => r.seq < stats.stopSeq);
        if (runs.length === 0) return 0;
        const sweeps = new Map<string, Array<[RunFacts, RunFacts]>>();
        for (const run of runs) {
          const before = storedFacts(run);
          run.stopped = true;
          run.queued = false;
          run.status = 'stopped';
          run.outcome = 'stopped';
          run.modifyIndex = index;
          run.finishedAt = now;
          const list = sweeps.get(run.sweepId) ?? [];
          list.push([before, storedFacts(run)]);
          sweeps.set(run.sweepId, list);
        }
        for (let i = 0; i < runs.length; i += 500) {
          await trx
            .updateTable('runs')
            .set({ stopped: 1, queued: 0, status: 'stopped', outcome: 'stopped', modify_index: index, finished_at: now })
            .where('namespace', '=', namespace)
            .where(
              'id',
              'in',
              runs.slice(i, i + 500).map((r) => r.id),
            )
            .execute();
        }
        for (const [sweepId, changes] of sweeps) await this.moveInTotals(trx, namespace, parentId, sweepId, changes);
        this.record('job', 'RunsStopped', parentId, namespace, { parentId, runs: runs.length });
        return runs.length;
      });
      stopped += n;
      if (n < chunk) return stopped;
      await new Promise((r) => setImmediate(r));
    }
  }

  /** `baton job start` of a stopped run: it gets its own eval (its parent's queue has moved on) */
  async restartRun(namespace: string, id: string, now: number): Promise<{ job: Job; evalId: string }> {
    return this.write(async (trx, index) => {
      const run = await loadRun(trx, namespace, id);
      if (!run) throw new NotFoundError(`job "${id}" not found in namespace "${namespace}"`);
      if (!run.stopped) throw new ConflictError(`job "${id}" is not stopped`);
      await this.refreshRun(trx, namespace, id, index, now, { stopped: false, queued: false });
      const job = (await this.loadJob(trx, namespace, id))!;
      const ev = await this.createEval(trx, index, job, 'job-register', now);
      return { job, evalId: ev.id };
    });
  }

  async getJob(namespace: string, id: string): Promise<Job | undefined> {
    return this.loadJob(this.db, namespace, id);
  }

  /**
   * One page of jobs: top-level jobs by namespace and id, or with `parent` the
   * runs of that parent in submission order. Filters run in SQL.
   */
  async listJobs(namespace: string, f: JobPageFilter = {}): Promise<{ jobs: Job[]; next?: string }> {
    const limit = clampLimit(f.limit, 1000);
    if (f.parent !== undefined) {
      if (namespace === '*') return { jobs: [] };
      const parent = await this.loadJob(this.db, namespace, f.parent);
      if (!parent) throw new NotFoundError(`job "${f.parent}" not found in namespace "${namespace}"`);
      const afterSeq = f.cursor ? Number(decodeCursor(f.cursor, ['number'])[0]) : undefined;
      const records = await listRunRecords(this.db, namespace, f.parent, { afterSeq, limit, status: f.status });
      const page = records.slice(0, limit);
      const jobs: Job[] = [];
      for (const r of page) {
        const j = runJob(r, await this.parentSpec(this.db, r.namespace, r.parentId, r.parentVersion));
        if (j) jobs.push(j);
      }
      return { jobs, ...(records.length > limit ? { next: encodeCursor([page[page.length - 1].seq]) } : {}) };
    }
    let q = this.db.selectFrom('jobs').select(['namespace', 'id', 'data']).where('parent_id', 'is', null);
    if (namespace !== '*') q = q.where('namespace', '=', namespace);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.kind) q = q.where('kind', '=', f.kind);
    if (f.cursor) {
      const [cns, cid] = decodeCursor(f.cursor, ['string', 'string']) as [string, string];
      q = q.where((eb) => eb.or([eb('namespace', '>', cns), eb.and([eb('namespace', '=', cns), eb('id', '>', cid)])]));
    }
    const rows = await q
      .orderBy('namespace')
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    return {
      jobs: page.map((r) => JSON.parse(r.data) as Job),
      ...(rows.length > limit ? { next: encodeCursor([page[page.length - 1].namespace, page[page.length - 1].id]) } : {}),
    };
  }

  /** every namespace that has a job (a short list: namespaces are teams, not runs) */
  async namespaces(): Promise<string[]> {
    const rows = await this.db.selectFrom('jobs').select('namespace').distinct().orderBy('namespace').execute();
    return rows.map((r) => r.namespace);
  }

  /** Top-level periodic jobs, for the launcher. */
  async periodicJobs(): Promise<Job[]> {
    const rows = await this.db.selectFrom('jobs').select('data').where('kind', '=', 'periodic').execute();
    return rows.map((r) => JSON.parse(r.data) as Job);
  }

  /** a run of this parent that has not ended yet, if any (periodic overlap: skip) */
  async activeRun(namespace: string, parentId: string): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('runs')
      .select('id')
      .where('namespace', '=', namespace)
      .where('parent_id', '=', parentId)
      .where('status', 'in', ['pending', 'running'])
      .limit(1)
      .executeTakeFirst();
    return r?.id;
  }

  async jobSummary(job: Job): Promise<JobSummary> {
    const parent = isParentJob(job.spec);
    const allocs = parent ? [] : await this.listAllocs({ namespace: job.namespace, jobId: job.id });
    // A parent's queue eval is woken (pending) each time room frees and blocks again right after:
    // its last reason stands while it is awake, so "why it waits" does not blink.
    const blockedEval = await this.db
      .selectFrom('evals')
      .select('data')
      .where('namespace', '=', job.namespace)
      .where('job_id', '=', job.id)
      .where('status', 'in', parent ? ['blocked', 'pending'] : ['blocked'])
      .orderBy('create_index', 'desc')
      .limit(1)
      .executeTakeFirst();
    const blocked = blockedEval ? (JSON.parse(blockedEval.data) as Evaluation).failures : undefined;
    const summary: JobSummary = {
      id: job.id,
      namespace: job.namespace,
      type: job.spec.type,
      version: job.version,
      priority: job.spec.priority,
      count: job.spec.count,
      status: job.status,
      allocs: allocCounts(allocs),
      submittedAt: job.submittedAt,
      kind: jobKind(job.spec),
      ...(blocked && blocked.length ? { blocked } : {}),
      ...(job.parentId ? { parentId: job.parentId } : {}),
    };
    if (isParentJob(job.spec)) {
      const stats = (await this.runStats(job)) ?? publicStats(newStatsRow('').stats, sumTaskResources(job.spec).memory, Date.now());
      summary.runs = stats;
      summary.children = {
        pending: stats.states.queued,
        running: stats.states.running,
        complete: stats.states.complete,
        failed: stats.states.failed,
        stopped: stats.states.stopped,
      };
      const next = job.spec.periodic && !job.stopped ? nextLaunch(job.spec.periodic, new Date()) : undefined;
      if (next) summary.nextLaunch = next.toISOString();
    }
    return summary;
  }

  /** What waits, over the namespaces a token may read: queued runs of every parent and unplaced allocs of other jobs. */
  async queueSummary(namespace: string): Promise<QueueSummary> {
    let q = this.db.selectFrom('run_stats').select(['namespace', 'parent_id', 'data']).where('sweep_id', '=', '');
    if (namespace !== '*') q = q.where('namespace', '=', namespace);
    const waiting: QueueSummary['waiting'] = [];
    let queued = 0;
    for (const r of await q.execute()) {
      const s = JSON.parse(r.data) as StoredRunStats;
      if (s.states.queued + s.states.running === 0) continue;
      queued += s.states.queued;
      waiting.push({ namespace: r.namespace, jobId: r.parent_id, queued: s.states.queued, running: s.states.running });
    }
    let e = this.db.selectFrom('evals').select(['namespace', 'job_id', 'data']).where('status', '=', 'blocked');
    if (namespace !== '*') e = e.where('namespace', '=', namespace);
    for (const r of await e.orderBy('create_index', 'desc').limit(1000).execute()) {
      const ev = JSON.parse(r.data) as Evaluation;
      const w = waiting.find((x) => x.namespace === r.namespace && x.jobId === r.job_id);
      if (w) {
        w.blocked ??= ev.failures;
        continue;
      }
      // a run's own blocked eval (a retry waiting for room) counts under its parent's queued runs already
      if (isRunId(r.job_id)) continue;
      queued += ev.queuedAllocs;
      waiting.push({ namespace: r.namespace, jobId: r.job_id, queued: ev.queuedAllocs, running: 0, blocked: ev.failures });
    }
    const running = [...this.live.values()].filter((a) => a.clientStatus === 'running' && (namespace === '*' || a.namespace === namespace)).length;
    waiting.sort((a, b) => b.queued - a.queued || a.jobId.localeCompare(b.jobId));
    for (const w of waiting.slice(0, 20)) {
      if (isRunId(w.jobId)) continue;
      const job = await this.loadJob(this.db, w.namespace, w.jobId);
      const stats = job && isParentJob(job.spec) ? await this.runStats(job) : undefined;
      if (stats?.estimatedEnd) w.estimatedEnd = stats.estimatedEnd;
    }
    return { queued, running, waiting: waiting.slice(0, 20) };
  }

  /** the spec a given version of a job ran with */
  async jobVersionSpec(namespace: string, id: string, version: number): Promise<JobSpec | undefined> {
    if (isRunId(id)) return (await this.loadJob(this.db, namespace, id))?.spec;
    const r = await this.db
      .selectFrom('job_versions')
      .select('spec')
      .where('namespace', '=', namespace)
      .where('id', '=', id)
      .where('version', '=', version)
      .executeTakeFirst();
    return r ? (JSON.parse(r.spec) as JobSpec) : undefined;
  }

  /** where a task's stored output ends */
  async logEnd(allocId: string, task: string, stream: string): Promise<number> {
    const r = await this.db
      .selectFrom('logs')
      .select(['offset', 'size'])
      .where('alloc_id', '=', allocId)
      .where('task', '=', task)
      .where('stream', '=', stream)
      .orderBy('offset', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? r.offset + r.size : 0;
  }

  private async loadJob(db: Db, namespace: string, id: string): Promise<Job | undefined> {
    if (isRunId(id)) {
      const run = await loadRun(db, namespace, id);
      return run ? runJob(run, await this.parentSpec(db, namespace, run.parentId, run.parentVersion)) : undefined;
    }
    const r = await db.selectFrom('jobs').select('data').where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
    return r ? (JSON.parse(r.data) as Job) : undefined;
  }

  /** The spec of a parent at a version: what its runs dispatched at that version are made from. */
  private async parentSpec(db: Db, namespace: string, parentId: string, version: number): Promise<JobSpec | undefined> {
    const key = `${namespace}\0${parentId}\0${version}`;
    const hit = this.parentSpecs.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const r = await db
      .selectFrom('job_versions')
      .select('spec')
      .where('namespace', '=', namespace)
      .where('id', '=', parentId)
      .where('version', '=', version)
      .executeTakeFirst();
    const spec = r ? (JSON.parse(r.spec) as JobSpec) : undefined;
    // a missing version may be written by this very transaction: only cache what exists
    if (spec) {
      if (this.parentSpecs.size >= PARENT_SPECS) this.parentSpecs.delete(this.parentSpecs.keys().next().value as string);
      this.parentSpecs.set(key, spec);
    }
    return spec;
  }

  private async saveJob(db: Db, job: Job, insert: boolean, event = insert ? 'JobRegistered' : 'JobUpdated', now = Date.now()): Promise<void> {
    if (isRunId(job.id)) throw new Error(`internal: run ${job.id} saved as a job`);
    const data = JSON.stringify(job);
    this.record('job', event, job.id, job.namespace, job);
    const kind = jobKind(job.spec);
    const ended = job.stopped || job.status === 'complete' || job.status === 'failed';
    if (insert) {
      await db
        .insertInto('jobs')
        .values({
          namespace: job.namespace,
          id: job.id,
          version: job.version,
          data,
          modify_index: job.modifyIndex,
          parent_id: null,
          status: job.status,
          kind,
          finished_at: ended ? now : null,
        })
        .execute();
    } else {
      await db
        .updateTable('jobs')
        .set((eb) => ({
          version: job.version,
          data,
          modify_index: job.modifyIndex,
          status: job.status,
          kind,
          // the time it ended, kept through later writes of an ended job
          finished_at: ended ? eb.fn.coalesce('finished_at', eb.val(now)) : null,
        }))
        .where('namespace', '=', job.namespace)
        .where('id', '=', job.id)
        .execute();
    }
  }

  /** runs of one sweep leave one state and enter another: its totals and its parent's follow */
  private async moveInTotals(db: Db, namespace: string, parentId: string, sweepId: string, changes: ReadonlyArray<[RunFacts, RunFacts]>): Promise<void> {
    for (const key of ['', sweepId]) {
      const row = await loadStats(db, namespace, parentId, key);
      if (!row) continue;
      for (const [before, after] of changes) applyRunChange(row.stats, before, after);
      await saveStats(db, namespace, parentId, key, row, false);
    }
  }

  /** recompute the stored status of a job from its allocs */
  private async refreshJobStatus(db: Db, namespace: string, id: string, index: number, now: number): Promise<void> {
    if (isRunId(id)) return this.refreshRun(db, namespace, id, index, now);
    const job = await this.loadJob(db, namespace, id);
    if (!job) return;
    const allocs = await this.jobAllocs(db, namespace, id);
    const status = computeJobStatus(job, allocs, now);
    if (status !== job.status) {
      job.status = status;
      job.modifyIndex = index;
      await this.saveJob(db, job, false, 'JobStatusChanged', now);
    }
  }

  /**
   * Recomputes a run from its allocs (status, outcome, what its latest alloc
   * said) and moves it between its sweep's totals. `patch` applies first: a
   * stop, or leaving the queue.
   */
  private async refreshRun(
    db: Db,
    namespace: string,
    id: string,
    index: number,
    now: number,
    patch: { stopped?: boolean; queued?: boolean } = {},
  ): Promise<void> {
    const run = await loadRun(db, namespace, id);
    if (!run) return;
    const before = storedFacts(run);
    const was = JSON.stringify([run.status, run.outcome, run.queued, run.stopped, run.result]);
    if (patch.stopped !== undefined) run.stopped = patch.stopped;
    if (patch.queued !== undefined) run.queued = patch.queued;
    const job = runJob(run, await this.parentSpec(db, namespace, run.parentId, run.parentVersion));
    if (!job) return;
    const allocs = await this.jobAllocs(db, namespace, id);
    const status = computeJobStatus(job, allocs, now);
    const row = runRow(job, run.seq, allocs);
    const facts = runFacts(status, row);
    run.status = status;
    run.outcome = facts.outcome;
    run.result = allocs.length > 0 ? resultOf(row, facts.outcome) : undefined;
    const ended = facts.state !== 'queued' && facts.state !== 'running';
    run.finishedAt = ended ? (run.finishedAt ?? now) : undefined;
    if (JSON.stringify([run.status, run.outcome, run.queued, run.stopped, run.result]) === was) return;
    const statusChanged = before.state !== facts.state || job.status !== status;
    run.modifyIndex = index;
    await saveRun(db, run);
    await this.moveInTotals(db, namespace, run.parentId, run.sweepId, [[before, storedFacts(run)]]);
    if (statusChanged) {
      job.status = status;
      job.stopped = run.stopped;
      job.modifyIndex = index;
      this.record('job', run.stopped && patch.stopped ? 'JobStopped' : 'JobStatusChanged', job.id, namespace, job);
    }
  }

  // ------------------------------------------------------------ deployments and job versions

  /** newest first */
  async listDeployments(filter: { namespace?: string; jobId?: string; limit?: number } = {}): Promise<Deployment[]> {
    let q = this.db.selectFrom('deployments').select('data');
    if (filter.namespace && filter.namespace !== '*') q = q.where('namespace', '=', filter.namespace);
    if (filter.jobId) q = q.where('job_id', '=', filter.jobId);
    const rows = await q
      .orderBy('create_index', 'desc')
      .limit(filter.limit ?? 200)
      .execute();
    return rows.map((r) => JSON.parse(r.data) as Deployment);
  }

  /** by id or unique id prefix */
  async getDeployment(idOrPrefix: string): Promise<Deployment> {
    return this.byIdPrefix<Deployment>('deployments', idOrPrefix, 'deployment');
  }

  /** `baton deployment promote`: the canaries proved themselves, the rolling update goes on */
  async promoteDeployment(id: string, now: number): Promise<Deployment> {
    return this.write(async (trx, index) => {
      const d = await this.loadDeployment(trx, id);
      if (!d) throw new NotFoundError(`deployment ${id} not found`);
      const refusal = promoteRefusal(d, liveCanaries(d, await this.queryAllocs(trx, { namespace: d.namespace, jobId: d.jobId })));
      if (refusal) throw new ConflictError(refusal);
      promote(d);
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
      const refusal = failRefusal(d);
      if (refusal) throw new ConflictError(refusal);
      await this.updateDeployment(trx, { id: d.id, status: 'failed', statusDescription: 'failed by a user' }, index, now);
      const job = await this.loadJob(trx, d.namespace, d.jobId);
      await this.createEval(trx, index, job ?? { namespace: d.namespace, id: d.jobId }, 'job-register', now);
      return (await this.loadDeployment(trx, d.id))!;
    });
  }

  /** every stored version of a job, newest first, with the deployment that rolled it out */
  async jobVersions(
    namespace: string,
    id: string,
    limit = 100,
  ): Promise<Array<{ version: number; submittedAt: string; spec: JobSpec; deployment?: Pick<Deployment, 'id' | 'status' | 'statusDescription'> }>> {
    if (isRunId(id)) {
      const run = await this.loadJob(this.db, namespace, id);
      if (!run) throw new NotFoundError(`job "${id}" not found in namespace "${namespace}"`);
      return [{ version: run.version, submittedAt: run.submittedAt, spec: run.spec }];
    }
    const rows = await this.db
      .selectFrom('job_versions')
      .selectAll()
      .where('namespace', '=', namespace)
      .where('id', '=', id)
      .orderBy('version', 'desc')
      .limit(limit)
      .execute();
    if (rows.length === 0) throw new NotFoundError(`job "${id}" not found in namespace "${namespace}"`);
    const deps = new Map<number, Deployment>();
    // newest first: the latest deployment of a version wins
    for (const d of (await this.listDeployments({ namespace, jobId: id, limit: 1000 })).reverse()) deps.set(d.jobVersion, d);
    return rows.map((r) => {
      const d = deps.get(r.version);
      return {
        version: r.version,
        submittedAt: r.submitted_at,
        spec: JSON.parse(r.spec) as JobSpec,
        ...(d ? { deployment: { id: d.id, status: d.status, statusDescription: d.statusDescription } } : {}),
      };
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
    const r = await trx
      .selectFrom('job_versions')
      .select('spec')
      .where('namespace', '=', job.namespace)
      .where('id', '=', job.id)
      .where('version', '=', version)
      .executeTakeFirst();
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
        const v = await trx
          .selectFrom('job_versions')
          .select('spec')
          .where('namespace', '=', job.namespace)
          .where('id', '=', job.id)
          .where('version', '=', a.jobVersion)
          .executeTakeFirst();
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
    const r = await db
      .selectFrom('deployments')
      .select('data')
      .where('namespace', '=', namespace)
      .where('job_id', '=', jobId)
      .orderBy('create_index', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? (JSON.parse(r.data) as Deployment) : undefined;
  }

  private async saveDeployment(db: Db, d: Deployment, index: number, now: number): Promise<void> {
    d.modifyIndex = index;
    d.modifiedAt = iso(now);
    this.record('deployment', 'DeploymentUpdated', d.id, d.namespace, d);
    await db
      .updateTable('deployments')
      .set({ status: d.status, data: JSON.stringify(d) })
      .where('id', '=', d.id)
      .execute();
  }

  /** the deployment a plan's placements join: created by the plan, or the running one it names */
  private async planDeployment(db: Db, plan: Plan, index: number, now: number): Promise<Deployment | undefined> {
    if (plan.createDeployment) {
      const d: Deployment = {
        ...plan.createDeployment,
        canaries: [],
        placedAllocs: 0,
        id: newId(),
        createIndex: index,
        modifyIndex: index,
        createdAt: iso(now),
        modifiedAt: iso(now),
      };
      this.record('deployment', 'DeploymentCreated', d.id, d.namespace, d);
      await db
        .insertInto('deployments')
        .values({
          id: d.id,
          namespace: d.namespace,
          job_id: d.jobId,
          job_version: d.jobVersion,
          status: d.status,
          data: JSON.stringify(d),
          create_index: index,
        })
        .execute();
      return d;
    }
    return plan.deploymentId ? this.loadDeployment(db, plan.deploymentId) : undefined;
  }

  private async recordPlaced(db: Db, d: Deployment, placed: Alloc[], index: number, now: number): Promise<void> {
    if (!placed.some((a) => a.deploymentId === d.id)) return;
    const fresh = (await this.loadDeployment(db, d.id))!;
    if (recordPlacements(fresh, placed)) await this.saveDeployment(db, fresh, index, now);
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
    const { applied, failing } = applyDeploymentUpdate(d, u);
    if (!applied) return;
    if (failing && d.strategy.autoRevert) {
      const job = await this.loadJob(db, d.namespace, d.jobId);
      if (job && !job.stopped && job.version === d.jobVersion) {
        const good = await db
          .selectFrom('deployments')
          .select('data')
          .where('namespace', '=', d.namespace)
          .where('job_id', '=', d.jobId)
          .where('status', '=', 'successful')
          .where('job_version', '<', d.jobVersion)
          .orderBy('job_version', 'desc')
          .limit(1)
          .executeTakeFirst();
        const target = revertTarget(d, good ? (JSON.parse(good.data) as Deployment).jobVersion : undefined);
        if (target !== undefined) {
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

  private async createEval(
    db: Db,
    index: number,
    job: Pick<Job, 'namespace' | 'id'> & { spec?: JobSpec },
    trigger: EvalTrigger,
    now: number,
    waitUntil?: number,
  ): Promise<Evaluation> {
    const ev: Evaluation = {
      id: newId(),
      namespace: job.namespace,
      jobId: job.id,
      priority: job.spec?.priority ?? 50,
      triggeredBy: trigger,
      status: 'pending',
      statusDescription: '',
      queuedAllocs: 0,
      failures: [],
      ...(waitUntil !== undefined ? { waitUntil: iso(waitUntil) } : {}),
      createIndex: index,
      modifyIndex: index,
      createdAt: iso(now),
      modifiedAt: iso(now),
    };
    this.record('eval', 'EvalCreated', ev.id, ev.namespace, ev);
    await db
      .insertInto('evals')
      .values({
        id: ev.id,
        namespace: ev.namespace,
        job_id: ev.jobId,
        status: ev.status,
        priority: ev.priority,
        wait_until: waitUntil ?? 0,
        data: JSON.stringify(ev),
        create_index: index,
        finished_at: null,
      })
      .execute();
    return ev;
  }

  private async saveEval(db: Db, ev: Evaluation): Promise<void> {
    this.record('eval', EVAL_EVENT[ev.status] ?? 'EvalUpdated', ev.id, ev.namespace, { ...ev });
    const ended = ev.status === 'complete' || ev.status === 'failed' || ev.status === 'cancelled';
    await db
      .updateTable('evals')
      .set({ status: ev.status, data: JSON.stringify(ev), priority: ev.priority, finished_at: ended ? Date.now() : null })
      .where('id', '=', ev.id)
      .execute();
  }

  /**
   * The next eval due: highest priority first; among equal priorities, the
   * namespace with the smallest dominant share of the cluster goes first, so
   * one person's sweep of 500 does not starve a colleague's 5 runs.
   */
  async nextEval(now: number): Promise<Evaluation | undefined> {
    const rows = await this.db
      .selectFrom('evals')
      .select(['id', 'namespace', 'priority', 'create_index', this.backend.jsonText('data', 'triggeredBy').as('trigger')])
      .where('status', '=', 'pending')
      .where('wait_until', '<=', now)
      .orderBy('priority', 'desc')
      .orderBy('create_index', 'asc')
      .limit(2000)
      .execute();
    if (rows.length === 0) return undefined;
    const top = rows.filter((r) => r.priority === rows[0].priority);
    // replacements of lost allocs first, oldest first; then fair share among the rest
    const replacements = top.filter((r) => isReplacementTrigger(r.trigger));
    const pool = replacements.length > 0 ? replacements : top;
    let id = pool[0].id;
    if (new Set(pool.map((r) => r.namespace)).size > 1) {
      const { usage, total } = await this.namespaceUsage(this.db);
      id =
        pickNextEval(
          pool.map((r) => ({ id: r.id, namespace: r.namespace, priority: r.priority, createIndex: r.create_index })),
          usage,
          total,
        ) ?? id;
    }
    const r = await this.db.selectFrom('evals').select('data').where('id', '=', id).executeTakeFirstOrThrow();
    return JSON.parse(r.data) as Evaluation;
  }

  /** what each namespace's live allocs hold, and what the ready nodes have in all */
  private async namespaceUsage(db: Db): Promise<Room> {
    return roomOf(await this.listNodeInfos(db), this.liveAllocs());
  }

  /** when the earliest delayed eval becomes due, if any */
  async nextEvalDue(): Promise<number | undefined> {
    const r = await this.db
      .selectFrom('evals')
      .select((eb) => eb.fn.min<number>('wait_until').as('t'))
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return r?.t ?? undefined;
  }

  async getEval(idOrPrefix: string): Promise<Evaluation> {
    return this.byIdPrefix<Evaluation>('evals', idOrPrefix, 'eval');
  }

  async listEvals(filter: { namespace?: string; jobId?: string; status?: string; limit?: number }): Promise<Evaluation[]> {
    return (await this.evalPage(filter)).evals;
  }

  /** One page of evals, newest first. */
  async evalPage(f: { namespace?: string; jobId?: string; status?: string; limit?: number; cursor?: string }): Promise<{ evals: Evaluation[]; next?: string }> {
    const limit = clampLimit(f.limit ?? 200, 1000);
    let q = this.db.selectFrom('evals').select(['data', 'create_index', 'id']);
    if (f.namespace && f.namespace !== '*') q = q.where('namespace', '=', f.namespace);
    if (f.jobId) q = q.where('job_id', '=', f.jobId);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.cursor) {
      const [ci, id] = decodeCursor(f.cursor, ['number', 'string']) as [number, string];
      q = q.where((eb) => eb.or([eb('create_index', '<', ci), eb.and([eb('create_index', '=', ci), eb('id', '<', id)])]));
    }
    const rows = await q
      .orderBy('create_index', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { evals: page.map((r) => JSON.parse(r.data) as Evaluation), ...(rows.length > limit ? { next: encodeCursor([last.create_index, last.id]) } : {}) };
  }

  /** A consistent view for the scheduler (SQLite serialises; reads happen between writes). */
  async snapshot(ev: Evaluation, now: number): Promise<SchedulerSnapshot> {
    // the caches first up to what other servers committed, then every read in one consistent view
    // (REPEATABLE READ on PostgreSQL): the scheduler never sees half of another server's write
    await this.follow();
    return this.backend.consistentRead((db) => this.snapshotIn(db, ev, now));
  }

  private async snapshotIn(db: Db, ev: Evaluation, now: number): Promise<SchedulerSnapshot> {
    const job = await this.loadJob(db, ev.namespace, ev.jobId);
    const nodes = await this.listNodeInfos(db);
    const usage = this.liveAllocs();
    const jobAllocs = await this.jobAllocs(db, ev.namespace, ev.jobId);
    const snapshot: SchedulerSnapshot = { now, eval: ev, job, nodes, usage, jobAllocs };
    const deployment = await this.latestDeployment(db, ev.namespace, ev.jobId);
    if (deployment) snapshot.deployment = deployment;
    if (job && isParentJob(job.spec) && !job.stopped) {
      const room = roomOf(nodes, usage);
      snapshot.queue = await this.queueHead(db, job, room);
      if (snapshot.queue.length > 1) snapshot.fairShare = await this.fairShareView(db, ev, room);
    }
    if (job?.spec.preempt) {
      // only batch runs may be preempted: services and their like stay out of the map
      const priorities: Record<string, number> = {};
      for (const a of usage) {
        const key = `${a.namespace}/${a.jobId}`;
        if (key in priorities) continue;
        const other = await this.loadJob(db, a.namespace, a.jobId);
        if (other && other.spec.type === 'batch') priorities[key] = other.spec.priority;
      }
      snapshot.jobPriorities = priorities;
    }
    return snapshot;
  }

  /**
   * The head of a parent's queue: as many waiting runs as the free capacity of
   * ready nodes could hold (by what the first one asks), plus one to tell
   * "placed all" from "the next one waits", at most QUEUE_BATCH. Reading it
   * costs the same with ten runs waiting as with a million.
   */
  private async queueHead(db: Db, parent: Job, room: Room): Promise<QueuedRun[]> {
    const stats = await loadStats(db, parent.namespace, parent.id, '');
    const fromSeq = stats?.stopSeq ?? 0;
    let runs = await queuedRuns(db, parent.namespace, parent.id, fromSeq, 1);
    if (runs.length === 0) return [];
    const head = runJob(runs[0], await this.parentSpec(db, parent.namespace, parent.id, runs[0].parentVersion));
    if (head) {
      const ask = sumTaskResources(head.spec);
      let fit = 0;
      for (const f of room.free.values()) {
        let n = Infinity;
        for (const d of RESOURCE_DIMENSIONS) if (ask[d] > 0) n = Math.min(n, Math.floor(f[d] / ask[d]));
        fit += Number.isFinite(n) ? Math.max(0, n) : QUEUE_BATCH;
      }
      const limit = Math.min(QUEUE_BATCH, Math.ceil(fit / Math.max(1, head.spec.count)) + 1);
      if (limit > 1) runs = await queuedRuns(db, parent.namespace, parent.id, fromSeq, limit);
    }
    const out: QueuedRun[] = [];
    for (const r of runs) {
      const job = runJob(r, await this.parentSpec(db, r.namespace, r.parentId, r.parentVersion));
      if (job) out.push({ job, allocs: await this.queryAllocs(db, { namespace: r.namespace, jobId: r.id }) });
    }
    return out;
  }

  /** who else waits for room now (see FairShareView) */
  private async fairShareView(db: Db, ev: Evaluation, room: Room): Promise<FairShareView> {
    const free = [...room.free.values()];
    const rows = await db
      .selectFrom('evals')
      .select(['namespace', 'ask'])
      .where('status', 'in', ['pending', 'blocked'])
      .where('namespace', '!=', ev.namespace)
      .where('priority', '>=', ev.priority)
      .limit(1000)
      .execute();
    const waiting = new Set<string>();
    for (const r of rows) {
      if (waiting.has(r.namespace)) continue;
      const ask = r.ask ? (JSON.parse(r.ask) as Resources) : undefined;
      if (!ask || free.some((f) => fits(ask, f) === undefined)) waiting.add(r.namespace);
    }
    return { total: room.total, usage: room.usage, waiting: [...waiting] };
  }

  /**
   * Commits what the scheduler decided, after checking it against fresh state:
   * placements that no longer fit are dropped and the eval retried.
   */
  async applyPlan(ev: Evaluation, plan: Plan, now: number): Promise<{ placed: Alloc[]; rejected: number }> {
    return this.leaderWrite(async (trx, index, touched) => {
      const nodes = await this.listNodeInfos(trx);
      const check = acceptPlan(plan, nodes, this.liveAllocs());
      const queue = plan.runs;
      if (queue && check.rejected.length > 0) {
        const lost = new Set(check.rejected.map((p) => p.jobId));
        queue.started = queue.started.filter((id) => !lost.has(id));
      }
      const deployment = await this.planDeployment(trx, plan, index, now);
      const placed = check.accepted.map((p) =>
        allocFromPlacement(plan, p, { evalId: ev.id, index, now, newId, ...(deployment ? { deploymentId: deployment.id } : {}) }),
      );
      for (const a of placed) touched.add(a.nodeId);
      await this.insertAllocs(trx, placed);
      if (deployment) await this.recordPlaced(trx, deployment, placed, index, now);
      for (const u of plan.deploymentUpdates ?? []) await this.updateDeployment(trx, u, index, now);
      for (const s of plan.stop) {
        const a = await this.loadAlloc(trx, s.allocId);
        if (!a || !applyStop(a, s, index, now)) continue;
        await this.updateAlloc(trx, a, 'AllocStopped');
        touched.add(a.nodeId);
      }
      // an older blocked eval of this job is superseded by this one
      await this.cancelBlocked(trx, ev.namespace, ev.jobId, ev.id);
      if (queue) {
        for (const id of queue.started) await this.refreshRun(trx, plan.namespace, id, index, now, { queued: false });
        for (const o of queue.ownEval) {
          await this.refreshRun(trx, plan.namespace, o.jobId, index, now, { queued: false });
          const child = await this.loadJob(trx, plan.namespace, o.jobId);
          if (child) await this.createEval(trx, index, child, o.at !== undefined ? 'retry' : 'job-register', now, o.at);
        }
      }
      const outcome = evalOutcome(plan, check, placed.length);
      if (queue && check.rejected.length === 0) {
        const parent = await this.loadJob(trx, ev.namespace, ev.jobId);
        const stats = await loadStats(trx, ev.namespace, ev.jobId, '');
        const waiting = stats?.stats.states.queued ?? 0;
        // fresh state decides: runs dispatched since the snapshot count too
        const more = parent && !parent.stopped && (await queuedRuns(trx, ev.namespace, ev.jobId, stats?.stopSeq ?? 0, 1)).length > 0;
        ev.queuedAllocs = waiting;
        ev.failures = plan.failures;
        ev.modifyIndex = index;
        ev.modifiedAt = iso(now);
        if (more && (queue.drained || queue.yielded)) {
          ev.status = 'complete';
          ev.statusDescription = queue.yielded
            ? `started ${queue.started.length} runs; room left goes to a namespace holding less first`
            : `started ${queue.started.length} runs; the queue goes on`;
          await this.saveEval(trx, ev);
          await this.createEval(trx, index, parent, ev.triggeredBy, now);
          // the namespaces this pass stepped aside for must get their go
          if (queue.yielded) await this.unblockFitting(trx);
        } else if (more) {
          ev.status = 'blocked';
          ev.statusDescription = `started ${queue.started.length} runs; ${waiting} wait for capacity`;
          await this.saveEval(trx, ev);
          if (queue.headAsk)
            await trx
              .updateTable('evals')
              .set({ ask: JSON.stringify(queue.headAsk) })
              .where('id', '=', ev.id)
              .execute();
        } else {
          ev.status = 'complete';
          ev.statusDescription = `started ${queue.started.length} runs; none wait`;
          await this.saveEval(trx, ev);
        }
      } else {
        ev.status = outcome.status;
        ev.statusDescription = outcome.description;
        if (outcome.evaluateAgain) {
          const job = await this.loadJob(trx, ev.namespace, ev.jobId);
          await this.createEval(trx, index, job ?? { namespace: ev.namespace, id: ev.jobId }, ev.triggeredBy, now);
        }
      }
      if (!queue || check.rejected.length > 0) {
        ev.queuedAllocs = outcome.queuedAllocs;
        ev.failures = plan.failures;
        ev.modifyIndex = index;
        ev.modifiedAt = iso(now);
        await this.saveEval(trx, ev);
      }
      if (ev.status === 'blocked' && !queue) {
        const job = await this.loadJob(trx, ev.namespace, ev.jobId);
        if (job)
          await trx
            .updateTable('evals')
            .set({ ask: JSON.stringify(sumTaskResources(job.spec)) })
            .where('id', '=', ev.id)
            .execute();
      }
      if (plan.followUpAt !== undefined) {
        const job = await this.loadJob(trx, ev.namespace, ev.jobId);
        await this.createEval(trx, index, job ?? { namespace: ev.namespace, id: ev.jobId }, 'retry', now, plan.followUpAt);
      }
      // evals of this job already waiting are answered by this one
      await trx
        .updateTable('evals')
        .set({ status: 'cancelled', finished_at: Date.now() })
        .where('namespace', '=', ev.namespace)
        .where('job_id', '=', ev.jobId)
        .where('status', '=', 'pending')
        .where('wait_until', '<=', now)
        .where('id', '!=', ev.id)
        .where('create_index', '<', index)
        .execute();
      await this.refreshJobStatus(trx, ev.namespace, ev.jobId, index, now);
      return { placed, rejected: check.rejected.length };
    });
  }

  /** Marks an eval failed when the scheduler itself threw (a bug, never bad input). */
  async failEval(ev: Evaluation, message: string, now: number): Promise<void> {
    await this.leaderWrite(async (trx, index) => {
      ev.status = 'failed';
      ev.statusDescription = message;
      ev.modifyIndex = index;
      ev.modifiedAt = iso(now);
      await this.saveEval(trx, ev);
    });
  }

  private async cancelBlocked(db: Db, namespace: string, jobId: string, exceptId: string): Promise<void> {
    await db
      .updateTable('evals')
      .set({ status: 'cancelled', finished_at: Date.now() })
      .where('namespace', '=', namespace)
      .where('job_id', '=', jobId)
      .where('status', '=', 'blocked')
      .where('id', '!=', exceptId)
      .execute();
  }

  /**
   * Allocs ended and freed capacity: wake only the blocked evals whose next
   * alloc fits somewhere in what is now free, in the order they would be
   * served (priority, then fair share, then age). Waking all of them for
   * every finished run would re-evaluate a queue of 1,000 a thousand times.
   */
  private async unblockFitting(db: Db): Promise<void> {
    const found = await db
      .selectFrom('evals')
      .select(['id', 'namespace', 'priority', 'create_index', 'ask', this.backend.jsonText('data', 'triggeredBy').as('trigger')])
      .where('status', '=', 'blocked')
      .orderBy('priority', 'desc')
      .orderBy('create_index', 'asc')
      .limit(5000)
      .execute();
    if (found.length === 0) return;
    const wake = blockedToWake(
      found.map((r) => ({
        id: r.id,
        namespace: r.namespace,
        priority: r.priority,
        createIndex: r.create_index,
        replacement: isReplacementTrigger(r.trigger),
        ask: r.ask ? (JSON.parse(r.ask) as Resources) : undefined,
      })),
      await this.namespaceUsage(db),
    );
    for (let i = 0; i < wake.length; i += 500) {
      await db
        .updateTable('evals')
        .set({ status: 'pending' })
        .where('id', 'in', wake.slice(i, i + 500))
        .execute();
    }
  }

  // ------------------------------------------------------------ nodes

  async registerNode(req: RegisterNodeRequest, secret: string, ttlMs: number, now: number): Promise<NodeInfo> {
    return this.write(async (trx, index) => {
      const node: NodeInfo = {
        id: newId(),
        name: req.name,
        status: 'ready',
        eligibility: 'eligible',
        nodeClass: req.nodeClass,
        datacenter: req.datacenter,
        drivers: req.drivers,
        attributes: req.attributes,
        labels: req.labels,
        capacity: req.capacity,
        reserved: req.reserved,
        heartbeatTtlMs: ttlMs,
        lastHeartbeatAt: iso(now),
        ...(req.address ? { address: req.address } : {}),
        ...(req.volumes ? { volumes: req.volumes } : {}),
        ...(req.portRange ? { portRange: req.portRange } : {}),
        registeredAt: iso(now),
        createIndex: index,
        modifyIndex: index,
      };
      this.record('node', 'NodeRegistered', node.id, undefined, node);
      await trx
        .insertInto('nodes')
        .values({
          id: node.id,
          name: node.name,
          secret_hash: hashSecret(secret),
          status: node.status,
          last_heartbeat: now,
          data: JSON.stringify(node),
          modify_index: index,
        })
        .execute();
      await this.unblockFitting(trx);
      await this.evalSystemJobs(trx, index, now);
      return node;
    });
  }

  /** the node a secret belongs to; the answer may be older than the node's last change: callers use its id */
  async nodeBySecret(secret: string): Promise<NodeInfo | undefined> {
    const hash = hashSecret(secret);
    const hit = this.nodeAuth.get(hash);
    if (hit) return hit;
    const r = await this.db.selectFrom('nodes').select('data').where('secret_hash', '=', hash).executeTakeFirst();
    if (!r) return undefined;
    const node = JSON.parse(r.data) as NodeInfo;
    this.nodeAuth.set(hash, node);
    return node;
  }

  /** An agent (re)started: fresh facts, and the node is ready again. */
  async updateNode(nodeId: string, req: RegisterNodeRequest, now: number): Promise<NodeInfo> {
    return this.write(async (trx, index) => {
      const node = await this.loadNode(trx, nodeId);
      Object.assign(node, {
        name: req.name,
        nodeClass: req.nodeClass,
        datacenter: req.datacenter,
        drivers: req.drivers,
        attributes: req.attributes,
        labels: req.labels,
        capacity: req.capacity,
        reserved: req.reserved,
        status: 'ready',
        lastHeartbeatAt: iso(now),
        modifyIndex: index,
        address: req.address,
        volumes: req.volumes,
        portRange: req.portRange,
      });
      await this.saveNode(trx, node, now);
      await this.reconnectAllocs(trx, nodeId, index, now);
      await this.unblockFitting(trx);
      await this.evalSystemJobs(trx, index, now);
      return node;
    });
  }

  async heartbeat(nodeId: string, now: number): Promise<Pick<NodeInfo, 'id' | 'status'>> {
    if (this.nodeStatus.get(nodeId) === 'ready') {
      // the hot path: memory only, written with the next flush; no index bump, nothing for watchers to see
      this.beats.set(nodeId, Math.max(now, this.beats.get(nodeId) ?? 0));
      return { id: nodeId, status: 'ready' };
    }
    return this.write(async (trx, index) => {
      const n = await this.loadNode(trx, nodeId);
      n.status = 'ready';
      n.lastHeartbeatAt = iso(now);
      n.modifyIndex = index;
      await this.saveNode(trx, n, now);
      await this.reconnectAllocs(trx, nodeId, index, now);
      await this.unblockFitting(trx);
      await this.evalSystemJobs(trx, index, now);
      return n;
    });
  }

  /** Writes the heartbeats taken since the last flush, one small statement per node (the heartbeat monitor calls it every second). */
  async flushHeartbeats(): Promise<void> {
    if (this.beats.size === 0) return;
    for (const [id, t] of [...this.beats]) {
      // only forward: a write of the node since (a drain, say) may hold a newer time already
      try {
        await this.db
          .updateTable('nodes')
          .set({ last_heartbeat: t, data: this.backend.jsonSetString('data', 'lastHeartbeatAt', iso(t)) })
          .where('id', '=', id)
          .where('last_heartbeat', '<', t)
          .execute();
      } catch (err) {
        // what it means to the operator ("disk full: ..."), as every other write says it
        throw describeStoreError(err);
      }
      // kept until written (a full disk fails the write): a beat lost here would mark a live node down;
      // a newer beat that came in meanwhile stays for the next flush
      if (this.beats.get(id) === t) this.beats.delete(id);
    }
  }

  /** when a node was last heard of: its stored heartbeat or a newer one not flushed yet */
  private lastBeat(n: NodeInfo): number {
    return Math.max(Date.parse(n.lastHeartbeatAt), this.beats.get(n.id) ?? 0);
  }

  async readyNodeCount(): Promise<number> {
    const r = await this.db
      .selectFrom('nodes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'ready')
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** ready nodes whose last heartbeat is older than their TTL */
  async expiredNodes(now: number): Promise<NodeInfo[]> {
    const rows = await this.db.selectFrom('nodes').select('data').where('status', '=', 'ready').execute();
    return rows.map((r) => JSON.parse(r.data) as NodeInfo).filter((n) => this.lastBeat(n) + n.heartbeatTtlMs < now);
  }

  /**
   * A lost alloc completed after all: its replacements (same job and index,
   * placed after it) that still run are stopped, and their nodes told.
   */
  private async stopReplacements(trx: Db, done: Alloc, index: number, now: number, touched: Set<string>): Promise<void> {
    for (const r of await this.queryAllocs(trx, { namespace: done.namespace, jobId: done.jobId, liveOnly: true })) {
      if (r.index !== done.index || r.createIndex <= done.createIndex || r.desiredStatus !== 'run') continue;
      r.desiredStatus = 'stop';
      r.desiredDescription = `alloc ${done.id.slice(0, 8)} it replaced completed after all (its completion came late, from node ${done.nodeName})`;
      r.modifyIndex = index;
      r.modifiedAt = iso(now);
      await this.updateAlloc(trx, r);
      touched.add(r.nodeId);
    }
  }

  /** The node stopped heartbeating: its allocs are lost and their jobs re-evaluated elsewhere. */
  async markNodeDown(nodeId: string, now: number): Promise<{ lost: number }> {
    return this.leaderWrite(async (trx, index, touched) => {
      const node = await this.loadNode(trx, nodeId);
      if (node.status === 'down') return { lost: 0 };
      // a heartbeat came in since the node was found silent: it is not
      if (this.lastBeat(node) + node.heartbeatTtlMs >= now) return { lost: 0 };
      node.status = 'down';
      node.modifyIndex = index;
      await this.saveNode(trx, node, Date.parse(node.lastHeartbeatAt), 'NodeDown');
      touched.add(nodeId);
      const live = await this.queryAllocs(trx, { nodeId, liveOnly: true });
      const allocs: Alloc[] = [];
      const replaceAfterOf = new Map<string, number>();
      for (const a of live) {
        // a job that chose to wait out a partition (disconnect.replace_after) keeps its alloc a while
        const key = `${a.namespace}/${a.jobId}`;
        let replaceAfter = replaceAfterOf.get(key);
        if (replaceAfter === undefined) {
          replaceAfter = (await this.loadJob(trx, a.namespace, a.jobId))?.spec.disconnect?.replaceAfterMs ?? 0;
          replaceAfterOf.set(key, replaceAfter);
        }
        if (replaceAfter > 0) {
          a.disconnectedAt = iso(now);
          a.clientDescription = `node ${node.name} missed its heartbeats: replaced in ${formatDuration(replaceAfter)} unless it comes back`;
          a.modifyIndex = index;
          a.modifiedAt = iso(now);
          await this.updateAlloc(trx, a);
        } else {
          allocs.push(a);
        }
      }
      return { lost: await this.loseAllocs(trx, node, allocs, index, now) };
    });
  }

  /** Allocs of down nodes whose replace_after ran out: lost now, and replaced. */
  async replaceDisconnected(now: number): Promise<number> {
    const down = (await this.db.selectFrom('nodes').select('data').where('status', '=', 'down').execute()).map((r) => JSON.parse(r.data) as NodeInfo);
    let lost = 0;
    for (const node of down) {
      const waiting = this.liveAllocs().filter((a) => a.nodeId === node.id && a.disconnectedAt !== undefined);
      if (waiting.length === 0) continue;
      lost += await this.leaderWrite(async (trx, index) => {
        const n = await this.loadNode(trx, node.id);
        if (n.status !== 'down') return 0;
        const due: Alloc[] = [];
        for (const a of await this.queryAllocs(trx, { nodeId: node.id, liveOnly: true })) {
          if (a.disconnectedAt === undefined) continue;
          const replaceAfter = (await this.loadJob(trx, a.namespace, a.jobId))?.spec.disconnect?.replaceAfterMs ?? 0;
          if (Date.parse(a.disconnectedAt) + replaceAfter <= now) due.push(a);
        }
        return this.loseAllocs(trx, n, due, index, now);
      });
    }
    return lost;
  }

  /** These allocs of a silent node are lost: stopped, and their jobs evaluated again (to replace them). */
  private async loseAllocs(trx: Db, node: NodeInfo, allocs: Alloc[], index: number, now: number): Promise<number> {
    const jobs = new Map<string, { namespace: string; id: string }>();
    for (const a of allocs) {
      delete a.disconnectedAt;
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
    return allocs.length;
  }

  /** A node that is back: its allocs that were waiting out their replace_after carry on. */
  private async reconnectAllocs(trx: Db, nodeId: string, index: number, now: number): Promise<void> {
    if (!this.liveAllocs().some((a) => a.nodeId === nodeId && a.disconnectedAt !== undefined)) return;
    for (const a of await this.queryAllocs(trx, { nodeId, liveOnly: true })) {
      if (a.disconnectedAt === undefined) continue;
      delete a.disconnectedAt;
      a.clientDescription = 'its node is back';
      a.modifyIndex = index;
      a.modifiedAt = iso(now);
      await this.updateAlloc(trx, a);
    }
  }

  /** One page of nodes by name. Clusters are small, but no listing is unbounded. */
  async nodePage(f: { cursor?: string; limit?: number }): Promise<{ nodes: NodeSummary[]; next?: string }> {
    const limit = clampLimit(f.limit ?? 1000, 1000);
    let q = this.db.selectFrom('nodes').select(['data', 'name', 'id']);
    if (f.cursor) {
      const [name, id] = decodeCursor(f.cursor, ['string', 'string']) as [string, string];
      q = q.where((eb) => eb.or([eb('name', '>', name), eb.and([eb('name', '=', name), eb('id', '>', id)])]));
    }
    const rows = await q
      .orderBy('name')
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const usage = this.liveAllocs();
    const last = page[page.length - 1];
    return {
      nodes: page.map((r) => summarizeNode(JSON.parse(r.data) as NodeInfo, usage)),
      ...(rows.length > limit ? { next: encodeCursor([last.name, last.id]) } : {}),
    };
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
      node = pickOne(matches, ref, 'node', (n) => n.id);
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
    await db
      .updateTable('nodes')
      .set({
        name: node.name,
        status: node.status,
        last_heartbeat: lastHeartbeat,
        data: JSON.stringify(node),
        modify_index: node.modifyIndex,
      })
      .where('id', '=', node.id)
      .execute();
  }

  // ------------------------------------------------------------ allocs

  async listAllocs(filter: AllocQuery): Promise<Alloc[]> {
    if (filter.jobId && filter.namespace && filter.namespace !== '*' && !filter.nodeId && !filter.status) {
      return this.jobAllocs(this.db, filter.namespace, filter.jobId);
    }
    return this.queryAllocs(this.db, filter);
  }

  /** One page of allocs, oldest first; filters run in SQL. */
  async allocPage(f: AllocQuery & { cursor?: string; limit?: number; newestFirst?: boolean }): Promise<{ allocs: Alloc[]; next?: string }> {
    const limit = clampLimit(f.limit, 1000);
    const desc = f.newestFirst === true;
    let q = this.db.selectFrom('allocs').select(['data', 'create_index', 'id']);
    if (f.namespace && f.namespace !== '*') q = q.where('namespace', '=', f.namespace);
    if (f.jobId) q = q.where('job_id', '=', f.jobId);
    if (f.nodeId) q = q.where('node_id', '=', f.nodeId);
    if (f.status) q = q.where('client_status', '=', f.status);
    if (f.cursor) {
      const [ci, id] = decodeCursor(f.cursor, ['number', 'string']) as [number, string];
      const after = desc ? '<' : '>';
      q = q.where((eb) => eb.or([eb('create_index', after, ci), eb.and([eb('create_index', '=', ci), eb('id', after, id)])]));
    }
    const dir = desc ? 'desc' : 'asc';
    const rows = await q
      .orderBy('create_index', dir)
      .orderBy('id', dir)
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { allocs: page.map((r) => JSON.parse(r.data) as Alloc), ...(rows.length > limit ? { next: encodeCursor([last.create_index, last.id]) } : {}) };
  }

  /** What a node runs now, and the last `recent` allocs it finished (a node page, not its whole history). */
  async nodeAllocs(nodeId: string, recent = 50): Promise<Alloc[]> {
    const live = await this.queryAllocs(this.db, { nodeId, liveOnly: true });
    const done = await this.db
      .selectFrom('allocs')
      .select('data')
      .where('node_id', '=', nodeId)
      .where('client_status', 'not in', LIVE)
      .orderBy('create_index', 'desc')
      .limit(recent)
      .execute();
    return [...live, ...done.map((r) => JSON.parse(r.data) as Alloc).reverse()].sort((a, b) => a.createIndex - b.createIndex);
  }

  /** a row of a table keyed by UUID, by its id or a unique prefix of it (at least 4 characters unless it is the only match) */
  private async byIdPrefix<T>(table: 'allocs' | 'evals' | 'deployments', idOrPrefix: string, what: string): Promise<T> {
    const rows = await this.db
      .selectFrom(table)
      .select(['id', 'data'])
      .where('id', 'like', `${escapeLike(idOrPrefix)}%`)
      .limit(10)
      .execute();
    return JSON.parse(pickOne(rows, idOrPrefix, what, (r) => r.id).data) as T;
  }

  async getAlloc(idOrPrefix: string): Promise<Alloc> {
    return this.byIdPrefix<Alloc>('allocs', idOrPrefix, 'alloc');
  }

  /** The newest alloc placed to replace this one (its previousAllocId), through the allocs_previous index */
  async replacementOf(id: string): Promise<Alloc | undefined> {
    const r = await this.db
      .selectFrom('allocs')
      .select('data')
      .where(this.backend.jsonText('data', 'previousAllocId'), '=', id)
      .orderBy('create_index', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? (JSON.parse(r.data) as Alloc) : undefined;
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
      if (isRunId(a.jobId)) {
        // a run's spec is its parent's with its meta; only runs carry a payload
        const run = await this.loadJob(this.db, a.namespace, a.jobId);
        if (!run) continue;
        const payload = run.dispatch?.payload;
        out.push({ alloc: a, job: run.spec, ...(payload ? { payload } : {}) });
        continue;
      }
      const key = `${a.namespace}/${a.jobId}@${a.jobVersion}`;
      let spec = specs.get(key);
      if (!spec) {
        const r = await this.db
          .selectFrom('job_versions')
          .select('spec')
          .where('namespace', '=', a.namespace)
          .where('id', '=', a.jobId)
          .where('version', '=', a.jobVersion)
          .executeTakeFirst();
        if (!r) continue;
        spec = JSON.parse(r.spec) as JobSpec;
        specs.set(key, spec);
      }
      out.push({ alloc: a, job: spec });
    }
    await this.stampSecrets(out);
    return out;
  }

  /** each alloc that names secrets learns their versions: a put wakes the node and changes the stamp */
  private async stampSecrets(out: AgentAlloc[]): Promise<void> {
    const byNs = new Map<string, Set<string>>();
    for (const x of out)
      for (const t of x.job.tasks)
        for (const ref of t.secrets ?? []) {
          const ns = x.alloc.namespace;
          byNs.set(ns, (byNs.get(ns) ?? new Set()).add(ref.name));
        }
    if (byNs.size === 0) return;
    const versions = new Map<string, Map<string, number>>();
    for (const [ns, names] of byNs) versions.set(ns, await secretVersions(this.db, ns, [...names]));
    for (const x of out) {
      const names = x.job.tasks.flatMap((t) => (t.secrets ?? []).map((r) => r.name));
      if (names.length > 0) x.secretsStamp = secretsStamp(names, versions.get(x.alloc.namespace) ?? new Map<string, number>());
    }
  }

  /**
   * An agent's report. Only the node's own allocs may be reported (403
   * otherwise); a finished alloc never goes back to running.
   */
  async updateAllocs(nodeId: string, updates: AllocStatusUpdate[], now: number): Promise<number> {
    return this.write(async (trx, index, touched) => {
      const jobs = new Map<
        string,
        { namespace: string; id: string; failed: boolean; ended: boolean; cameUp: boolean; deployment?: string; lostByAgent?: boolean }
      >();
      let freed = false;
      for (const u of updates) {
        const a = await this.loadAlloc(trx, u.allocId);
        if (!a) throw new NotFoundError(`alloc ${u.allocId} not found`);
        if (a.nodeId !== nodeId) throw new ForbiddenError(`alloc ${u.allocId} belongs to another node`);
        if (a.clientStatus === 'complete' || a.clientStatus === 'failed') continue;
        const wasUp = a.clientStatus === 'running' && a.healthy !== false;
        const wasHealthy = a.healthy === true;
        // a batch run that completed on a node the server had given up on: it ran once, and that is the
        // result; the replacement placed meanwhile is the second copy, so it goes
        let lostByAgent = false;
        const lateCompletion =
          a.clientStatus === 'lost' &&
          u.clientStatus === 'complete' &&
          !a.preemptedBy &&
          (await this.loadJob(trx, a.namespace, a.jobId))?.spec.type === 'batch';
        a.taskStates = u.taskStates;
        if (a.clientStatus !== 'lost') {
          a.clientStatus = u.clientStatus;
          a.clientDescription = u.clientDescription;
          if (u.clientStatus === 'lost') {
            // the agent stopped it itself (it lost the server): nothing more to run here, a replacement elsewhere
            lostByAgent = true;
            a.desiredStatus = 'stop';
            a.desiredDescription = 'stopped by its agent; replaced';
          }
        } else if (lateCompletion) {
          a.clientStatus = 'complete';
          a.clientDescription = `${u.clientDescription} (reported after its node was marked lost)`;
          a.desiredStatus = 'run';
          a.desiredDescription = 'completed while its node was marked lost: its replacement is stopped';
          delete a.disconnectedAt;
          await this.stopReplacements(trx, a, index, now, touched);
        }
        const tasks = Object.values(a.taskStates);
        a.healthy =
          a.clientStatus === 'running' && tasks.length > 0 && tasks.every((t) => t.state === 'running' && (t.health === undefined || t.health === 'healthy'));
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
        const j = jobs.get(key) ?? {
          namespace: a.namespace,
          id: a.jobId,
          failed: false,
          ended: false,
          cameUp: false,
          deployment: undefined as string | undefined,
        };
        if (a.deploymentId && (a.healthy !== wasHealthy || terminal)) j.deployment = a.deploymentId;
        if (terminal && a.clientStatus !== 'lost') j.ended = true;
        if (lostByAgent) j.lostByAgent = true;
        if (!wasUp && a.clientStatus === 'running' && a.healthy) j.cameUp = true;
        if (u.clientStatus === 'failed') j.failed = true;
        jobs.set(key, j);
      }
      // a replacement that came up lets a drain (or an update) take its next step
      const draining = [...jobs.values()].some((j) => j.cameUp)
        ? new Set((await this.listNodeInfos(trx)).filter((n) => n.drain).map((n) => n.id))
        : new Set<string>();
      for (const j of jobs.values()) {
        const migrating =
          j.cameUp && draining.size > 0 && this.liveAllocs().some((x) => x.namespace === j.namespace && x.jobId === j.id && draining.has(x.nodeId));
        // an alloc of a running deployment turned healthy or unhealthy: the rollout takes its next step
        const rolling = !j.ended && !migrating && j.deployment !== undefined && (await this.loadDeployment(trx, j.deployment))?.status === 'running';
        await this.refreshJobStatus(trx, j.namespace, j.id, index, now);
        if (j.ended || migrating || rolling || j.lostByAgent) {
          const job = await this.loadJob(trx, j.namespace, j.id);
          // a run that completed has nothing left to decide: its parent's queue hears of the room it left below
          if (job && isRunId(job.id) && job.status === 'complete' && !migrating && !rolling) continue;
          await this.createEval(
            trx,
            index,
            job ?? j,
            j.lostByAgent && !j.ended ? 'alloc-lost' : j.failed ? 'alloc-failure' : j.ended ? 'alloc-stop' : 'node-update',
            now,
          );
        }
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
    // Sorted here, not in SQL: with an ORDER BY, SQLite picks the index that spares the sort
    // (node, create index) and reads every alloc the node ever had to find its live few.
    const rows = await q.select('create_index').execute();
    rows.sort((a, b) => a.create_index - b.create_index);
    return rows.map((r) => JSON.parse(r.data) as Alloc);
  }

  private async loadAlloc(db: Db, id: string): Promise<Alloc | undefined> {
    const r = await db.selectFrom('allocs').select('data').where('id', '=', id).executeTakeFirst();
    return r ? (JSON.parse(r.data) as Alloc) : undefined;
  }

  /** inserts in batches: one statement per few hundred rows, not per alloc */
  private async insertAllocs(db: Db, allocs: Alloc[]): Promise<void> {
    for (let i = 0; i < allocs.length; i += 200) {
      await db
        .insertInto('allocs')
        .values(
          allocs.slice(i, i + 200).map((a) => ({
            id: a.id,
            namespace: a.namespace,
            job_id: a.jobId,
            node_id: a.nodeId,
            desired_status: a.desiredStatus,
            client_status: a.clientStatus,
            data: JSON.stringify(a),
            create_index: a.createIndex,
            modify_index: a.modifyIndex,
            finished_at: null,
          })),
        )
        .execute();
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
    // a run has an alloc or two, read a few times in its life: caching them would only push big jobs out.
    // On a shared store another server's garbage collection deletes allocs without a change to follow, so nothing is cached
    if (isRunId(jobId) || this.backend.shared) {
      const rows = await this.queryAllocs(db, { namespace, jobId });
      const mine = this.txAllocs?.filter((a) => a.namespace === namespace && a.jobId === jobId);
      if (!mine?.length) return rows;
      const view = new Map(rows.map((a) => [a.id, a]));
      for (const a of mine) view.set(a.id, a);
      return [...view.values()];
    }
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
    const ended = a.clientStatus === 'complete' || a.clientStatus === 'failed' || a.clientStatus === 'lost';
    await db
      .updateTable('allocs')
      .set((eb) => ({
        desired_status: a.desiredStatus,
        client_status: a.clientStatus,
        data: JSON.stringify(a),
        modify_index: a.modifyIndex,
        finished_at: ended ? eb.fn.coalesce('finished_at', eb.val(Date.now())) : null,
      }))
      .where('id', '=', a.id)
      .execute();
  }

  // ------------------------------------------------------------ garbage collection

  /**
   * Removes what ended before `before` (ms) from the hot tables, a chunk per
   * write with a yield between, so a collection never holds the server up:
   * finished evals; allocs that a newer alloc of the same index replaced; top-level
   * jobs that ended (batch jobs done, any job stopped) with everything of theirs;
   * and whole sweeps whose runs all ended before `sweepsBefore` (their runs, the
   * runs' last allocs and logs, which the sweep's results needed until then).
   */
  async collectGarbage(before: number, sweepsBefore: number, chunk = 1_000): Promise<Omit<GcResponse, 'before' | 'durationMs'>> {
    const out = { jobs: 0, runs: 0, allocs: 0, evals: 0, deployments: 0, logChunks: 0 };
    const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));
    // the change log of a shared store: enough kept for every server's event buffer to resume from
    if (this.backend.shared)
      await this.db
        .deleteFrom('changes')
        .where('at_index', '<=', this.index - CHANGES_KEPT)
        .execute();
    // finished evals
    for (;;) {
      const ids = (await this.db.selectFrom('evals').select('id').where('finished_at', '<', before).limit(chunk).execute()).map((r) => r.id);
      if (ids.length === 0) break;
      await this.db.deleteFrom('evals').where('id', 'in', ids).execute();
      out.evals += ids.length;
      await yieldNow();
    }
    // allocs replaced by a newer one of the same index; the newest of an index stays (its job's history needs it)
    for (;;) {
      const rows = await this.db.selectFrom('allocs').select(['id', 'namespace', 'job_id', 'data']).where('finished_at', '<', before).limit(chunk).execute();
      if (rows.length === 0) break;
      const drop: string[] = [];
      const keep: string[] = [];
      const byJob = new Map<string, Alloc[]>();
      for (const r of rows) {
        const a = JSON.parse(r.data) as Alloc;
        const k = jobKey(r.namespace, r.job_id);
        byJob.set(k, [...(byJob.get(k) ?? []), a]);
      }
      for (const list of byJob.values()) {
        const all = await this.queryAllocs(this.db, { namespace: list[0].namespace, jobId: list[0].jobId });
        const newest = new Map<number, number>();
        for (const a of all) newest.set(a.index, Math.max(newest.get(a.index) ?? -1, a.createIndex));
        for (const a of list) (a.createIndex < (newest.get(a.index) ?? -1) ? drop : keep).push(a.id);
      }
      out.logChunks += await this.deleteAllocs(drop);
      out.allocs += drop.length;
      // kept allocs leave the candidates for good: they go with their job (or sweep)
      if (keep.length > 0) await this.db.updateTable('allocs').set({ finished_at: null }).where('id', 'in', keep).execute();
      await yieldNow();
    }
    // top-level jobs that ended
    for (;;) {
      const rows = await this.db.selectFrom('jobs').select(['namespace', 'id', 'data']).where('finished_at', '<', before).limit(50).execute();
      if (rows.length === 0) break;
      for (const r of rows) {
        const job = JSON.parse(r.data) as Job;
        if (isParentJob(job.spec)) {
          for (;;) {
            const runs = await listRunRecords(this.db, r.namespace, r.id, { limit: chunk - 1 });
            if (runs.length === 0) break;
            await this.deleteRuns(
              r.namespace,
              runs.map((x) => x.id),
              out,
            );
            await yieldNow();
          }
        }
        // in one write that checks again: the job may have been submitted anew meanwhile
        const gone = await this.write(async (trx) => {
          const still = await trx.selectFrom('jobs').select('finished_at').where('namespace', '=', r.namespace).where('id', '=', r.id).executeTakeFirst();
          if (!still || still.finished_at === null || !(still.finished_at < before)) return false;
          const allocIds = (await trx.selectFrom('allocs').select('id').where('namespace', '=', r.namespace).where('job_id', '=', r.id).execute()).map(
            (x) => x.id,
          );
          out.logChunks += await this.deleteAllocs(allocIds, trx);
          out.allocs += allocIds.length;
          out.evals += Number(
            (await trx.deleteFrom('evals').where('namespace', '=', r.namespace).where('job_id', '=', r.id).executeTakeFirst()).numDeletedRows,
          );
          out.deployments += Number(
            (await trx.deleteFrom('deployments').where('namespace', '=', r.namespace).where('job_id', '=', r.id).executeTakeFirst()).numDeletedRows,
          );
          await trx.deleteFrom('job_versions').where('namespace', '=', r.namespace).where('id', '=', r.id).execute();
          await trx.deleteFrom('jobs').where('namespace', '=', r.namespace).where('id', '=', r.id).execute();
          if (isParentJob(job.spec)) await trx.deleteFrom('run_stats').where('namespace', '=', r.namespace).where('parent_id', '=', r.id).execute();
          return true;
        });
        if (!gone) {
          // submitted again: it is not finished any more (or will be looked at after its next end)
          continue;
        }
        this.dropCached(r.namespace, r.id);
        out.jobs++;
        await yieldNow();
      }
    }
    // sweeps whose runs all ended long enough ago
    const sweeps = await this.db
      .selectFrom('run_stats')
      .select(['namespace', 'parent_id', 'sweep_id', 'data', 'created_at'])
      .where('sweep_id', '!=', '')
      .execute();
    for (const s of sweeps) {
      const st = JSON.parse(s.data) as StoredRunStats;
      const last = Date.parse(st.lastFinishedAt ?? s.created_at);
      if (st.states.queued + st.states.running > 0 || !(last < sweepsBefore)) continue;
      for (;;) {
        const runs = await listRunRecords(this.db, s.namespace, s.parent_id, { limit: chunk - 1, sweepId: s.sweep_id });
        if (runs.length === 0) break;
        await this.deleteRuns(
          s.namespace,
          runs.map((x) => x.id),
          out,
        );
        await yieldNow();
      }
      // the parent's totals lose what the sweep added
      await this.write(async (trx) => {
        const total = await loadStats(trx, s.namespace, s.parent_id, '');
        if (total) {
          total.stats = subtractStats(total.stats, st);
          await saveStats(trx, s.namespace, s.parent_id, '', total, false);
        }
        await trx
          .deleteFrom('run_stats')
          .where('namespace', '=', s.namespace)
          .where('parent_id', '=', s.parent_id)
          .where('sweep_id', '=', s.sweep_id)
          .execute();
      });
    }
    return out;
  }

  /** runs with their allocs, logs and evals */
  private async deleteRuns(namespace: string, ids: string[], out: { runs: number; allocs: number; evals: number; logChunks: number }): Promise<void> {
    for (const id of ids) {
      const allocs = await this.db.selectFrom('allocs').select('id').where('namespace', '=', namespace).where('job_id', '=', id).execute();
      out.logChunks += await this.deleteAllocs(allocs.map((a) => a.id));
      out.allocs += allocs.length;
    }
    out.evals += Number((await this.db.deleteFrom('evals').where('namespace', '=', namespace).where('job_id', 'in', ids).executeTakeFirst()).numDeletedRows);
    await this.db.deleteFrom('runs').where('namespace', '=', namespace).where('id', 'in', ids).execute();
    out.runs += ids.length;
  }

  /** allocs and their logs; answers how many log chunks went. Live allocs are never passed here. */
  private async deleteAllocs(ids: string[], db: Db = this.db): Promise<number> {
    if (ids.length === 0) return 0;
    let chunks = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      chunks += Number((await db.deleteFrom('logs').where('alloc_id', 'in', part).executeTakeFirst()).numDeletedRows);
      await db.deleteFrom('allocs').where('id', 'in', part).execute();
    }
    const gone = new Set(ids);
    for (const [k, m] of this.jobCache) {
      for (const id of m.keys()) {
        if (!gone.has(id)) continue;
        m.delete(id);
        this.jobCacheSize--;
      }
      if (m.size === 0) this.jobCache.delete(k);
    }
    return chunks;
  }

  private dropCached(namespace: string, jobId: string): void {
    const k = jobKey(namespace, jobId);
    const m = this.jobCache.get(k);
    if (!m) return;
    this.jobCacheSize -= m.size;
    this.jobCache.delete(k);
  }

  /** stopped parents whose queued runs were not all marked stopped yet (a crash in between): finish the job */
  async finishStops(now: number): Promise<number> {
    const rows = await this.db.selectFrom('run_stats').select(['namespace', 'parent_id']).where('sweep_id', '=', '').where('stop_seq', '>', 0).execute();
    let n = 0;
    for (const r of rows) n += await this.stopQueuedRuns(r.namespace, r.parent_id, now);
    return n;
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
        const data = this.backend.storableText(c.data);
        const size = Buffer.byteLength(data);
        if (size === 0) continue;
        const last = await trx
          .selectFrom('logs')
          .select(['offset', 'size'])
          .where('alloc_id', '=', c.allocId)
          .where('task', '=', c.task)
          .where('stream', '=', c.stream)
          .orderBy('offset', 'desc')
          .limit(1)
          .executeTakeFirst();
        const offset = last ? last.offset + last.size : 0;
        await trx.insertInto('logs').values({ alloc_id: c.allocId, task: c.task, stream: c.stream, offset, size, data }).execute();
        const floor = offset + size - this.options.logCapBytes;
        if (floor > 0) {
          await trx
            .deleteFrom('logs')
            .where('alloc_id', '=', c.allocId)
            .where('task', '=', c.task)
            .where('stream', '=', c.stream)
            .where((eb) => eb('offset', '+', eb.ref('size')), '<=', floor)
            .execute();
        }
        allocIds.add(c.allocId);
      }
      // follows of these logs on other servers wake too
      for (const id of allocIds) await this.backend.announce(trx, 'baton_logs', id);
    });
    for (const id of allocIds) this.emit('logs', id);
    return chunks.length;
  }

  /** bytes from `offset` on (or from the oldest kept byte when older output was dropped) */
  async readLogs(
    allocId: string,
    task: string,
    stream: string,
    offset: number,
    maxBytes = 512 * 1024,
  ): Promise<{ data: string; nextOffset: number; dropped: number }> {
    const rows = await this.db
      .selectFrom('logs')
      .select(['offset', 'size', 'data'])
      .where('alloc_id', '=', allocId)
      .where('task', '=', task)
      .where('stream', '=', stream)
      .where((eb) => eb('offset', '+', eb.ref('size')), '>', offset)
      .orderBy('offset')
      .limit(1000)
      .execute();
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

/** a new sweep's id starts like one the parent has already: the caller picks another */
export class SweepIdTakenError extends ConflictError {}

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

/**
 * An id prefix as a LIKE pattern: ids are lower-case UUIDs, so a prefix is
 * matched case-insensitively by lowering it (SQLite's LIKE ignores ASCII
 * case, PostgreSQL's does not); wildcards are dropped, never matched.
 */
function escapeLike(s: string): string {
  return s.toLowerCase().replace(/[%_\\]/g, '');
}

function pickOne<T>(rows: T[], ref: string, what: string, idOf: (row: T) => string): T {
  if (ref.length < 4 && rows.length !== 1) throw new AmbiguousIdError(`${what} id prefix "${ref}" is too short: give at least 4 characters`);
  const exact = rows.find((r) => idOf(r) === ref);
  if (exact) return exact;
  if (rows.length === 0) throw new NotFoundError(`${what} "${ref}" not found`);
  if (rows.length > 1)
    throw new AmbiguousIdError(`${what} id prefix "${ref}" matches ${rows.length}: ${rows.map(idOf).slice(0, 5).join(', ')}; give more characters`);
  return rows[0];
}

export { AmbiguousIdError, ConflictError, NotFoundError };

function tokenInfo(r: { id: string; name: string; role: string; namespace: string; created_at: string; expires_at: string | null }): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    role: r.role as TokenRole,
    namespace: r.namespace,
    createdAt: r.created_at,
    ...(r.expires_at ? { expiresAt: r.expires_at } : {}),
  };
}
