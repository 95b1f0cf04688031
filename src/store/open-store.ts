/** Opens the store a --store URL names, on its dialect's backend. */
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
    throw err;
  }
}
