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

export function openTestStore(where: StoreLocation, options: Partial<StoreOptions> = {}): Promise<Store> {
  return openStore(where, { logCapBytes: 1 << 20, ...options });
}
