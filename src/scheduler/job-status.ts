/**
 * A job's status and alloc counts, derived from its allocs with the same
 * per-index logic reconcile uses, so "failed" here means exactly "reconcile
 * will not place this index again".
 */
import type { Alloc, AllocCounts, Job, JobStatus } from '../api/types.js';
import { byIndex, decideIndex, isLive, isParentJob } from './reconcile.js';

export function allocCounts(allocs: readonly Alloc[]): AllocCounts {
  const c: AllocCounts = { pending: 0, running: 0, complete: 0, failed: 0, lost: 0 };
  for (const a of allocs) c[a.clientStatus]++;
  return c;
}

/**
 * `now` is accepted for callers that have a clock; the status does not depend on
 * it today (a retry waiting out its delay is 'pending' either way).
 */
export function computeJobStatus(job: Job, allocs: readonly Alloc[], _now?: number): JobStatus {
  if (job.stopped) return 'stopped';
  // A template is in force until stopped; how its runs went is its children's status.
  if (isParentJob(job.spec)) return 'running';
  const anyRunning = allocs.some((a) => a.clientStatus === 'running');
  // Services and system jobs never complete: they run until stopped.
  if (job.spec.type !== 'batch') return anyRunning ? 'running' : 'pending';

  const groups = byIndex(allocs);
  let complete = 0;
  let failed = 0;
  for (let index = 0; index < job.spec.count; index++) {
    const list = groups.get(index) ?? [];
    const current = list.filter((a) => a.jobVersion === job.version);
    if (current.some(isLive)) continue;
    const d = decideIndex(job, current);
    if (d.kind === 'complete') complete++;
    else if (d.kind === 'failed') failed++;
  }
  if (complete === job.spec.count) return 'complete';
  if (complete + failed === job.spec.count && failed > 0 && !allocs.some(isLive)) return 'failed';
  return anyRunning ? 'running' : 'pending';
}
