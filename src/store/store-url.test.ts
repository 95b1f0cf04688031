import { describe, expect, it } from 'vitest';
import { parseStoreUrl, StoreUrlError } from './store-url.js';

describe('parseStoreUrl', () => {
  it("defaults to the data directory's SQLite file", () => {
    expect(parseStoreUrl(undefined, '/d/baton.db')).toEqual({ kind: 'sqlite', file: '/d/baton.db' });
    expect(parseStoreUrl('  ', '/d/baton.db')).toEqual({ kind: 'sqlite', file: '/d/baton.db' });
  });

  it('reads sqlite:///absolute, sqlite://relative and sqlite:path', () => {
    expect(parseStoreUrl('sqlite:///var/lib/baton/baton.db', '')).toEqual({ kind: 'sqlite', file: '/var/lib/baton/baton.db' });
    expect(parseStoreUrl('sqlite://data/baton.db', '')).toEqual({ kind: 'sqlite', file: 'data/baton.db' });
    expect(parseStoreUrl('SQLITE:x.db', '')).toEqual({ kind: 'sqlite', file: 'x.db' });
    expect(() => parseStoreUrl('sqlite://', '')).toThrow(/no file/);
  });

  it('takes postgres:// and postgresql:// URLs with a database', () => {
    expect(parseStoreUrl('postgres://u:p@db.example:5432/baton', '')).toEqual({ kind: 'postgres', url: 'postgres://u:p@db.example:5432/baton' });
    expect(parseStoreUrl('postgresql://db/baton?sslmode=require', '')).toEqual({ kind: 'postgres', url: 'postgresql://db/baton?sslmode=require' });
  });

  it('says what is wrong and never prints the password', () => {
    const wrong = (u: string): string => {
      try {
        parseStoreUrl(u, '');
      } catch (err) {
        expect(err).toBeInstanceOf(StoreUrlError);
        return (err as Error).message;
      }
      throw new Error(`${u} was taken`);
    };
    expect(wrong('postgres://u:hunter2@db.example:5432')).toMatch(/postgres:\/\/u:\*\*\*@db.example:5432: no database name/);
    expect(wrong('postgres://u:hunter2@db.example:5432')).not.toContain('hunter2');
    expect(wrong('mysql://u:hunter2@db/x')).toMatch(/unknown store; use sqlite:\/\/\/path.*or postgres:\/\//);
    expect(wrong('mysql://u:hunter2@db/x')).not.toContain('hunter2');
    expect(wrong('postgres://u:hunter2@:99999/x')).not.toContain('hunter2');
  });
});
