import { describe, expect, it } from 'vitest';
import type { Page } from '../api/types.js';
import { pages, parseLimit, printListing, type ListPage } from './paging.js';
import { memorySink } from './stream-out.fixture.js';

/** a server of `n` numbers answering pages of at most `limit` (and at most `max`) */
function server(n: number, max = 1000) {
  const calls: Array<{ cursor?: string; limit: number }> = [];
  const fetch = async (cursor: string | undefined, limit: number): Promise<Page<number>> => {
    calls.push({ ...(cursor ? { cursor } : {}), limit });
    const from = cursor ? Number(cursor) : 0;
    const to = Math.min(n, from + Math.min(limit, max));
    const items = Array.from({ length: to - from }, (_, i) => from + i);
    return to < n ? { items, next: String(to) } : { items };
  };
  return { fetch, calls };
}

async function all<T>(it: AsyncIterable<ListPage<T>>): Promise<Array<ListPage<T>>> {
  const out: Array<ListPage<T>> = [];
  for await (const p of it) out.push(p);
  return out;
}

describe('pages', () => {
  it('follows the cursor to the end: a small first page, then full ones', async () => {
    const s = server(2500);
    const got = await all(pages(s.fetch));
    expect(got.map((p) => [p.items.length, p.last])).toEqual([
      [100, false],
      [1000, false],
      [1000, false],
      [400, true],
    ]);
    expect(got.flatMap((p) => p.items)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(s.calls).toEqual([{ limit: 100 }, { cursor: '100', limit: 1000 }, { cursor: '1100', limit: 1000 }, { cursor: '2100', limit: 1000 }]);
  });
  it('asks for no more than --limit still wants, and stops there', async () => {
    const s = server(10_000);
    const got = await all(pages(s.fetch, { limit: 150 }));
    expect(got.map((p) => [p.items.length, p.last])).toEqual([
      [100, false],
      [50, true],
    ]);
    expect(s.calls.map((c) => c.limit)).toEqual([100, 50]);
    expect((await all(pages(server(10).fetch, { limit: 5 }))).map((p) => p.items)).toEqual([[0, 1, 2, 3, 4]]);
  });
  it('trims a page larger than asked for, and ends on an empty listing', async () => {
    const generous = async (): Promise<Page<number>> => ({ items: [1, 2, 3], next: 'x' });
    expect((await all(pages(generous, { limit: 2 }))).map((p) => p.items)).toEqual([[1, 2]]);
    expect(await all(pages(server(0).fetch))).toEqual([{ items: [], last: true }]);
  });
  it('refuses a cursor that does not move', async () => {
    const stuck = async (): Promise<Page<number>> => ({ items: [1], next: 'same' });
    await expect(all(pages(stuck))).rejects.toThrow('same page cursor twice');
  });
});

describe('printListing', () => {
  const view = () => ({ headers: ['N', 'SQUARE'], row: (n: number) => [n, n * n] });
  it('prints a table page by page with the header once', async () => {
    const sink = memorySink();
    const n = await printListing(sink, pages(server(150).fetch), { output: 'table', view });
    const lines = sink.text().trimEnd().split('\n');
    expect(n).toBe(150);
    expect(lines).toHaveLength(151);
    expect(lines[0]).toBe('N    SQUARE');
    expect(lines[150]).toBe('149   22201');
  });
  it('streams JSON that parses to every item', async () => {
    const sink = memorySink();
    await printListing(sink, pages(server(1234).fetch), { output: 'json', view });
    expect(JSON.parse(sink.text())).toEqual(Array.from({ length: 1234 }, (_, i) => i));
    const empty = memorySink();
    await printListing(empty, pages(server(0).fetch), { output: 'json', view });
    expect(empty.text()).toBe('[]\n');
  });
  it('prints no table when there is nothing to list, and chooses columns from the first page', async () => {
    const sink = memorySink();
    expect(await printListing(sink, pages(server(0).fetch), { output: 'table', view })).toBe(0);
    expect(sink.text()).toBe('');
    const seen: boolean[] = [];
    await printListing(memorySink(), pages(server(150).fetch), { output: 'table', view: (p) => (seen.push(p.last), view()) });
    expect(seen).toEqual([false]);
  });
});

describe('parseLimit', () => {
  it('takes whole numbers of 1 or more and explains anything else', () => {
    expect(parseLimit('5')).toBe(5);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) expect(() => parseLimit(bad)).toThrow('whole number of 1 or more');
  });
});
