import { describe, expect, it } from 'vitest';
import { CliError } from '../output.js';
import { collectData, parseSecretRef, secretRows } from './secret.js';

const io = (files: Record<string, string>, stdin = '') => ({
  readFile: async (p: string) => {
    if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return files[p];
  },
  readStdin: async () => stdin,
});

describe('baton secret', () => {
  it('reads NAMESPACE/NAME, a bare name being in default', () => {
    expect(parseSecretRef('team-a/db')).toEqual({ namespace: 'team-a', name: 'db' });
    expect(parseSecretRef('db')).toEqual({ namespace: 'default', name: 'db' });
    expect(() => parseSecretRef('a/b/c')).toThrow(/not NAMESPACE\/NAME/);
    expect(() => parseSecretRef('team-a/DB')).toThrow(/a secret name is lowercase/);
  });

  it('gathers values from pairs, files and stdin, naming what is wrong', async () => {
    expect(await collectData(['user=app', 'eq=a=b'], ['pw=/p'], 'key', io({ '/p': 's3cret\n' }, 'from-stdin'))).toEqual({
      user: 'app',
      eq: 'a=b',
      pw: 's3cret\n',
      key: 'from-stdin',
    });
    await expect(collectData(['novalue'], [], undefined, io({}))).rejects.toThrow(/not KEY=VALUE.*--from-file/);
    await expect(collectData([], ['pw=/missing'], undefined, io({}))).rejects.toThrow(/cannot read \/missing: ENOENT/);
    await expect(collectData(['a=1', 'a=2'], [], undefined, io({}))).rejects.toThrow(/given twice/);
    await expect(collectData(['../x=1'], [], undefined, io({}))).rejects.toThrow(CliError);
    await expect(collectData([], [], undefined, io({}))).rejects.toThrow(/at least one value/);
  });

  it('lists names, versions and keys only', () => {
    const now = Date.parse('2026-01-10T00:00:00Z');
    expect(
      secretRows(
        [
          {
            namespace: 'a',
            name: 'db',
            version: 3,
            keys: ['pw', 'user'],
            createdAt: '2026-01-09T00:00:00Z',
            updatedAt: '2026-01-09T00:00:00Z',
            readableBy: 'x',
          },
        ],
        now,
      ),
    ).toEqual([['a/db', '3', 'pw,user', '24h ago', 'namespace a tasks']]);
  });
});
