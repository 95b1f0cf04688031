/** A pool of connections to the PostgreSQL database several servers share. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../schema.js';

/**
 * int8 (bigint: every index, millisecond time and byte offset, count(*)) as
 * a JS number, not a string: baton's values stay far below 2^53.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser(oid, format) {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format) as unknown;
  },
};

export interface PostgresOptions {
  /** connections in the pool (default 10) */
  poolSize?: number;
  /** every statement run, with its parameters */
  onQuery?: (sql: string, parameters: readonly unknown[]) => void;
}

export function postgresPool(url: string, opts: PostgresOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    types,
    connectionTimeoutMillis: 10_000,
    // a statement stuck behind a lock for this long is a bug or a dead peer, not a wait worth keeping
    statement_timeout: 60_000,
    // a server cut off mid-transaction holds the index row (every write's lock): PostgreSQL ends its
    // session after this, so the other servers carry on instead of waiting for TCP to notice
    idle_in_transaction_session_timeout: 10_000,
    // and the cut-off server's own calls give up, so it does not wait forever on a socket that went quiet
    query_timeout: 65_000,
    keepAlive: true,
    application_name: 'baton',
  });
  // an idle connection the database closed (a restart, a failover) is dropped from the pool, not a crash
  pool.on('error', () => undefined);
  return pool;
}

export function openPostgresDb(pool: pg.Pool, opts: PostgresOptions = {}): Kysely<Database> {
  const onQuery = opts.onQuery;
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.query.parameters) } : {}),
  });
}

export { types as postgresTypes };
