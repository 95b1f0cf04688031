/**
 * Listings the CLI reads page by page and prints as they come: the server
 * never answers with more than one page, and a sweep's million runs must
 * neither wait to be read in full nor sit in memory.
 */
import { InvalidArgumentError } from 'commander';
import type { Page } from '../api/types.js';
import { JsonArrayText, TableText, type Cell, type Sink } from './stream-out.js';

/** the server's largest page */
export const MAX_PAGE = 1000;
/** the first page is small so the first rows print at once */
export const FIRST_PAGE = 100;

export type FetchPage<T> = (cursor: string | undefined, limit: number) => Promise<Page<T>>;

export interface ListPage<T> {
  items: T[];
  /** no page follows */
  last: boolean;
}

/**
 * The pages of a listing, at most `limit` items in all (every item when
 * undefined). Each request asks for no more than is still wanted.
 */
export async function* pages<T>(fetch: FetchPage<T>, opts: { limit?: number; firstPage?: number; pageSize?: number } = {}): AsyncGenerator<ListPage<T>> {
  let left = opts.limit ?? Number.POSITIVE_INFINITY;
  let size = opts.firstPage ?? FIRST_PAGE;
  let cursor: string | undefined;
  while (left > 0) {
    const page = await fetch(cursor, Math.min(left, size));
    const items = page.items.length > left ? page.items.slice(0, left) : page.items;
    left -= items.length;
    const last = !page.next || left <= 0;
    // a server that hands back the cursor it was given would loop forever
    if (page.next !== undefined && page.next === cursor) throw new Error(`the server returned the same page cursor twice (${cursor})`);
    yield { items, last };
    if (last) return;
    cursor = page.next;
    size = opts.pageSize ?? MAX_PAGE;
  }
}

/** How a listing's rows look; chosen from the first page, since later pages cannot add columns. */
export interface TableView<T> {
  headers: string[];
  row: (item: T) => Cell[];
}

export interface ListingOptions<T> {
  output: 'table' | 'json';
  /** for tables: the columns, given the first page that has items */
  view: (first: ListPage<T>) => TableView<T>;
}

/**
 * Prints a listing as its pages arrive: a table (widths from the first page),
 * or a JSON array written item by item. Returns how many items it printed;
 * a table of none prints nothing, so the caller can say why there are none.
 */
export async function printListing<T>(sink: Sink, source: AsyncIterable<ListPage<T>>, opts: ListingOptions<T>): Promise<number> {
  if (opts.output === 'json') {
    const json = new JsonArrayText();
    await sink.write(json.open());
    for await (const page of source) await sink.write(page.items.map((x) => json.item(x)).join(''));
    await sink.write(json.close() + '\n');
    return json.count;
  }
  let table: TableText | undefined;
  let view: TableView<T> | undefined;
  let n = 0;
  for await (const page of source) {
    if (page.items.length === 0) continue;
    if (!view) {
      view = opts.view(page);
      table = new TableText(view.headers);
    }
    n += page.items.length;
    await sink.write(table!.page(page.items.map(view.row)));
  }
  return n;
}

/**
 * `--limit N`: a whole number of 1 or more. Commander calls it with the text
 * and reports its error as `option '--limit <n>' argument 'x' is invalid. ...`.
 */
export function parseLimit(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('give a whole number of 1 or more (e.g. --limit 50), or leave --limit out to list everything');
  }
  return n;
}
