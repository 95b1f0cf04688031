/**
 * Opaque page cursors: the sort key of the last item a page held, so the next
 * page starts right after it. Keys never change once written (a run's seq, an
 * alloc's create index and id), so paging while things change state returns
 * every item exactly once.
 */
import { z } from 'zod';

export type CursorKey = Array<string | number>;

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

const keySchema = z
  .array(z.union([z.string().max(512), z.number().int()]))
  .min(1)
  .max(4);

/** The key of a cursor, or an error a user can act on (the cursor came from another listing, or was cut short). */
export function decodeCursor(cursor: string, shape: ReadonlyArray<'string' | 'number'>): CursorKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError();
  }
  const r = keySchema.safeParse(parsed);
  if (!r.success || r.data.length !== shape.length || r.data.some((v, i) => typeof v !== shape[i])) throw new CursorError();
  return r.data;
}

export class CursorError extends Error {
  readonly status = 400;
  constructor() {
    super('cursor is not one this listing returned: pass the "next" of the previous page unchanged, or leave it out to start over');
  }
}
