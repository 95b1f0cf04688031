/** The embedded default: one SQLite file in the data directory. */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { Database as Schema } from '../schema.js';

const STATEMENT_CACHE = 500;

/**
 * Kysely prepares every query anew; compiling the SQL was a fifth of the
 * server's work per run. Queries repeat (the same few dozen shapes), so
 * prepared statements are kept, least recently used dropped first. Safe
 * because baton never streams (a statement being iterated cannot be reused).
 */
function cachingStatements(db: Database.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql);
      } else {
        stmt = db.prepare(sql);
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

export interface SqliteOptions {
  /** every statement run, with its parameters (tests look at the query plans of hot paths) */
  onQuery?: (sql: string, parameters: readonly unknown[]) => void;
}

export function openSqliteDb(file: string, opts: SqliteOptions = {}): Kysely<Schema> {
  const db = new Database(file);
  // WAL keeps readers from blocking the writer; NORMAL sync is durable across process crashes
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const onQuery = opts.onQuery;
  return new Kysely<Schema>({
    dialect: new SqliteDialect({ database: cachingStatements(db) }),
    ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.query.parameters) } : {}),
  });
}
