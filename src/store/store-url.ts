/**
 * Where the state lives, as `baton server --store` spells it:
 * `sqlite:///var/lib/baton/baton.db` (the default: <data-dir>/baton.db) or
 * `postgres://user:pass@host:5432/db` (several servers on one database).
 */
export type StoreLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

export class StoreUrlError extends Error {}

export function parseStoreUrl(url: string | undefined, defaultFile: string): StoreLocation {
  if (url === undefined || url.trim() === '') return { kind: 'sqlite', file: defaultFile };
  const u = url.trim();
  if (/^postgres(ql)?:\/\//i.test(u)) {
    try {
      const parsed = new URL(u);
      if (!parsed.hostname && !parsed.searchParams.get('host')) throw new Error('no host');
      if (parsed.pathname.length <= 1)
        throw new StoreUrlError(`--store ${redact(u)}: no database name; add it as the path, e.g. postgres://baton@db.example:5432/baton`);
    } catch (err) {
      if (err instanceof StoreUrlError) throw err;
      throw new StoreUrlError(`--store ${redact(u)} is not a PostgreSQL URL; expected postgres://user:password@host:5432/database`);
    }
    return { kind: 'postgres', url: u };
  }
  if (/^sqlite:/i.test(u)) {
    // sqlite:///abs/path and sqlite://rel/path as in SQLAlchemy and dbmate; sqlite:path too
    const file = u.replace(/^sqlite:(\/\/)?/i, '');
    if (!file) throw new StoreUrlError(`--store ${u}: no file; e.g. sqlite:///var/lib/baton/baton.db`);
    return { kind: 'sqlite', file };
  }
  throw new StoreUrlError(
    `--store ${redact(u)}: unknown store; use sqlite:///path/to/baton.db (the default, one server) or postgres://user:password@host/database (several servers)`,
  );
}

function redact(u: string): string {
  return u.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
}
