/**
 * The server's secrets key lives in a file, never in the database: a copy of
 * baton.db (a backup, a dump) alone does not reveal any secret. Created on
 * first start in the data directory with mode 0600, or named by the operator
 * with --secrets-key-file (then it must exist).
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { KEY_BYTES, SecretKeyError } from './crypto.js';

export const KEY_FILE = 'secrets.key';

/** the key file holds the key as 64 hex digits (a newline allowed) */
export function parseKeyFile(text: string, path: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new SecretKeyError(`${path}: a secrets key file holds 64 hex digits (32 bytes), e.g. from "openssl rand -hex 32"`);
  return Buffer.from(hex, 'hex');
}

export async function loadKeyFile(path: string): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SecretKeyError(`cannot read the secrets key file ${path}: ${(err as Error).message}`);
  }
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) throw new SecretKeyError(`${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${path}`);
  return parseKeyFile(text, path);
}

/** the key in `path`, made (0600, exclusive create) when there is none yet */
export async function ensureKeyFile(path: string): Promise<{ key: Buffer; created: boolean }> {
  try {
    await writeFile(path, randomBytes(KEY_BYTES).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    return { key: await loadKeyFile(path), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return { key: await loadKeyFile(path), created: false };
}
