/** The embedded default: one SQLite file in the data directory. */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database as Schema } from './schema.js';

export function openSqlite(file: string): Kysely<Schema> {
  const db = new Database(file);
  // WAL keeps readers from blocking the writer; NORMAL sync is durable across process crashes
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return new Kysely<Schema>({ dialect: new SqliteDialect({ database: db }) });
}
