import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../store/sqlite/backend.js';
import { Store } from '../store/store.js';
import { createLogger } from '../util/logger.js';
import { openServerVault, SecretVault } from './vault.js';

describe('secret vault', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-vault-'));
    store = await Store.open(openSqlite(join(dir, 'baton.db')), { logCapBytes: 1 << 20 });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps values out of the database file and does not bump the version for the same data', async () => {
    const vault = await openServerVault(dir, undefined, createLogger('silent', 'test'));
    const a = await vault.put(store, 'ns', 'db', { pw: 'plain-text-value-1' });
    const b = await vault.put(store, 'ns', 'db', { pw: 'plain-text-value-1' });
    expect([a.version, b.version, b.unchanged]).toEqual([1, 1, true]);
    for (const f of ['baton.db', 'baton.db-wal']) {
      const bytes = await readFile(join(dir, f)).catch(() => Buffer.alloc(0));
      expect(bytes.includes(Buffer.from('plain-text-value-1'))).toBe(false);
    }
    expect((await readFile(join(dir, 'secrets.key'), 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('re-seals every secret with a new key given the previous one, and the old key no longer opens them', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const old = new SecretVault(oldKey);
    await old.put(store, 'ns', 'a', { k: 'va' });
    await old.put(store, 'other', 'b', { k: 'vb' });
    await writeFile(join(dir, 'old.key'), oldKey.toString('hex'), { mode: 0o600 });
    await writeFile(join(dir, 'new.key'), newKey.toString('hex'), { mode: 0o600 });
    const rotated = await openServerVault(dir, join(dir, 'new.key'), createLogger('silent', 'test'), store, join(dir, 'old.key'));
    // the same data answers unchanged: it opened with the new key
    expect((await rotated.put(store, 'ns', 'a', { k: 'va' })).unchanged).toBe(true);
    await expect(old.put(store, 'ns', 'a', { k: 'va' })).rejects.toThrow(/secrets key is not the one it was stored with/);
    // a second start with the same files re-seals nothing
    expect(await rotated.adopt(store, oldKey)).toBe(0);
    // a wrong previous key stops the rotation with the secret's name
    await expect(new SecretVault(randomBytes(32)).adopt(store, randomBytes(32))).rejects.toThrow(/secret ns\/a v1 cannot be decrypted/);
  });
});
