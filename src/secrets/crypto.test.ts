import { mkdtemp, chmod, writeFile, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSecret, sealSecret, SecretKeyError } from './crypto.js';
import { ensureKeyFile, loadKeyFile } from './key-file.js';

const ref = { namespace: 'team-a', name: 'db', version: 3 };

describe('secret crypto', () => {
  it('opens what it sealed, and the blob does not hold the value in clear', () => {
    const key = randomBytes(32);
    const sealed = sealSecret(key, ref, { url: 'postgres://u:hunter2@db' });
    expect(sealed).not.toContain('hunter2');
    expect(Buffer.from(sealed.slice(3), 'base64').toString('latin1')).not.toContain('hunter2');
    expect(openSecret(key, ref, sealed)).toEqual({ url: 'postgres://u:hunter2@db' });
  });

  it('uses a fresh nonce each time', () => {
    const key = randomBytes(32);
    expect(sealSecret(key, ref, { a: 'b' })).not.toBe(sealSecret(key, ref, { a: 'b' }));
  });

  it('refuses a tampered blob', () => {
    const key = randomBytes(32);
    const raw = Buffer.from(sealSecret(key, ref, { a: 'value' }).slice(3), 'base64');
    raw[14] ^= 1;
    expect(() => openSecret(key, ref, 'v1.' + raw.toString('base64'))).toThrow(SecretKeyError);
  });

  it('refuses a blob moved to another namespace, name or version', () => {
    const key = randomBytes(32);
    const sealed = sealSecret(key, ref, { a: 'value' });
    expect(() => openSecret(key, { ...ref, namespace: 'team-b' }, sealed)).toThrow(/cannot be decrypted/);
    expect(() => openSecret(key, { ...ref, name: 'other' }, sealed)).toThrow(/cannot be decrypted/);
    expect(() => openSecret(key, { ...ref, version: 2 }, sealed)).toThrow(/cannot be decrypted/);
  });

  it('says the key is wrong with the wrong key', () => {
    const sealed = sealSecret(randomBytes(32), ref, { a: 'value' });
    expect(() => openSecret(randomBytes(32), ref, sealed)).toThrow(/secrets key is not the one it was stored with/);
  });

  it('refuses a key of the wrong size', () => {
    expect(() => sealSecret(randomBytes(16), ref, {})).toThrow(/32 bytes/);
  });
});

describe('secrets key file', () => {
  it('is created once with mode 0600 and read back the same', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-key-'));
    const path = join(dir, 'secrets.key');
    const first = await ensureKeyFile(path);
    expect(first.created).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const again = await ensureKeyFile(path);
    expect(again.created).toBe(false);
    expect(again.key.equals(first.key)).toBe(true);
    expect((await readFile(path, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a key file others can read, or one that is not 64 hex digits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-key-'));
    const path = join(dir, 'k');
    await writeFile(path, 'ab'.repeat(32), { mode: 0o600 });
    await chmod(path, 0o644);
    await expect(loadKeyFile(path)).rejects.toThrow(/chmod 600/);
    await writeFile(path, 'not a key');
    await chmod(path, 0o600);
    await expect(loadKeyFile(path)).rejects.toThrow(/64 hex digits/);
    await expect(loadKeyFile(join(dir, 'missing'))).rejects.toThrow(/cannot read the secrets key file/);
  });
});
