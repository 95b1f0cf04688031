/**
 * What the store needs from a database beyond the SQL Kysely writes for it:
 * one implementation per dialect (src/store/sqlite/, src/store/postgres/),
 * the rest of the store is the same code over both.
 */
import type { Kysely, RawBuilder, Transaction } from 'kysely';
import type { Database } from './schema.js';

export type StoreKind = 'sqlite' | 'postgres';

/** a notice one server sends the others when it commits (PostgreSQL LISTEN/NOTIFY) */
export type NoticeChannel = 'baton_changes' | 'baton_logs' | 'baton_leader';

export interface ChangeListener {
  close(): Promise<void>;
}

/** who holds the leader lease, as the database says */
export interface LeaseState {
  holder: string;
  /** bumped each time the lease changes hands: a plan from an older epoch cannot commit */
  epoch: number;
  /** ms since epoch when this holder took it */
  since: number;
  /** ms since epoch (database clock) when it lapses unless renewed */
  expiresAt: number;
  /** the database clock when this was read: expiresAt - now is how long the lease still holds */
  now: number;
}

/** a server of the cluster, as it last announced itself */
export interface ServerPresence {
  id: string;
  url: string;
  version: string;
  startedAt: number;
  /** ms since epoch (database clock) of its latest announcement */
  seenAt: number;
}

/**
 * The lease that makes one server the leader: rows in the shared database
 * on PostgreSQL; on SQLite the one server always leads.
 */
export interface LeaderLease {
  /** Takes the lease if it is free or lapsed, renews it if held; answers the lease as it stands after. */
  claim(serverId: string, ttlMs: number): Promise<LeaseState>;
  /** gives it up at once (a clean stop), so another server leads without waiting for it to lapse */
  release(serverId: string): Promise<void>;
  /**
   * Refuses (NotLeaderError) unless `serverId` holds the lease at `epoch` and
   * it has not lapsed, in the transaction that is about to commit; the lease
   * cannot change hands until that transaction ends.
   */
  fence(trx: Transaction<Database>, serverId: string, epoch: number): Promise<void>;
  announce(s: Omit<ServerPresence, 'seenAt'>): Promise<void>;
  /** the servers seen within `withinMs` */
  servers(withinMs: number): Promise<ServerPresence[]>;
  current(): Promise<LeaseState | undefined>;
}

export interface StoreBackend {
  readonly kind: StoreKind;
  readonly db: Kysely<Database>;
  /**
   * Several servers may write to this database at once (PostgreSQL): the
   * store then records each write's events in `changes`, announces commits,
   * and keeps its caches exact by following what others committed.
   */
  readonly shared: boolean;
  /** where it is, without credentials: for logs and `baton server status` */
  readonly describe: string;
  /** creates or upgrades the tables; safe when several servers start together */
  migrate(): Promise<void>;
  /** the text of a top-level key of a JSON text column (null when absent) */
  jsonText(column: string, key: string): RawBuilder<string | null>;
  /** a JSON text column with one top-level key set to a string */
  jsonSetString(column: string, key: string, value: string): RawBuilder<string>;
  /**
   * Takes the next global index: the first statement of every write, so
   * writers (on every server) wait for each other here and indexes appear in
   * commit order.
   */
  nextIndex(trx: Transaction<Database>): Promise<number>;
  /** a read of several statements that sees one committed state */
  consistentRead<T>(fn: (db: Kysely<Database> | Transaction<Database>) => Promise<T>): Promise<T>;
  /** text as the database can keep it (PostgreSQL text cannot hold NUL) */
  storableText(s: string): string;
  /** tells the other servers, once `trx` commits */
  announce(trx: Transaction<Database>, channel: NoticeChannel, payload: string): Promise<void>;
  /**
   * Hears other servers' announcements. `onGap` is called after the feed was
   * down (a lost connection): notices may have been missed, so the listener
   * must read what changed since it last looked.
   */
  listen(onNotice: (channel: NoticeChannel, payload: string) => void, onGap: () => void): Promise<ChangeListener>;
  readonly lease: LeaderLease;
  close(): Promise<void>;
}
