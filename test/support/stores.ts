/**
 * The store's suites run over every dialect (as Kysely's do): SQLite always,
 * PostgreSQL when the run has one (test/support/global-setup.ts; mandatory
 * under BATON_REQUIRE_POSTGRES=1). `describe.each(storeDialects())`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { StoreKind } from '../../src/store/backend.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store, StoreOptions } from '../../src/store/store.js';
import type { StoreLocation } from '../../src/store/store-url.js';
import { freshDatabase, postgresRequired } from './postgres.js';

export interface StoreDialect {
  dialect: StoreKind;
  /** a new, empty database of this dialect */
  fresh(): Promise<StoreLocation>;
}

let sqliteDir: string | undefined;
let files = 0;

const sqlite: StoreDialect = {
  dialect: 'sqlite',
  async fresh() {
    sqliteDir ??= mkdtempSync(join(tmpdir(), 'baton-store-'));
    return { kind: 'sqlite', file: join(sqliteDir, `s${files++}.db`) };
  },
};

/** the PostgreSQL of this run, or why there is none */
export function postgresAdminUrl(): string | undefined {
  const url = inject('postgresAdminUrl');
  if (!url && postgresRequired) throw new Error(`BATON_REQUIRE_POSTGRES=1 but there is no PostgreSQL: ${inject('postgresMissing')}`);
  return url || undefined;
}

export const postgresDialect = (adminUrl: string): StoreDialect => ({
  dialect: 'postgres',
  async fresh() {
    return { kind: 'postgres', url: await freshDatabase(adminUrl) };
  },
});

export function storeDialects(): StoreDialect[] {
  const pg = postgresAdminUrl();
  return pg ? [sqlite, postgresDialect(pg)] : [sqlite];
}

/**
 * A store as a server opens it. On a shared database the first store opened
 * on it takes the leader lease (for an hour), as a lone server would, so it
 * may plan; a second one does not (`lead: false` declines it outright).
 */
export async function openTestStore(where: StoreLocation, options: Partial<StoreOptions> = {}, opts: { lead?: boolean } = {}): Promise<Store> {
  const store = await openStore(where, { logCapBytes: 1 << 20, ...options });
  if (store.shared && opts.lead !== false) {
    const id = `test-${Math.random().toString(36).slice(2, 10)}`;
    const lease = await store.lease.claim(id, 3_600_000);
    if (lease.holder === id) store.fenceWith({ serverId: id, epoch: lease.epoch });
  }
  return store;
}

/** startTestServer's `store` for a dialect: a fresh PostgreSQL database, or nothing (SQLite in the server's dir) */
export async function storeOption(fresh: StoreDialect['fresh']): Promise<{ store?: string }> {
  const where = await fresh();
  return where.kind === 'postgres' ? { store: where.url } : {};
}
