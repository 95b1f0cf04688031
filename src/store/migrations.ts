/** Creates the tables; each step runs once, in order, recorded in meta. */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

type Step = (db: Kysely<Database>) => Promise<void>;

const steps: Step[] = [
  async (db) => {
    await db.schema.createTable('tokens').ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createTable('jobs').ifNotExists()
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('modify_index', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('jobs_pk', ['namespace', 'id'])
      .execute();
    await db.schema.createTable('job_versions').ifNotExists()
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('submitted_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('job_versions_pk', ['namespace', 'id', 'version'])
      .execute();
    await db.schema.createTable('nodes').ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('last_heartbeat', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('modify_index', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createTable('allocs').ifNotExists()
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
    await db.schema.createTable('evals').ifNotExists()
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
    await db.schema.createTable('logs').ifNotExists()
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
    await db.schema.createTable('deployments').ifNotExists()
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
];

export async function migrate(db: Kysely<Database>): Promise<void> {
  await db.schema.createTable('meta').ifNotExists()
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  const row = await db.selectFrom('meta').select('value').where('key', '=', 'schema_version').executeTakeFirst();
  let version = row ? Number(row.value) : 0;
  while (version < steps.length) {
    await db.transaction().execute(async (trx) => {
      await steps[version](trx);
      await trx.insertInto('meta').values({ key: 'schema_version', value: String(version + 1) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(version + 1) })).execute();
    });
    version++;
  }
  await sql`select 1`.execute(db);
}
