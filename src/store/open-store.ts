/** Opens the store a --store URL names, on its dialect's backend. */
import { describeStoreError } from './errors.js';
import { openPostgres } from './postgres/backend.js';
import { openSqlite } from './sqlite/backend.js';
import { Store, type StoreOptions } from './store.js';
import type { StoreLocation } from './store-url.js';

export async function openStore(where: StoreLocation, options: StoreOptions): Promise<Store> {
  const backend = where.kind === 'postgres' ? openPostgres(where.url) : openSqlite(where.file);
  try {
    return await Store.open(backend, options);
  } catch (err) {
    await backend.close().catch(() => undefined);
    if (where.kind !== 'postgres') throw err;
    const code = (err as { code?: string }).code;
    const hint =
      code === '3D000'
        ? ': create it first (createdb), baton makes its tables in it'
        : code === '28P01' || code === '28000'
          ? ': check the user and password in the URL'
          : describeStoreError(err) !== err
            ? ': is PostgreSQL running, and are the host and port in the URL right?'
            : '';
    throw new Error(`cannot open the store ${backend.describe}: ${(err as Error).message}${hint}`);
  }
}
