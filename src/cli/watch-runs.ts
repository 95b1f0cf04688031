/**
 * `baton dispatch --wait`: follow one dispatch (a sweep) until every one of
 * its runs has ended, through the totals the server keeps for it: one small
 * request per poll however many runs there are. At the end the failed runs
 * are read with the server's outcome filter (the first 20). Like watchJob it
 * polls, and rides out a short server restart.
 */
import type { PlacementFailure, RunOutcome, RunRow, RunStats } from '../api/types.js';
import type { BatonClient } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { FAILED_OUTCOMES, MAX_FAILED_LISTED } from '../jobs/run-summary.js';
import { MAX_UNREACHABLE, sleep } from './follow.js';
import { formatCount, formatMap } from './output.js';
import type { ProgressCounts } from './progress.js';
import type { ProgressDisplay } from './progress-display.js';
import { firstRunsWith } from './sweep-runs.js';
import { blockedLine } from './sweep-view.js';

export interface WatchRunsOptions {
  display: ProgressDisplay;
  intervalMs?: number;
  signal?: AbortSignal;
}

export interface WatchRunsResult {
  /** the sweep's totals when the wait ended */
  stats: RunStats;
  counts: ProgressCounts;
  /** the first runs that did not complete */
  failed: RunRow[];
  /** every run complete */
  ok: boolean;
}

/** the ends a --wait reports as not complete: the failures, and runs stopped before they ended */
export const NOT_COMPLETE: readonly RunOutcome[] = [...FAILED_OUTCOMES, 'stopped'];

/** `  sim/3f2a9c1e-3 (scenario=3, seed=1) oom-killed: OOM killed at 2 GiB (peak 2 GiB)` */
export function failedRunLine(r: RunRow): string {
  const meta = Object.keys(r.meta).length ? ` (${formatMap(r.meta)})` : '';
  return `  ${r.jobId}${meta} ${r.outcome}${r.reason ? `: ${r.reason}` : ''}`;
}

/** The progress bar's counts from a sweep's totals: every end other than complete counts as failed. */
export function progressFromStats(s: RunStats): ProgressCounts {
  return { total: s.total, queued: s.states.queued, running: s.states.running, complete: s.states.complete, failed: s.states.failed + s.states.stopped };
}

/** true when nothing runs, something waits, and no node could ever take it: waiting is pointless */
export function waitsInVain(s: RunStats, blocked: readonly PlacementFailure[] | undefined): boolean {
  return s.states.running === 0 && s.states.queued > 0 && !!blocked?.length && blocked.every((b) => b.neverFits);
}

export async function watchRuns(
  client: Pick<BatonClient, 'runsPage'>,
  parentId: string,
  namespace: string,
  sweepId: string,
  opts: WatchRunsOptions,
): Promise<WatchRunsResult> {
  const { display } = opts;
  const interval = opts.intervalMs ?? 500;
  const shownBlocked = new Set<string>();
  let unreachable = 0;
  for (;;) {
    let stats: RunStats;
    let blocked: PlacementFailure[] | undefined;
    try {
      // limit 1: the totals are what is wanted, not the rows
      const res = await client.runsPage(parentId, namespace, { sweepId, limit: 1 });
      if (!res.sweep) throw new BatonApiError(404, `the server sent no totals for sweep ${sweepId} of ${parentId}`);
      stats = res.sweep;
      blocked = res.job.blocked;
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
    const counts = progressFromStats(stats);
    display.update(counts);
    for (const b of blocked ?? []) {
      if (stats.states.queued === 0 || shownBlocked.has(b.message)) continue;
      shownBlocked.add(b.message);
      display.log(`waiting for capacity: ${blockedLine(b)}`);
    }
    const done = stats.finished >= stats.total;
    const hopeless = !done && waitsInVain(stats, blocked);
    if (done || hopeless) {
      display.finish();
      if (hopeless) {
        display.log(
          `no node can ever fit these runs as the cluster is now; not waiting (change the job or add nodes). ${formatCount(stats.states.queued)} runs stay queued.`,
        );
      }
      const failed = await firstRunsWith(client, parentId, namespace, stats, NOT_COMPLETE, { sweepId, limit: MAX_FAILED_LISTED });
      const notComplete = counts.failed;
      if (notComplete > 0) {
        display.log(`${formatCount(notComplete)} of ${formatCount(counts.total)} runs did not complete:`);
        for (const r of failed) display.log(failedRunLine(r));
        if (notComplete > failed.length) {
          display.log(`  ... and ${formatCount(notComplete - failed.length)} more; see \`baton job status ${parentId}\``);
        }
      }
      return { stats, counts, failed, ok: done && notComplete === 0 };
    }
    await sleep(interval, opts.signal);
  }
}
