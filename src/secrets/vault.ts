/**
 * The server's side of secrets: seals values on their way into the store and
 * opens them only for an agent's fetch. Nothing here logs or returns values
 * anywhere else.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AllocSecretsResponse, SecretInfo } from '../api/types.js';
import type { Store } from '../store/store.js';
import { KEY_BYTES, openSecret, sealSecret } from './crypto.js';
import { ensureKeyFile, KEY_FILE, loadKeyFile } from './key-file.js';

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

export class SecretVault {
  constructor(private readonly key: Buffer) {}

  /** names the key without giving it away: servers sharing a database compare it, so none seals with another key */
  keyId(): string {
    return createHash('sha256').update('baton secrets key id\0').update(this.key).digest('hex').slice(0, 16);
  }

  /** an app built without a key file (unit tests): the values last as long as the process */
  static ephemeral(): SecretVault {
    return new SecretVault(randomBytes(KEY_BYTES));
  }

  /** a new version, unless the data is what the current version holds (a redeploy must not restart every task) */
  async put(store: Store, namespace: string, name: string, data: Record<string, string>, now = Date.now()): Promise<SecretInfo & { unchanged?: boolean }> {
    const current = await store.sealedSecret(namespace, name);
    if (current && sameData(openSecret(this.key, { namespace, name, version: current.info.version }, current.sealed), data))
      return { ...current.info, unchanged: true };
    return store.putSecret(namespace, name, Object.keys(data), (version) => sealSecret(this.key, { namespace, name, version }, data), now);
  }

  /**
   * Key rotation: every secret that does not open with this vault's key but
   * does with `previous` is sealed again with this one. All or nothing; a
   * secret that opens with neither stops the start with its name.
   */
  async adopt(store: Store, previous: Buffer): Promise<number> {
    return store.resealSecrets((s) => {
      const ref = { namespace: s.info.namespace, name: s.info.name, version: s.info.version };
      try {
        openSecret(this.key, ref, s.sealed);
        return undefined;
      } catch {
        return sealSecret(this.key, ref, openSecret(previous, ref, s.sealed));
      }
    });
  }

  async forAlloc(store: Store, nodeId: string, allocId: string): Promise<AllocSecretsResponse> {
    const { namespace, found, missing } = await store.allocSecrets(nodeId, allocId);
    return {
      secrets: found.map((s) => ({
        name: s.info.name,
        version: s.info.version,
        data: openSecret(this.key, { namespace, name: s.info.name, version: s.info.version }, s.sealed),
      })),
      missing,
    };
  }
}

/**
 * The server's vault: the operator's key file, else `<dataDir>/secrets.key`
 * (made on first start). With `previousKeyFile`, secrets sealed with that key
 * are re-sealed with the current one first (rotating the key).
 */
export async function openServerVault(
  dataDir: string,
  keyFile: string | undefined,
  logger: Logger,
  store?: Store,
  previousKeyFile?: string,
): Promise<SecretVault> {
  const vault = await currentVault(dataDir, keyFile, logger);
  if (store && previousKeyFile) {
    const n = await vault.adopt(store, await loadKeyFile(previousKeyFile));
    logger.info({ resealed: n, previous: previousKeyFile }, 'secrets re-encrypted with the new key: the previous key file may be destroyed');
  }
  return vault;
}

async function currentVault(dataDir: string, keyFile: string | undefined, logger: Logger): Promise<SecretVault> {
  if (keyFile) return new SecretVault(await loadKeyFile(keyFile));
  const path = join(dataDir, KEY_FILE);
  const { key, created } = await ensureKeyFile(path);
  if (created) logger.info({ path }, 'created the secrets key (keep it with backups of the data directory, but apart from baton.db)');
  return new SecretVault(key);
}
