import { mkdtemp, readFile, stat, symlink, writeFile, mkdir, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AllocSecretsCache, changedSecrets, MissingSecretError, pickSecrets, secretsForStart, writeSecrets } from './secrets.js';

describe('agent secrets', () => {
  const answer = { secrets: [{ name: 'db', version: 2, data: { url: 'u', pw: 'p' } }], missing: ['nope'] };

  it('picks what a task names, naming a missing secret or key and how to put it', () => {
    expect(pickSecrets('team-a', [{ name: 'db', changeMode: 'restart' }], answer).get('db')).toEqual({ url: 'u', pw: 'p' });
    expect(() => pickSecrets('team-a', [{ name: 'nope', changeMode: 'restart' }], answer)).toThrow(
      /secret team-a\/nope not found: create it with baton secret put team-a\/nope/,
    );
    expect(() => pickSecrets('team-a', [{ name: 'db', env: { X: 'other' }, changeMode: 'restart' }], answer)).toThrow(MissingSecretError);
    expect(() => pickSecrets('team-a', [{ name: 'db', file: '/run/secrets/db', changeMode: 'restart' }], answer)).toThrow(/say which key/);
  });

  it('gives env vars and docker binds', () => {
    const values = pickSecrets('a', [{ name: 'db', env: { DB_URL: 'url' }, file: '/run/secrets/db', key: 'pw', changeMode: 'restart' }], answer);
    const s = secretsForStart('/t/secrets', [{ name: 'db', env: { DB_URL: 'url' }, file: '/run/secrets/db', key: 'pw', changeMode: 'restart' }], values, true);
    expect(s.env).toEqual({ DB_URL: 'u' });
    expect(s.volumes).toEqual([
      { name: 'secrets', hostPath: '/t/secrets', destination: '/secrets', readOnly: true },
      { name: 'secret-db', hostPath: '/t/secrets/db/pw', destination: '/run/secrets/db', readOnly: true },
    ]);
  });

  it('writes 0400 files, drops keys gone in the new version, and never writes through a link the task left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-sec-'));
    const outside = join(dir, 'outside');
    await writeFile(outside, 'host file');
    const secrets = join(dir, 'secrets');
    await mkdir(secrets, { mode: 0o700 });
    await writeSecrets(secrets, new Map([['db', { url: 'u1', old: 'x' }]]));
    expect((await stat(join(secrets, 'db', 'url'))).mode & 0o777).toBe(0o400);
    await symlink(outside, join(secrets, 'db', 'pw'));
    await writeSecrets(secrets, new Map([['db', { url: 'u2', pw: 'p2' }]]));
    expect(await readFile(outside, 'utf8')).toBe('host file');
    expect((await lstat(join(secrets, 'db', 'pw'))).isFile()).toBe(true);
    expect(await readFile(join(secrets, 'db', 'url'), 'utf8')).toBe('u2');
    await expect(stat(join(secrets, 'db', 'old'))).rejects.toThrow();
  });

  it('acts on new versions only, not on a deleted secret', () => {
    expect([...changedSecrets('a@1,db@2', 'a@1,db@3')]).toEqual(['db']);
    expect([...changedSecrets('a@1,db@2', 'a@1,db@0')]).toEqual([]);
    expect([...changedSecrets(undefined, 'db@1')]).toEqual(['db']);
  });

  it('fetches once per stamp and again after a failure', async () => {
    let calls = 0;
    const cache = new AllocSecretsCache(async () => {
      calls++;
      if (calls === 2) throw new Error('down');
      return answer;
    });
    await cache.get('db@1');
    await cache.get('db@1');
    expect(calls).toBe(1);
    await expect(cache.get('db@2')).rejects.toThrow('down');
    await cache.get('db@2');
    expect(calls).toBe(3);
  });
});
