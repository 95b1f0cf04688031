/**
 * What every server of one database must share, so that any of them can
 * answer an agent or a user (several servers on PostgreSQL):
 *
 * - the cluster CA: agents pin it and their certificates are signed by it.
 *   The first server to start publishes its CA (certificate and key) in the
 *   database; every later one adopts it into its data directory and issues
 *   its own server certificate from it. The database is then the cluster's
 *   trust root, as the data directory is for a single server: protect it
 *   (and its backups) as you would the CA key.
 * - the secrets key is never put in the database: every server must be given
 *   the same one (copy the first server's secrets.key, or --secrets-key-file).
 *   A server with another key refuses to start rather than seal secrets
 *   others cannot open.
 * - join tokens: each server's own join token is accepted by all of them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../store/store.js';
import { ensureClusterCa, writeAtomic } from '../tls/server-tls.js';

const CA_META = 'cluster_ca';
const SECRETS_KEY_META = 'secrets_key_id';

interface CaPair {
  certPem: string;
  keyPem: string;
}

async function readLocalCa(dataDir: string): Promise<CaPair | undefined> {
  try {
    return { certPem: await readFile(join(dataDir, 'ca.pem'), 'utf8'), keyPem: await readFile(join(dataDir, 'ca.key'), 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeLocalCa(dataDir: string, ca: CaPair): Promise<void> {
  // the key first: a ca.pem without its key would be taken as complete next time
  await writeAtomic(join(dataDir, 'ca.key'), ca.keyPem, 0o600);
  await writeAtomic(join(dataDir, 'ca.pem'), ca.certPem, 0o644);
}

/**
 * Before the server's TLS is opened: the data directory ends up holding the
 * cluster's CA. Answers whether this server published it (the first) or
 * adopted it.
 */
export async function shareClusterCa(store: Store, dataDir: string): Promise<'published' | 'adopted'> {
  const stored = await store.getMeta(CA_META);
  const local = await readLocalCa(dataDir);
  if (stored) {
    const cluster = JSON.parse(stored) as CaPair;
    if (local && local.certPem !== cluster.certPem) {
      throw new Error(
        `${join(dataDir, 'ca.pem')} is another CA than the cluster's, which the database holds (published by the first server): this data directory served another cluster. ` +
          "Move ca.pem, ca.key, server.pem and server.key out of it and start again to serve with the cluster's CA",
      );
    }
    if (!local) await writeLocalCa(dataDir, cluster);
    return 'adopted';
  }
  const mine = local ?? (await ensureClusterCa(dataDir));
  // two servers starting together: the first insert wins and the other adopts it
  const winner = JSON.parse(await store.setMetaIfAbsent(CA_META, JSON.stringify({ certPem: mine.certPem, keyPem: mine.keyPem }))) as CaPair;
  if (winner.certPem === mine.certPem) return 'published';
  await writeLocalCa(dataDir, winner);
  return 'adopted';
}

/** Refuses a secrets key other than the one the cluster's secrets are sealed with. */
export async function checkSecretsKey(store: Store, keyId: string, where: string): Promise<void> {
  const cluster = await store.setMetaIfAbsent(SECRETS_KEY_META, keyId);
  if (cluster !== keyId) {
    throw new Error(
      `the secrets key ${where} is not the one the cluster's other servers use (key id ${keyId}, the cluster's is ${cluster}): ` +
        'every server on one database needs the same key; copy secrets.key from the first server into this data directory, or give --secrets-key-file',
    );
  }
}

/** after a rotation (--secrets-previous-key-file) the new key is the cluster's */
export async function recordSecretsKey(store: Store, keyId: string): Promise<void> {
  await store.setMeta(SECRETS_KEY_META, keyId);
}
