/**
 * The secrets table. The store only ever sees sealed blobs: sealing and
 * opening happen in src/secrets/, with a key the database never holds.
 */
import type { Kysely, Transaction } from 'kysely';
import type { SecretInfo } from '../api/types.js';
import type { Database, SecretTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export const SECRET_READERS = 'tasks of jobs in its namespace (through their agent); no API token can read values';

export interface StoredSecret {
  info: SecretInfo;
  sealed: string;
}

function infoOf(r: SecretTable): SecretInfo {
  return {
    namespace: r.namespace,
    name: r.name,
    version: r.version,
    keys: JSON.parse(r.keys) as string[],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    readableBy: SECRET_READERS,
  };
}

export async function secretVersion(db: Db, namespace: string, name: string): Promise<number> {
  const r = await db.selectFrom('secrets').select('version').where('namespace', '=', namespace).where('name', '=', name).executeTakeFirst();
  return r?.version ?? 0;
}

/** replaces the stored version with `version` (the caller sealed it for exactly that version) */
export async function saveSecret(db: Db, namespace: string, name: string, version: number, keys: string[], sealed: string, now: string): Promise<SecretInfo> {
  const prev = await db.selectFrom('secrets').select('created_at').where('namespace', '=', namespace).where('name', '=', name).executeTakeFirst();
  const row: SecretTable = { namespace, name, version, keys: JSON.stringify([...keys].sort()), sealed, created_at: prev?.created_at ?? now, updated_at: now };
  if (prev) {
    await db
      .updateTable('secrets')
      .set({ version, keys: row.keys, sealed, updated_at: now })
      .where('namespace', '=', namespace)
      .where('name', '=', name)
      .execute();
  } else {
    await db.insertInto('secrets').values(row).execute();
  }
  return infoOf(row);
}

export async function deleteSecret(db: Db, namespace: string, name: string): Promise<SecretInfo | undefined> {
  const r = await db.selectFrom('secrets').selectAll().where('namespace', '=', namespace).where('name', '=', name).executeTakeFirst();
  if (!r) return undefined;
  await db.deleteFrom('secrets').where('namespace', '=', namespace).where('name', '=', name).execute();
  return infoOf(r);
}

/** namespace '*' lists every namespace; `namespaces` limits to those (a token's reach) */
export async function listSecrets(db: Db, namespace: string): Promise<SecretInfo[]> {
  let q = db.selectFrom('secrets').selectAll();
  if (namespace !== '*') q = q.where('namespace', '=', namespace);
  const rows = await q.orderBy('namespace').orderBy('name').execute();
  return rows.map(infoOf);
}

export async function loadSecrets(db: Db, namespace: string, names: string[]): Promise<StoredSecret[]> {
  if (names.length === 0) return [];
  const rows = await db.selectFrom('secrets').selectAll().where('namespace', '=', namespace).where('name', 'in', names).execute();
  return rows.map((r) => ({ info: infoOf(r), sealed: r.sealed }));
}

/** name → version of the named secrets that exist */
export async function secretVersions(db: Db, namespace: string, names: string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const rows = await db.selectFrom('secrets').select(['name', 'version']).where('namespace', '=', namespace).where('name', 'in', names).execute();
  return new Map(rows.map((r) => [r.name, r.version]));
}

/** what an alloc's tasks see of its secrets' versions: "db@3,api@0" (0: missing); a change wakes and tells its agent */
export function secretsStamp(names: string[], versions: Map<string, number>): string {
  return [...new Set(names)]
    .sort()
    .map((n) => `${n}@${versions.get(n) ?? 0}`)
    .join(',');
}

/** every stored secret, for re-sealing with a new key */
export async function allSealed(db: Db): Promise<StoredSecret[]> {
  const rows = await db.selectFrom('secrets').selectAll().orderBy('namespace').orderBy('name').execute();
  return rows.map((r) => ({ info: infoOf(r), sealed: r.sealed }));
}

export async function updateSealed(db: Db, namespace: string, name: string, sealed: string): Promise<void> {
  await db.updateTable('secrets').set({ sealed }).where('namespace', '=', namespace).where('name', '=', name).execute();
}
