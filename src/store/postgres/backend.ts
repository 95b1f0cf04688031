/**
 * PostgreSQL: the database several servers share. Writes serialise on the
 * index row (backend nextIndex), commits are announced with NOTIFY, and each
 * server LISTENs on a connection of its own to follow the others.
 */
import { sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { ChangeListener, NoticeChannel, StoreBackend } from '../backend.js';
import type { Database } from '../schema.js';
import { openPostgresDb, postgresPool, postgresTypes, type PostgresOptions } from './connect.js';
import { postgresLease } from './leader-lease.js';
import { migrate } from './migrations.js';

export type { PostgresOptions } from './connect.js';

const CHANNELS: NoticeChannel[] = ['baton_changes', 'baton_logs', 'baton_leader'];

/** the URL without its password, for logs and status */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres (unparsable URL)';
  }
}

export function openPostgres(url: string, opts: PostgresOptions = {}): StoreBackend {
  const pool = postgresPool(url, opts);
  const db = openPostgresDb(pool, opts);
  return {
    kind: 'postgres',
    db,
    shared: true,
    describe: `postgres ${redactUrl(url)}`,
    migrate: () => migrate(db),
    jsonText: (column, key) => sql<string | null>`((${sql.raw(column)}::json)->>${sql.lit(key)})`,
    jsonSetString: (column, key, value) => sql<string>`(jsonb_set(${sql.raw(column)}::jsonb, ${sql.lit(`{${key}}`)}, to_jsonb(${value}::text)))::text`,
    async nextIndex(trx: Transaction<Database>) {
      // the row lock is held to commit: the next writer, on any server, waits here and then sees this write
      const r = await sql<{ value: string }>`update meta set value = (value::bigint + 1)::text where key = 'index' returning value`.execute(trx);
      return Number(r.rows[0].value);
    },
    consistentRead: (fn) => db.transaction().setIsolationLevel('repeatable read').execute(fn),
    storableText: (s) => (s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s),
    async announce(trx, channel, payload) {
      await sql`select pg_notify(${channel}, ${payload})`.execute(trx);
    },
    listen: (onNotice, onGap) => listenFor(url, onNotice, onGap),
    lease: postgresLease(db),
    close: () => db.destroy(),
  };
}

/**
 * LISTEN on a connection outside the pool, reconnecting with backoff: a
 * notice missed while it was down is made up for by onGap (the listener
 * reads what changed since it last looked).
 */
async function listenFor(url: string, onNotice: (channel: NoticeChannel, payload: string) => void, onGap: () => void): Promise<ChangeListener> {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = 100;
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, types: postgresTypes, application_name: 'baton-listen', keepAlive: true });
    c.on('notification', (n) => onNotice(n.channel as NoticeChannel, n.payload ?? ''));
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    await c.connect();
    for (const ch of CHANNELS) await c.query(`listen ${ch}`);
    client = c;
    delay = 100;
  };
  const lost = (c: pg.Client): void => {
    if (client !== c || closed) return;
    client = undefined;
    c.end().catch(() => undefined);
    schedule();
  };
  const schedule = (): void => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().then(onGap, () => {
        delay = Math.min(delay * 2, 5_000);
        schedule();
      });
    }, delay);
    retry.unref();
  };
  await connect();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
