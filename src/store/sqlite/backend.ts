/**
 * The embedded default: one SQLite file, one server. Nothing else writes to
 * the file, so there is nothing to announce or follow.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { StoreBackend } from '../backend.js';
import type { Database } from '../schema.js';
import { openSqliteDb, type SqliteOptions } from './connect.js';
import { migrate } from './migrations.js';
import { soleLeader } from './sole-leader.js';

export type { SqliteOptions } from './connect.js';

export function sqliteBackend(db: Kysely<Database>, file: string): StoreBackend {
  return {
    kind: 'sqlite',
    db,
    shared: false,
    describe: `sqlite ${file}`,
    migrate: () => migrate(db),
    // the path a literal and the column bare: an expression index (allocs_previous) is used only for the same text
    jsonText: (column, key) => sql<string | null>`json_extract(${sql.raw(column)}, ${sql.lit(`$.${key}`)})`,
    jsonSetString: (column, key, value) => sql<string>`json_set(${sql.raw(column)}, ${sql.lit(`$.${key}`)}, ${value})`,
    async nextIndex(trx: Transaction<Database>) {
      const r = await sql<{ value: string }>`update meta set value = cast(cast(value as integer) + 1 as text) where key = 'index' returning value`.execute(trx);
      return Number(r.rows[0].value);
    },
    // one connection: a read is never interleaved with half a write
    consistentRead: (fn) => fn(db),
    storableText: (s) => s,
    announce: async () => undefined,
    listen: async () => ({ close: async () => undefined }),
    lease: soleLeader(),
    close: () => db.destroy(),
  };
}

/** Opens (or creates) the store's SQLite file. */
export function openSqlite(file: string, opts: SqliteOptions = {}): StoreBackend {
  return sqliteBackend(openSqliteDb(file, opts), file);
}
