/**
 * A private PostgreSQL for the benchmarks, in one of two configurations:
 *
 * - 'fast': test/support/postgres.ts's own (fsync, synchronous_commit and
 *   full_page_writes off): what the suites run on, but a commit returns
 *   before its WAL reaches the disk, so write-heavy figures flatter baton.
 * - 'durable': PostgreSQL's defaults (every commit flushed before it
 *   returns), what a production database runs.
 */
import pg from 'pg';
import { startPostgres, type PrivatePostgres } from '../../test/support/postgres.js';

export type PostgresMode = 'fast' | 'durable';

export const POSTGRES_MODE_NOTE: Record<PostgresMode, string> = {
  fast: "fsync=off, synchronous_commit=off, full_page_writes=off (the test suites' settings: not crash-safe)",
  durable: "PostgreSQL's defaults: fsync=on, synchronous_commit=on, full_page_writes=on (crash-safe)",
};

export async function startBenchPostgres(mode: PostgresMode): Promise<PrivatePostgres> {
  return startPostgres({ durable: mode === 'durable' });
}

/** the settings the server really runs with, read back from it (not what was asked for) */
export async function durabilitySettings(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ name: string; setting: string }>(
      "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes') order by name",
    );
    return r.rows.map((x) => `${x.name}=${x.setting}`).join(', ');
  } finally {
    await c.end();
  }
}
