/**
 * Every run of a job written as it is read, page by page: `job status -o csv`
 * and `-o json`. A sweep of a million runs streams through in constant memory.
 */
import type { RunRow, RunsResponse } from '../api/types.js';
import type { BatonClient } from '../client/client.js';
import { csvHeader, csvLines, metaKeysOf } from '../jobs/run-summary.js';
import { MAX_PAGE, pages, type ListPage } from './paging.js';
import { JsonObjectText, type Sink } from './stream-out.js';

/** The runs of a job, page by page, as the server lists them (submission order for a sweep). */
export function runPages(client: Pick<BatonClient, 'runsPage'>, id: string, ns: string): AsyncGenerator<ListPage<RunRow>> {
  return pages(
    async (cursor, limit) => {
      const r = await client.runsPage(id, ns, { cursor, limit });
      return { items: r.runs, ...(r.next ? { next: r.next } : {}) };
    },
    { firstPage: MAX_PAGE },
  );
}

/**
 * `-o csv`: a header and one line per run, written page by page. The meta
 * columns are the parent's declared keys plus those of the first page: a
 * parameterized job's runs can have no others.
 */
export async function writeRunsCsv(
  sink: Sink,
  source: AsyncIterable<ListPage<RunRow>>,
  declared: readonly string[],
  warn: (line: string) => void,
): Promise<number> {
  let keys: string[] | undefined;
  let columns = new Set<string>();
  let n = 0;
  const dropped = new Set<string>();
  for await (const page of source) {
    if (!keys) {
      keys = metaKeysOf(page.items, declared);
      columns = new Set(keys);
      await sink.write(csvHeader(keys));
    }
    for (const r of page.items) {
      for (const k of Object.keys(r.meta)) {
        if (!columns.has(k) && !dropped.has(k)) {
          dropped.add(k);
          warn(`warning: meta key "${k}" (first in ${r.jobId}) is not a column: columns come from the job's declared meta and the first page of runs`);
        }
      }
    }
    n += page.items.length;
    await sink.write(csvLines(page.items, keys));
  }
  if (!keys) await sink.write(csvHeader(declared));
  return n;
}

/**
 * `-o json` of a job with runs: the shape of GET /v1/jobs/:id/runs (`job`,
 * the summary with the sweep's totals, then `runs`) with every page's runs
 * in one array, written as they arrive.
 */
export async function writeRunsJson(sink: Sink, client: Pick<BatonClient, 'runsPage'>, id: string, ns: string): Promise<number> {
  const first = await client.runsPage(id, ns, { limit: MAX_PAGE });
  const o = new JsonObjectText();
  const head = o.open() + o.field('job', first.job);
  const { text, array } = o.arrayField('runs');
  await sink.write(head + text + array.open());
  let page: RunsResponse = first;
  for (;;) {
    await sink.write(page.runs.map((r) => array.item(r)).join(''));
    if (!page.next) break;
    page = await client.runsPage(id, ns, { limit: MAX_PAGE, cursor: page.next });
  }
  await sink.write(array.close() + o.close() + '\n');
  return array.count;
}
