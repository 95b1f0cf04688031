/** Creates the tables; each step runs once, in order, recorded in meta. */
import { sql, type Kysely } from 'kysely';
import type { Job } from '../../api/types.js';
import { jobKind } from '../../scheduler/reconcile.js';
import { applyRunChange, emptyStats, runFacts, type StoredRunStats } from '../../jobs/run-stats.js';
import type { Database } from '../schema.js';

type Step = (db: Kysely<Database>) => Promise<void>;

const steps: Step[] = [
  async (db) => {
    await db.schema
      .createTable('tokens')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('jobs')
      .ifNotExists()
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('modify_index', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('jobs_pk', ['namespace', 'id'])
      .execute();
    await db.schema
      .createTable('job_versions')
      .ifNotExists()
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('submitted_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('job_versions_pk', ['namespace', 'id', 'version'])
      .execute();
    await db.schema
      .createTable('nodes')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('last_heartbeat', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('modify_index', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('allocs')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('desired_status', 'text', (c) => c.notNull())
      .addColumn('client_status', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('create_index', 'integer', (c) => c.notNull())
      .addColumn('modify_index', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('allocs_node').ifNotExists().on('allocs').columns(['node_id', 'modify_index']).execute();
    await db.schema.createIndex('allocs_job').ifNotExists().on('allocs').columns(['namespace', 'job_id']).execute();
    await db.schema.createIndex('allocs_client_status').ifNotExists().on('allocs').column('client_status').execute();
    await db.schema
      .createTable('evals')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('priority', 'integer', (c) => c.notNull())
      .addColumn('wait_until', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('create_index', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('evals_status').ifNotExists().on('evals').columns(['status', 'priority', 'create_index']).execute();
    await db.schema.createIndex('evals_job').ifNotExists().on('evals').columns(['namespace', 'job_id']).execute();
    await db.schema
      .createTable('logs')
      .ifNotExists()
      .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('alloc_id', 'text', (c) => c.notNull())
      .addColumn('task', 'text', (c) => c.notNull())
      .addColumn('stream', 'text', (c) => c.notNull())
      .addColumn('offset', 'integer', (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('logs_task').ifNotExists().on('logs').columns(['alloc_id', 'task', 'stream', 'offset']).execute();
  },
  // #3: children of parameterized/periodic jobs, and what a blocked eval asks per alloc
  async (db) => {
    await db.schema.alterTable('jobs').addColumn('parent_id', 'text').execute();
    await db.schema.alterTable('jobs').addColumn('status', 'text').execute();
    await db.schema.createIndex('jobs_parent').ifNotExists().on('jobs').columns(['namespace', 'parent_id']).execute();
    await db.schema.alterTable('evals').addColumn('ask', 'text').execute();
  },
  // #4: deployments (rolling updates of services), newest per job first
  async (db) => {
    await db.schema
      .createTable('deployments')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('job_version', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('create_index', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('deployments_job').ifNotExists().on('deployments').columns(['namespace', 'job_id', 'create_index']).execute();
  },
  // #10: runs of sweeps in a table of their own (a queued run is one row), their totals,
  // and the columns and indexes that keep every hot query independent of history
  async (db) => {
    await db.schema
      .createTable('runs')
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('parent_id', 'text', (c) => c.notNull())
      .addColumn('sweep_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('row', 'integer', (c) => c.notNull())
      .addColumn('parent_version', 'integer', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('meta', 'text', (c) => c.notNull())
      .addColumn('payload', 'text')
      .addColumn('spec', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('queued', 'integer', (c) => c.notNull())
      .addColumn('stopped', 'integer', (c) => c.notNull())
      .addColumn('result', 'text')
      .addColumn('submitted_at', 'text', (c) => c.notNull())
      .addColumn('launch_for', 'text')
      .addColumn('create_index', 'integer', (c) => c.notNull())
      .addColumn('modify_index', 'integer', (c) => c.notNull())
      .addColumn('finished_at', 'integer')
      .addPrimaryKeyConstraint('runs_pk', ['namespace', 'id'])
      .execute();
    await db.schema.createIndex('runs_seq').on('runs').columns(['namespace', 'parent_id', 'seq']).execute();
    await db.schema.createIndex('runs_outcome').on('runs').columns(['namespace', 'parent_id', 'outcome', 'seq']).execute();
    await db.schema.createIndex('runs_status').on('runs').columns(['namespace', 'parent_id', 'status', 'seq']).execute();
    await db.schema.createIndex('runs_sweep').on('runs').columns(['namespace', 'parent_id', 'sweep_id', 'seq']).execute();
    // the queue: only waiting runs are in it, so its size is the queue's, not the history's
    await sql`create index runs_queue on runs (namespace, parent_id, seq) where queued = 1`.execute(db);
    await sql`create index runs_finished on runs (finished_at) where finished_at is not null`.execute(db);
    await db.schema
      .createTable('run_stats')
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('parent_id', 'text', (c) => c.notNull())
      .addColumn('sweep_id', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('next_seq', 'integer', (c) => c.notNull())
      .addColumn('stop_seq', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_stats_pk', ['namespace', 'parent_id', 'sweep_id'])
      .execute();

    await db.schema.alterTable('jobs').addColumn('kind', 'text').execute();
    await db.schema.alterTable('jobs').addColumn('finished_at', 'integer').execute();
    await db.schema.alterTable('allocs').addColumn('finished_at', 'integer').execute();
    await db.schema.alterTable('evals').addColumn('finished_at', 'integer').execute();
    // an agent's poll reads its live allocs only, however many finished on the node
    await db.schema.createIndex('allocs_node_status').on('allocs').columns(['node_id', 'client_status']).execute();
    await db.schema.createIndex('allocs_node_order').on('allocs').columns(['node_id', 'create_index']).execute();
    await db.schema.createIndex('allocs_job_order').on('allocs').columns(['namespace', 'job_id', 'create_index']).execute();
    await db.schema.createIndex('allocs_status_order').on('allocs').columns(['client_status', 'create_index']).execute();
    await db.schema.createIndex('allocs_order').on('allocs').columns(['create_index']).execute();
    await sql`create index allocs_finished on allocs (finished_at) where finished_at is not null`.execute(db);
    await db.schema.createIndex('evals_job_status').on('evals').columns(['namespace', 'job_id', 'status', 'create_index']).execute();
    await db.schema.createIndex('evals_order').on('evals').columns(['create_index']).execute();
    await sql`create index evals_finished on evals (finished_at) where finished_at is not null`.execute(db);
    await db.schema.createIndex('jobs_kind').on('jobs').columns(['kind']).execute();
    await sql`create index jobs_finished on jobs (finished_at) where finished_at is not null`.execute(db);

    // top-level jobs learn their kind; children move to runs, keeping their own specs
    const now = new Date().toISOString();
    const stats = new Map<string, { ns: string; parent: string; sweep: string; s: StoredRunStats; seq: number }>();
    const rows = await db.selectFrom('jobs').select(['data', 'parent_id']).orderBy('modify_index').execute();
    const seqs = new Map<string, number>();
    const children = rows
      .map((r) => JSON.parse(r.data) as Job)
      .filter((j) => j.parentId)
      .sort((a, b) => a.createIndex - b.createIndex || (a.dispatch?.row ?? 0) - (b.dispatch?.row ?? 0));
    for (const r of rows) {
      const job = JSON.parse(r.data) as Job;
      if (job.parentId) continue;
      await db
        .updateTable('jobs')
        .set({ kind: jobKind(job.spec) })
        .where('namespace', '=', job.namespace)
        .where('id', '=', job.id)
        .execute();
    }
    for (const job of children) {
      const parentKey = `${job.namespace}\0${job.parentId}`;
      const seq = seqs.get(parentKey) ?? 0;
      seqs.set(parentKey, seq + 1);
      const sweep = job.dispatch?.sweepId ?? '';
      const facts = runFacts(job.stopped ? 'stopped' : job.status, {
        outcome: job.status === 'complete' ? 'complete' : job.status === 'failed' ? 'failed' : 'queued',
      });
      await db
        .insertInto('runs')
        .values({
          namespace: job.namespace,
          id: job.id,
          parent_id: job.parentId!,
          sweep_id: sweep,
          seq,
          row: job.dispatch?.row ?? 0,
          parent_version: 0,
          version: job.version,
          meta: JSON.stringify(job.dispatch?.meta ?? {}),
          payload: job.dispatch?.payload ?? null,
          spec: JSON.stringify(job.spec),
          status: job.stopped ? 'stopped' : job.status,
          outcome: facts.outcome,
          queued: 0,
          stopped: job.stopped ? 1 : 0,
          result: null,
          submitted_at: job.submittedAt,
          launch_for: job.dispatch?.launchFor ?? null,
          create_index: job.createIndex,
          modify_index: job.modifyIndex,
          finished_at: null,
        })
        .execute();
      for (const key of ['', sweep]) {
        const k = `${parentKey}\0${key}`;
        const e = stats.get(k) ?? { ns: job.namespace, parent: job.parentId!, sweep: key, s: emptyStats(), seq: 0 };
        e.s.total++;
        e.seq = seq + 1;
        applyRunChange(e.s, undefined, facts);
        stats.set(k, e);
      }
    }
    for (const e of stats.values()) {
      await db
        .insertInto('run_stats')
        .values({
          namespace: e.ns,
          parent_id: e.parent,
          sweep_id: e.sweep,
          data: JSON.stringify(e.s),
          next_seq: e.sweep === '' ? e.seq : 0,
          stop_seq: 0,
          created_at: now,
        })
        .execute();
    }
    await db.deleteFrom('jobs').where('parent_id', 'is not', null).execute();
    // what ended before the upgrade is collected one retention after it
    const t = Date.now();
    await db.updateTable('jobs').set({ finished_at: t }).where('status', 'in', ['complete', 'failed', 'stopped']).execute();
    await db.updateTable('allocs').set({ finished_at: t }).where('client_status', 'in', ['complete', 'failed', 'lost']).execute();
    await db.updateTable('evals').set({ finished_at: t }).where('status', 'in', ['complete', 'failed', 'cancelled']).execute();
  },
  async (db) => {
    // scoped API tokens may expire (baton token create --ttl); null: until revoked
    await db.schema.alterTable('tokens').addColumn('expires_at', 'text').execute();
  },
  async (db) => {
    // secrets (baton secret put): the latest version of each, sealed with a key kept outside the database
    await db.schema
      .createTable('secrets')
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('keys', 'text', (c) => c.notNull())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('secrets_pk', ['namespace', 'name'])
      .execute();
  },
  async (db) => {
    // `alloc status` shows what replaced an alloc: the allocs naming it as previous, found without a scan
    // (an expression on the JSON document, the same text as the query's; first placements are left out)
    await sql`create index allocs_previous on allocs (json_extract(data, '$.previousAllocId'), create_index) where json_extract(data, '$.previousAllocId') is not null`.execute(
      db,
    );
  },
];

export async function migrate(db: Kysely<Database>): Promise<void> {
  await db.schema
    .createTable('meta')
    .ifNotExists()
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  const row = await db.selectFrom('meta').select('value').where('key', '=', 'schema_version').executeTakeFirst();
  let version = row ? Number(row.value) : 0;
  while (version < steps.length) {
    await db.transaction().execute(async (trx) => {
      await steps[version](trx);
      await trx
        .insertInto('meta')
        .values({ key: 'schema_version', value: String(version + 1) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(version + 1) }))
        .execute();
    });
    version++;
  }
  // the global index every write takes first (backend nextIndex)
  await db
    .insertInto('meta')
    .values({ key: 'index', value: '0' })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
}
