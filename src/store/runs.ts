/**
 * The rows of sweeps: runs (child jobs of parameterized and periodic parents)
 * and their running totals. A run is stored as the few columns that make it
 * different from its parent (meta, payload, where it is); its Job, with its
 * spec, is made from the parent's version when it is read. SQL only: what a
 * change to a run means is the Store's business.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Job, JobSpec, JobStatus, RunOutcome, RunRow } from '../api/types.js';
import { childSpec } from '../jobs/dispatch.js';
import { emptyStats, type StoredRunStats } from '../jobs/run-stats.js';
import type { Database, RunTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** What a run's latest alloc said, kept on the run so listings never read allocs. */
export type RunResult = Omit<RunRow, 'jobId' | 'index' | 'meta' | 'outcome'>;

export interface RunRecord {
  namespace: string;
  id: string;
  parentId: string;
  sweepId: string;
  seq: number;
  row: number;
  parentVersion: number;
  version: number;
  meta: Record<string, string>;
  payload?: string;
  /** set only when the run does not follow its parent's version */
  spec?: JobSpec;
  status: JobStatus;
  outcome: RunOutcome;
  queued: boolean;
  stopped: boolean;
  result?: RunResult;
  submittedAt: string;
  launchFor?: string;
  createIndex: number;
  modifyIndex: number;
  finishedAt?: number;
}

/** Runs have ids `<parent>/<name>`; job names cannot hold a '/'. */
export function isRunId(id: string): boolean {
  return id.includes('/');
}

function fromRow(r: RunTable): RunRecord {
  const run: RunRecord = {
    namespace: r.namespace,
    id: r.id,
    parentId: r.parent_id,
    sweepId: r.sweep_id,
    seq: r.seq,
    row: r.row,
    parentVersion: r.parent_version,
    version: r.version,
    meta: JSON.parse(r.meta) as Record<string, string>,
    status: r.status as JobStatus,
    outcome: r.outcome as RunOutcome,
    queued: r.queued === 1,
    stopped: r.stopped === 1,
    submittedAt: r.submitted_at,
    createIndex: r.create_index,
    modifyIndex: r.modify_index,
  };
  if (r.payload !== null) run.payload = r.payload;
  if (r.spec !== null) run.spec = JSON.parse(r.spec) as JobSpec;
  if (r.result !== null) run.result = JSON.parse(r.result) as RunResult;
  if (r.launch_for !== null) run.launchFor = r.launch_for;
  if (r.finished_at !== null) run.finishedAt = r.finished_at;
  return run;
}

function toRow(run: RunRecord): RunTable {
  return {
    namespace: run.namespace,
    id: run.id,
    parent_id: run.parentId,
    sweep_id: run.sweepId,
    seq: run.seq,
    row: run.row,
    parent_version: run.parentVersion,
    version: run.version,
    meta: JSON.stringify(run.meta),
    payload: run.payload ?? null,
    spec: run.spec ? JSON.stringify(run.spec) : null,
    status: run.status,
    outcome: run.outcome,
    queued: run.queued ? 1 : 0,
    stopped: run.stopped ? 1 : 0,
    result: run.result ? JSON.stringify(run.result) : null,
    submitted_at: run.submittedAt,
    launch_for: run.launchFor ?? null,
    create_index: run.createIndex,
    modify_index: run.modifyIndex,
    finished_at: run.finishedAt ?? null,
  };
}

/** The child job a run is, given its parent's spec at the run's parent version. */
export function runJob(run: RunRecord, parentSpec: JobSpec | undefined): Job | undefined {
  const spec = run.spec ?? (parentSpec ? childSpec(parentSpec, run.id, run.meta) : undefined);
  if (!spec) return undefined;
  return {
    id: run.id,
    namespace: run.namespace,
    version: run.version,
    spec,
    stopped: run.stopped,
    status: run.status,
    submittedAt: run.submittedAt,
    parentId: run.parentId,
    dispatch: {
      meta: run.meta,
      ...(run.payload !== undefined ? { payload: run.payload } : {}),
      sweepId: run.sweepId,
      row: run.row,
      ...(run.launchFor ? { launchFor: run.launchFor } : {}),
    },
    createIndex: run.createIndex,
    modifyIndex: run.modifyIndex,
  };
}

/** The row a listing shows; `index` is the run's place in its parent's submission order. */
export function runRowOf(run: RunRecord, requestedMemory: number): RunRow {
  const r = run.result;
  return {
    jobId: run.id,
    index: run.seq,
    meta: run.meta,
    outcome: run.outcome,
    reason: r?.reason ?? (run.stopped ? 'stopped before it was placed' : 'waiting for capacity'),
    attempt: r?.attempt ?? 0,
    requestedMemory: r?.requestedMemory ?? requestedMemory,
    ...(r ? withoutReason(r) : {}),
  };
}

