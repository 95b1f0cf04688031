/**
 * Progress of a wait (`run --wait`, `dispatch --wait`) as text: a one-line bar
 * for terminals and a plain line for logs. Pure: state in, string out; the
 * clock is part of the state so tests need no terminal and no timers.
 */
import type { Alloc, JobDetail } from '../api/types.js';
import { formatDuration } from '../spec/units.js';

export interface ProgressCounts {
  total: number;
  queued: number;
  running: number;
  complete: number;
  /** every end other than complete: failed, OOM-killed, timed out, lost, stopped */
  failed: number;
}

export interface ProgressState extends ProgressCounts {
  /** what is being waited for: a job id or `sweep 3f2a9c1e` */
  label: string;
  /** ms since epoch */
  startedAt: number;
  now: number;
}

export function doneCount(c: ProgressCounts): number {
  return c.complete + c.failed;
}

/** ms left at the completion rate seen so far; undefined until something finished or once all did. */
export function etaMs(s: ProgressState): number | undefined {
  const done = doneCount(s);
  const elapsed = s.now - s.startedAt;
  if (done === 0 || done >= s.total || elapsed <= 0) return undefined;
  return ((s.total - done) * elapsed) / done;
}

/** whole seconds and up: milliseconds would flicker on every redraw */
function clock(ms: number): string {
  return ms < 1000 ? '0s' : formatDuration(ms);
}

function percent(c: ProgressCounts): number {
  return c.total > 0 ? Math.floor((100 * doneCount(c)) / c.total) : 100;
}

// digits grouped: a sweep's counts run into the millions
const n = (x: number): string => x.toLocaleString('en-US');

function countsText(c: ProgressCounts): string {
  return `${n(c.queued)} queued, ${n(c.running)} running, ${n(c.complete)} complete, ${n(c.failed)} failed`;
}

/** The plain form, one per change for logs and pipes: no clock in it, so it changes only when counts do. */
export function renderProgressLine(s: ProgressState): string {
  return `${s.label}: ${countsText(s)} (${n(doneCount(s))}/${n(s.total)} done)`;
}

/**
 * The terminal form, e.g.
 * `sweep 3f2a9c1e [########------------] 42% 210/500  100 queued, 50 running, 200 complete, 10 failed  3m20s, ETA 4m35s`.
 * Never wider than `width - 1`: a line that wraps cannot be redrawn in place with \r.
 */
export function renderProgressBar(s: ProgressState, width = 80): string {
  const done = doneCount(s);
  const pct = percent(s);
  const eta = etaMs(s);
  const etaText = eta === undefined ? '' : `, ETA ${eta < 1000 ? '<1s' : clock(eta)}`;
  const time = `${clock(Math.max(0, s.now - s.startedAt))}${etaText}`;
  const tail = ` ${pct}% ${n(done)}/${n(s.total)}  ${countsText(s)}  ${time}`;
  const max = Math.max(10, width - 1);
  const room = max - s.label.length - tail.length - 3;
  let line: string;
  if (room >= 10) {
    const barWidth = Math.min(30, room);
    const filled = s.total > 0 ? Math.round((barWidth * done) / s.total) : barWidth;
    line = `${s.label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${tail}`;
  } else {
    line = `${s.label}${tail}`;
  }
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

// ---------------------------------------------------------------- counts from what the server says

/**
 * Counts over the alloc indexes of one job: the newest attempt of each index
 * tells where it is, so a failed attempt that was retried is not a failure.
 * An index without an alloc yet is queued.
 */
export function progressFromJob(detail: JobDetail): ProgressCounts {
  const total = detail.job.spec.count;
  const newest = new Map<number, Alloc>();
  for (const a of detail.allocs) {
    if (a.jobVersion !== detail.job.version) continue;
    const prev = newest.get(a.index);
    if (!prev || a.attempt > prev.attempt || (a.attempt === prev.attempt && a.createIndex > prev.createIndex)) newest.set(a.index, a);
  }
  const c: ProgressCounts = { total, queued: 0, running: 0, complete: 0, failed: 0 };
  for (let i = 0; i < total; i++) {
    const a = newest.get(i);
    if (!a || a.clientStatus === 'pending') c.queued++;
    else if (a.clientStatus === 'running') c.running++;
    else if (a.clientStatus === 'complete') c.complete++;
    // a lost alloc is replaced, so it waits again rather than failed
    else if (a.clientStatus === 'lost' && detail.job.status !== 'failed') c.queued++;
    else c.failed++;
  }
  return c;
}
