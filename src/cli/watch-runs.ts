/**
 * `baton dispatch --wait`: follow the child jobs one dispatch made, through
 * the parent's run list, until every one of them has ended. Like watchJob it
 * polls, and rides out a short server restart.
 */
import type { RunRow } from '../api/types.js';
import type { BatonClient } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { isFinished, MAX_FAILED_LISTED } from '../jobs/run-summary.js';
import { MAX_UNREACHABLE, sleep } from './follow.js';
import { formatMap } from './output.js';
import { latestRuns, progressFromRuns, type ProgressCounts } from './progress.js';
import type { ProgressDisplay } from './progress-display.js';

export interface WatchRunsOptions {
  display: ProgressDisplay;
  intervalMs?: number;
  signal?: AbortSignal;
}

export interface WatchRunsResult {
  /** the last row seen of each watched run */
  rows: RunRow[];
  counts: ProgressCounts;
  /** every run complete */
  ok: boolean;
}


/** `  sim/dispatch-3f2a (scenario=3, seed=1) oom-killed: OOM killed at 2 GiB (peak 2 GiB)` */
export function failedRunLine(r: RunRow): string {
  const meta = Object.keys(r.meta).length ? ` (${formatMap(r.meta)})` : '';
  return `  ${r.jobId}${meta} ${r.outcome}${r.reason ? `: ${r.reason}` : ''}`;
}

export async function watchRuns(
  client: Pick<BatonClient, 'listRuns'>,
  parentId: string,
  namespace: string,
  jobIds: readonly string[],
  opts: WatchRunsOptions,
): Promise<WatchRunsResult> {
  const { display } = opts;
  const interval = opts.intervalMs ?? 500;
  let unreachable = 0;
  for (;;) {
    let rows: RunRow[];
    try {
      rows = latestRuns((await client.listRuns(parentId, namespace)).runs, jobIds);
      if (unreachable > 0) display.log('server is reachable again');
      unreachable = 0;
    } catch (err) {
      if (err instanceof BatonApiError && err.status === 0 && unreachable < MAX_UNREACHABLE) {
        if (unreachable === 0) display.log(`${err.message}; retrying`);
        unreachable++;
        await sleep(interval, opts.signal);
        continue;
      }
      throw err;
    }
    const counts = progressFromRuns(rows, jobIds);
    display.update(counts);
    if (counts.complete + counts.failed >= counts.total) {
      display.finish();
      const failed = rows.filter((r) => isFinished(r.outcome) && r.outcome !== 'complete');
      if (failed.length > 0) {
        display.log(`${failed.length} of ${counts.total} runs did not complete:`);
        for (const r of failed.slice(0, MAX_FAILED_LISTED)) display.log(failedRunLine(r));
        if (failed.length > MAX_FAILED_LISTED) {
          display.log(`  ... and ${failed.length - MAX_FAILED_LISTED} more; see \`baton job status ${parentId}\``);
        }
      }
      return { rows, counts, ok: counts.failed === 0 };
    }
    await sleep(interval, opts.signal);
  }
}
