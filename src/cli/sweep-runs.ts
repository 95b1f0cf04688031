/**
 * The few runs of a sweep worth printing (the failed ones), read with the
 * server's outcome filter: a handful of bounded requests however large the
 * sweep, never a download of all its runs.
 */
import type { RunOutcome, RunRow, RunStats } from '../api/types.js';
import type { BatonClient } from '../client/client.js';
import { MAX_FAILED_LISTED } from '../jobs/run-summary.js';

/**
 * The first `limit` runs (in submission order) that ended in one of
 * `outcomes`: one request per outcome the totals say has any.
 */
export async function firstRunsWith(
  client: Pick<BatonClient, 'runsPage'>,
  jobId: string,
  namespace: string,
  stats: Pick<RunStats, 'outcomes'>,
  outcomes: readonly RunOutcome[],
  opts: { sweepId?: string; limit?: number } = {},
): Promise<RunRow[]> {
  const limit = opts.limit ?? MAX_FAILED_LISTED;
  const wanted = outcomes.filter((o) => (stats.outcomes[o] ?? 0) > 0);
  const pages = await Promise.all(
    wanted.map((outcome) => client.runsPage(jobId, namespace, { outcome, limit, ...(opts.sweepId ? { sweepId: opts.sweepId } : {}) })),
  );
  return pages
    .flatMap((p) => p.runs)
    .sort((a, b) => a.index - b.index)
    .slice(0, limit);
}
