/**
 * The leader lease on PostgreSQL: one row, taken or renewed with one
 * statement, timed by the database's clock (servers' clocks may disagree;
 * the database's is the one every server reads). The epoch goes up whenever
 * the lease changes hands or lapses, and the plan applier checks it in the
 * transaction that commits, holding the row so the lease cannot move
 * until that commit is done.
 */
import { sql, type Kysely } from 'kysely';
import type { LeaderLease, LeaseState } from '../backend.js';
import { NotLeaderError } from '../errors.js';
import type { Database } from '../schema.js';

const NOW_MS = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

interface LeaseRow {
  holder: string;
  epoch: number;
  since: number;
  expires_at: number;
  now: number;
}

const state = (r: LeaseRow): LeaseState => ({
  holder: r.holder,
  epoch: Number(r.epoch),
  since: Number(r.since),
  expiresAt: Number(r.expires_at),
  now: Number(r.now),
});

export function postgresLease(db: Kysely<Database>): LeaderLease {
  return {
    async claim(serverId, ttlMs) {
      const taken = await sql<LeaseRow>`
        insert into leader (id, holder, epoch, since, expires_at) values (1, ${serverId}, 1, ${NOW_MS}, ${NOW_MS} + ${ttlMs})
        on conflict (id) do update set
          holder = excluded.holder,
          epoch = case when leader.holder = excluded.holder and leader.expires_at > ${NOW_MS} then leader.epoch else leader.epoch + 1 end,
          since = case when leader.holder = excluded.holder and leader.expires_at > ${NOW_MS} then leader.since else ${NOW_MS} end,
          expires_at = excluded.expires_at
        where leader.holder = excluded.holder or leader.expires_at <= ${NOW_MS}
        returning holder, epoch, since, expires_at, ${NOW_MS} as now`.execute(db);
      if (taken.rows[0]) return state(taken.rows[0]);
      const held = await sql<LeaseRow>`select holder, epoch, since, expires_at, ${NOW_MS} as now from leader where id = 1`.execute(db);
      return state(held.rows[0]);
    },
    async release(serverId) {
      // and tell the others at once: they claim on the notice instead of at their next renewal
      await db.transaction().execute(async (trx) => {
        await sql`update leader set expires_at = ${NOW_MS} where id = 1 and holder = ${serverId}`.execute(trx);
        await sql`select pg_notify('baton_leader', ${serverId})`.execute(trx);
      });
    },
    async fence(trx, serverId, epoch) {
      // for share: a claim by another server waits for this transaction, so it cannot slip in before this commit
      const r = await sql<LeaseRow & { live: boolean }>`
        select holder, epoch, since, expires_at, ${NOW_MS} as now, expires_at > ${NOW_MS} as live from leader where id = 1 for share`.execute(trx);
      const row = r.rows[0];
      if (!row || row.holder !== serverId || Number(row.epoch) !== epoch || !row.live) {
        throw new NotLeaderError(
          row && row.live && row.holder !== serverId
            ? `server ${serverId} no longer leads (server ${row.holder} does, epoch ${row.epoch}): plan not committed`
            : `server ${serverId}'s leader lease (epoch ${epoch}) has lapsed: plan not committed`,
        );
      }
    },
    async announce(s) {
      await sql`
        insert into servers (id, url, version, started_at, seen_at) values (${s.id}, ${s.url}, ${s.version}, ${s.startedAt}, ${NOW_MS})
        on conflict (id) do update set url = excluded.url, version = excluded.version, started_at = excluded.started_at, seen_at = excluded.seen_at`.execute(
        db,
      );
    },
    async servers(withinMs) {
      const r = await sql<{ id: string; url: string; version: string; started_at: number; seen_at: number }>`
        select id, url, version, started_at, seen_at from servers where seen_at > ${NOW_MS} - ${withinMs} order by started_at, id`.execute(db);
      return r.rows.map((x) => ({ id: x.id, url: x.url, version: x.version, startedAt: Number(x.started_at), seenAt: Number(x.seen_at) }));
    },
    async current() {
      const r = await sql<LeaseRow>`select holder, epoch, since, expires_at, ${NOW_MS} as now from leader where id = 1`.execute(db);
      return r.rows[0] ? state(r.rows[0]) : undefined;
    },
  };
}