function withoutReason(r: RunResult): Omit<RunResult, 'reason' | 'attempt' | 'requestedMemory'> {
  const { reason: _r, attempt: _a, requestedMemory: _m, ...rest } = r;
  return rest;
}

// A few hundred rows per statement: SQLite allows 32,766 variables, PostgreSQL 65,535.
const INSERT_BATCH = 500;

export async function insertRuns(db: Db, runs: RunRecord[]): Promise<void> {
  for (let i = 0; i < runs.length; i += INSERT_BATCH) {
    await db
      .insertInto('runs')
      .values(runs.slice(i, i + INSERT_BATCH).map(toRow))
      .execute();
  }
}

export async function loadRun(db: Db, namespace: string, id: string): Promise<RunRecord | undefined> {
  const r = await db.selectFrom('runs').selectAll().where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
  return r ? fromRow(r) : undefined;
}

/** writes the columns that change over a run's life */
export async function saveRun(db: Db, run: RunRecord): Promise<void> {
  const row = toRow(run);
  await db
    .updateTable('runs')
    .set({
      version: row.version,
      status: row.status,
      outcome: row.outcome,
      queued: row.queued,
      stopped: row.stopped,
      result: row.result,
      spec: row.spec,
      modify_index: row.modify_index,
      finished_at: row.finished_at,
    })
    .where('namespace', '=', run.namespace)
    .where('id', '=', run.id)
    .execute();
}

/** The head of a parent's queue: waiting runs from `fromSeq` on, in submission order. */
export async function queuedRuns(db: Db, namespace: string, parentId: string, fromSeq: number, limit: number): Promise<RunRecord[]> {
  const rows = await db
    .selectFrom('runs')
    .selectAll()
    .where('namespace', '=', namespace)
    .where('parent_id', '=', parentId)
    .where('queued', '=', 1)
    .where('seq', '>=', fromSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map(fromRow);
}

export interface RunListFilter {
  /** runs after this seq */
  afterSeq?: number;
  limit: number;
  outcome?: RunOutcome;
  status?: JobStatus;
  sweepId?: string;
  /** only runs that have not ended (for a parent's stop) */
  active?: boolean;
}

/** A page of a parent's runs in submission order; at most limit + 1 rows, so the caller can tell whether more follow. */
export async function listRunRecords(db: Db, namespace: string, parentId: string, f: RunListFilter): Promise<RunRecord[]> {
  let q = db.selectFrom('runs').selectAll().where('namespace', '=', namespace).where('parent_id', '=', parentId);
  if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
  if (f.outcome) q = q.where('outcome', '=', f.outcome);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.sweepId) q = q.where('sweep_id', '=', f.sweepId);
  if (f.active) q = q.where('status', 'in', ['pending', 'running']).where('queued', '=', 0);
  const rows = await q
    .orderBy('seq')
    .limit(f.limit + 1)
    .execute();
  return rows.map(fromRow);
}

export interface StatsRow {
  stats: StoredRunStats;
  nextSeq: number;
  stopSeq: number;
  createdAt: string;
}

export async function loadStats(db: Db, namespace: string, parentId: string, sweepId: string): Promise<StatsRow | undefined> {
  const r = await db
    .selectFrom('run_stats')
    .selectAll()
    .where('namespace', '=', namespace)
    .where('parent_id', '=', parentId)
    .where('sweep_id', '=', sweepId)
    .executeTakeFirst();
  return r ? { stats: JSON.parse(r.data) as StoredRunStats, nextSeq: r.next_seq, stopSeq: r.stop_seq, createdAt: r.created_at } : undefined;
}

export async function saveStats(db: Db, namespace: string, parentId: string, sweepId: string, row: StatsRow, insert: boolean): Promise<void> {
  const data = JSON.stringify(row.stats);
  if (insert) {
    await db
      .insertInto('run_stats')
      .values({
        namespace,
        parent_id: parentId,
        sweep_id: sweepId,
        data,
        next_seq: row.nextSeq,
        stop_seq: row.stopSeq,
        created_at: row.createdAt,
      })
      .execute();
  } else {
    await db
      .updateTable('run_stats')
      .set({ data, next_seq: row.nextSeq, stop_seq: row.stopSeq })
      .where('namespace', '=', namespace)
      .where('parent_id', '=', parentId)
      .where('sweep_id', '=', sweepId)
      .execute();
  }
}

export function newStatsRow(now: string): StatsRow {
  return { stats: emptyStats(), nextSeq: 0, stopSeq: 0, createdAt: now };
}
