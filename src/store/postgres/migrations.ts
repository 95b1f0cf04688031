/**
 * The tables on PostgreSQL. A database starts at the current schema in one
 * step (there are no PostgreSQL stores from before it); later changes are
 * further steps. Every server runs this at start: the steps run once, in
 * one transaction, under an advisory lock, so servers starting together
 * wait for the first instead of racing it.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema.js';

type Step = (db: Transaction<Database>) => Promise<void>;

/** pg_advisory_xact_lock key: "baton" in ASCII, any constant other software will not pick */
const MIGRATION_LOCK = 0x6261746f6e;

const steps: Step[] = [
  async (db) => {
    // bigint for every index, millisecond time and byte offset; text JSON documents as on SQLite
    for (const stmt of [
      sql`create table tokens (id text primary key, secret_hash text not null unique, name text not null, role text not null,
        namespace text not null, created_at text not null, expires_at text)`,
      sql`create table jobs (namespace text not null, id text not null, version integer not null, data text not null,
        modify_index bigint not null, parent_id text, status text, kind text, finished_at bigint, primary key (namespace, id))`,
      sql`create index jobs_parent on jobs (namespace, parent_id)`,
      sql`create index jobs_kind on jobs (kind)`,
      sql`create index jobs_finished on jobs (finished_at) where finished_at is not null`,
      sql`create table job_versions (namespace text not null, id text not null, version integer not null, spec text not null,
        submitted_at text not null, primary key (namespace, id, version))`,
      sql`create table nodes (id text primary key, name text not null, secret_hash text not null unique, status text not null,
        last_heartbeat bigint not null, data text not null, modify_index bigint not null)`,
      sql`create table allocs (id text primary key, namespace text not null, job_id text not null, node_id text not null,
        desired_status text not null, client_status text not null, data text not null, create_index bigint not null,
        modify_index bigint not null, finished_at bigint)`,
      sql`create index allocs_node on allocs (node_id, modify_index)`,
      sql`create index allocs_job on allocs (namespace, job_id)`,
      sql`create index allocs_client_status on allocs (client_status)`,
      sql`create index allocs_node_status on allocs (node_id, client_status)`,
      sql`create index allocs_node_order on allocs (node_id, create_index)`,
      sql`create index allocs_job_order on allocs (namespace, job_id, create_index)`,
      sql`create index allocs_status_order on allocs (client_status, create_index)`,
      sql`create index allocs_order on allocs (create_index)`,
      // what a server reads to follow the allocs other servers changed (its caches)
      sql`create index allocs_modify on allocs (modify_index)`,
      sql`create index allocs_finished on allocs (finished_at) where finished_at is not null`,
      sql`create index allocs_previous on allocs (((data::json)->>'previousAllocId'), create_index) where ((data::json)->>'previousAllocId') is not null`,
      sql`create table evals (id text primary key, namespace text not null, job_id text not null, status text not null,
        priority integer not null, wait_until bigint not null, data text not null, create_index bigint not null, ask text, finished_at bigint)`,
      sql`create index evals_status on evals (status, priority, create_index)`,
      sql`create index evals_job on evals (namespace, job_id)`,
      sql`create index evals_job_status on evals (namespace, job_id, status, create_index)`,
      sql`create index evals_order on evals (create_index)`,
      sql`create index evals_finished on evals (finished_at) where finished_at is not null`,
      sql`create table logs (seq bigint generated always as identity primary key, alloc_id text not null, task text not null,
        stream text not null, "offset" bigint not null, size integer not null, data text not null)`,
      sql`create index logs_task on logs (alloc_id, task, stream, "offset")`,
      sql`create table deployments (id text primary key, namespace text not null, job_id text not null, job_version integer not null,
        status text not null, data text not null, create_index bigint not null)`,
      sql`create index deployments_job on deployments (namespace, job_id, create_index)`,
      sql`create table runs (namespace text not null, id text not null, parent_id text not null, sweep_id text not null,
        seq bigint not null, "row" integer not null, parent_version integer not null, version integer not null, meta text not null,
        payload text, spec text, status text not null, outcome text not null, queued integer not null, stopped integer not null,
        result text, submitted_at text not null, launch_for text, create_index bigint not null, modify_index bigint not null,
        finished_at bigint, primary key (namespace, id))`,
      sql`create index runs_seq on runs (namespace, parent_id, seq)`,
      sql`create index runs_outcome on runs (namespace, parent_id, outcome, seq)`,
      sql`create index runs_status on runs (namespace, parent_id, status, seq)`,
      sql`create index runs_sweep on runs (namespace, parent_id, sweep_id, seq)`,
      sql`create index runs_queue on runs (namespace, parent_id, seq) where queued = 1`,
      sql`create index runs_finished on runs (finished_at) where finished_at is not null`,
      sql`create table run_stats (namespace text not null, parent_id text not null, sweep_id text not null, data text not null,
        next_seq bigint not null, stop_seq bigint not null, created_at text not null, primary key (namespace, parent_id, sweep_id))`,
      sql`create table secrets (namespace text not null, name text not null, version integer not null, keys text not null,
        sealed text not null, created_at text not null, updated_at text not null, primary key (namespace, name))`,
      // each write's events and touched nodes: how the other servers learn of it, and where an event stream resumes
      sql`create table changes (at_index bigint primary key, time bigint not null, nodes text not null, events text not null)`,
      // the leader lease (one row) and the servers that share the database (src/store/postgres/leader-lease.ts)
      sql`create table leader (id integer primary key check (id = 1), holder text not null, epoch bigint not null, since bigint not null, expires_at bigint not null)`,
      sql`create table servers (id text primary key, url text not null, version text not null, started_at bigint not null, seen_at bigint not null)`,
    ])
      await stmt.execute(db);
  },
];

export async function migrate(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`create table if not exists meta (key text primary key, value text not null)`.execute(trx);
    const row = await trx.selectFrom('meta').select('value').where('key', '=', 'schema_version').executeTakeFirst();
    const from = row ? Number(row.value) : 0;
    if (from > steps.length)
      throw new Error(`the database's schema is version ${from}, newer than this baton knows (${steps.length}): upgrade baton on this server`);
    for (let v = from; v < steps.length; v++) await steps[v](trx);
    await trx
      .insertInto('meta')
      .values({ key: 'schema_version', value: String(steps.length) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(steps.length) }))
      .execute();
    await trx
      .insertInto('meta')
      .values({ key: 'index', value: '0' })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  });
}
