import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteDb as openSqlite } from './connect.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openSqlite statement cache', () => {
  it('reuses a statement without reusing its results, and keeps working past the cache size', async () => {
    const db = openSqlite(join(dir, 'a.db'));
    await sql`create table t (k integer primary key, v text)`.execute(db);
    const read = () => sql<{ v: string }>`select v from t order by k`.execute(db).then((r) => r.rows.map((x) => x.v));
    expect(await read()).toEqual([]);
    await sql`insert into t (k, v) values (${1}, ${'one'})`.execute(db);
    expect(await read()).toEqual(['one']);
    await sql`insert into t (k, v) values (${2}, ${'two'})`.execute(db);
    expect(await read()).toEqual(['one', 'two']);
    // 600 distinct statements: the oldest are dropped and prepared again when asked for
    for (let i = 0; i < 600; i++) {
      const r = await sql<{ n: number }>`select ${sql.lit(i)} + count(*) as n from t`.execute(db);
      expect(r.rows[0].n).toBe(i + 2);
    }
    expect(await read()).toEqual(['one', 'two']);
    await db.destroy();
  });
});
