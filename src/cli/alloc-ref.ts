/**
 * What a person types for an alloc: its id or a unique id prefix (as the API
 * takes it), or its name as tables show it, `sim[3]`, or the name of a job
 * whose allocs all share one name (a job of count 1, its attempts included).
 * A name means the newest alloc of that name: the current attempt.
 */
import type { Alloc, AllocDetail } from '../api/types.js';
import type { BatonClient } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { CliError, naturalCompare } from './output.js';

const ALLOC_NAME = /^(?<job>[a-z0-9][a-z0-9._-]*)(?:\[(?<index>\d+)\])?$/;
/** the allocs read, newest first, to decide whether a job's allocs share one name */
const PAGE = 200;

export async function resolveAlloc(client: BatonClient, ref: string, namespace: string): Promise<AllocDetail> {
  const m = ALLOC_NAME.exec(ref);
  const named = m?.groups;
  // `sim[3]` is only a name; anything else may be an id (prefix), a job's name, or both
  let byId: AllocDetail | undefined;
  let idError: unknown;
  if (named?.index === undefined) {
    try {
      byId = await client.getAlloc(ref);
    } catch (err) {
      // 400: not an id (too short a prefix, or several match); 404: no alloc has it
      if (!(err instanceof BatonApiError) || (err.status !== 400 && err.status !== 404)) throw err;
      idError = err;
    }
  }
  if (!named || (byId && byId.id === ref)) {
    if (byId) return byId;
    throw idError;
  }
  const { job, index } = named;
  const page = await client.allocsPage({ namespace, jobId: job, newestFirst: true, limit: PAGE });
  if (page.items.length === 0) {
    if (byId) return byId;
    if (idError instanceof BatonApiError && idError.status === 400) throw idError;
    throw new CliError(
      `no alloc has the id "${ref}", and namespace ${namespace} has no job "${job}" with allocs: give an alloc id (baton alloc ls), or -n NAMESPACE`,
    );
  }
  if (byId) {
    throw new CliError(
      `"${ref}" starts the id of alloc ${byId.id} and names job ${job} too: give more of the id, or an alloc name such as '${page.items[0].name}'`,
    );
  }
  const found =
    index !== undefined
      ? await newestNamed(client, page.items, page.next, namespace, job, ref)
      : onlyName(page.items, !!page.next && (await client.getJob(job, namespace)).job.spec.count !== 1, job);
  return client.getAlloc(found.id);
}

/** a job of one alloc name: its newest alloc; several names need one of them. `more`: older allocs may have other names */
function onlyName(newestFirst: Alloc[], more: boolean, job: string): Alloc {
  const names = [...new Set(newestFirst.map((a) => a.name))].sort(naturalCompare);
  if (names.length === 1 && !more) return newestFirst[0];
  const shown = names.slice(0, 3).join(', ');
  throw new CliError(
    `job ${job} has ${more ? 'many' : names.length} allocs (${shown}${names.length > 3 || more ? ', ...' : ''}): name one, such as '${names[0]}', or give an alloc id`,
  );
}

async function newestNamed(client: BatonClient, first: Alloc[], cursor: string | undefined, namespace: string, job: string, name: string): Promise<Alloc> {
  let items = first;
  for (;;) {
    const hit = items.find((a) => a.name === name);
    if (hit) return hit;
    if (!cursor) throw new CliError(`job ${job} has no alloc ${name}: baton job status ${job} lists its allocs`);
    const page = await client.allocsPage({ namespace, jobId: job, newestFirst: true, limit: PAGE, cursor });
    items = page.items;
    cursor = page.next;
  }
}
