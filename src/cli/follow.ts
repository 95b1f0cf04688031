/**
 * Watching a job until it is done, for `baton run --wait` and `baton dev`.
 * Polling (not a blocking query) keeps this independent of server internals;
 * 500 ms is quick enough for a person and cheap for the server.
 */
import type { Alloc, JobDetail, JobStatus, LogStream, PlacementFailure } from '../api/types.js';
import type { BatonClient } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { formatBytes } from '../spec/units.js';
import { shortId } from './output.js';

export interface FollowOptions {
  out: (line: string) => void;
  intervalMs?: number;
  /**
   * The eval created by the submit being watched: until the scheduler took it,
   * a terminal status belongs to the previous version and must not end the wait.
   */
  evalId?: string;
  /** the submitted version: older versions' status does not count */
  version?: number;
  signal?: AbortSignal;
  /**
   * Called with each poll's job instead of printing a counts line when they
   * change: a progress bar draws its own counts.
   */
  onProgress?: (detail: JobDetail) => void;
  /** called once before the lines that say how the wait ended, so a bar can stay above them */
  onEnd?: () => void;
}

const TERMINAL: readonly JobStatus[] = ['complete', 'failed', 'stopped'];
/** ~30 s of retries at the default interval: rides out a server restart, not an outage */
export const MAX_UNREACHABLE = 60;
const MAX_FAILED_SHOWN = 10;

/** waits ms; rejects with the signal's reason when it aborts (ends a follow on Ctrl-C) */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function evalTaken(detail: JobDetail, evalId: string | undefined): boolean {
  if (!evalId) return true;
  const ev = detail.evals.find((e) => e.id === evalId);
  // an eval missing from the recent list is an old one, long processed
  return !ev || ev.status !== 'pending';
}

function countsLine(detail: JobDetail): string {
  const c = detail.summary.allocs;
  const lost = c.lost > 0 ? `, ${c.lost} lost` : '';
  return `${detail.job.id}: ${c.pending} pending, ${c.running} running, ${c.complete} complete, ${c.failed} failed${lost}`;
}

/** Why an alloc failed in a few words: the description plus each failed task's exit. */
export function describeFailure(alloc: Alloc): string {
  const parts: string[] = [];
  if (alloc.clientDescription) parts.push(alloc.clientDescription);
  for (const [name, ts] of Object.entries(alloc.taskStates)) {
    if (!ts.failed) continue;
    if (ts.oomKilled) {
      parts.push(`task ${name} OOM killed${ts.peakMemory !== undefined ? ` (peak ${formatBytes(ts.peakMemory)})` : ''}`);
    } else if (ts.signal) {
      parts.push(`task ${name} killed by ${ts.signal}`);
    } else if (ts.exitCode !== undefined) {
      parts.push(`task ${name} exited with code ${ts.exitCode}`);
    } else {
      const last = ts.events[ts.events.length - 1];
      parts.push(`task ${name} failed${last ? `: ${last.message || last.type}` : ''}`);
    }
  }
  return parts.length ? parts.join('; ') : 'no reason given';
}

function reportFailures(detail: JobDetail, out: (line: string) => void): void {
  const failed = detail.allocs.filter((a) => a.clientStatus === 'failed' || a.clientStatus === 'lost');
  for (const a of failed.slice(0, MAX_FAILED_SHOWN)) {
    out(`  ${a.name} (alloc ${shortId(a.id)}, attempt ${a.attempt}) ${a.clientStatus}: ${describeFailure(a)}`);
  }
  if (failed.length > MAX_FAILED_SHOWN) out(`  ... and ${failed.length - MAX_FAILED_SHOWN} more; see \`baton job status ${detail.job.id}\``);
}

function neverFits(blocked: PlacementFailure[]): boolean {
  return blocked.length > 0 && blocked.every((b) => b.neverFits);
}

/**
 * How a wait ended: the job's own terminal status, `running` for a service job
 * whose allocs all run, `unplaceable` when no node could ever fit it.
 */
export type FollowOutcome = 'complete' | 'failed' | 'stopped' | 'running' | 'unplaceable';

export interface FollowResult {
  status: JobStatus;
  outcome: FollowOutcome;
  /** true for the outcomes a user waited for: complete, or a service fully running */
  ok: boolean;
}

/**
 * Poll the job and print its progress until it is complete, failed or stopped.
 * Resolves with the job's status at that point; see watchJob for the outcome.
 */
export async function followJob(client: Pick<BatonClient, 'getJob'>, jobId: string, namespace: string, opts: FollowOptions): Promise<JobStatus> {
  return (await watchJob(client, jobId, namespace, opts)).status;
}

/**
 * followJob with the outcome spelled out. A service job never completes, so it
 * counts as done once all its allocs run. When the only reasons it waits are
 * ones no node could ever satisfy, waiting is pointless and it stops.
 */
export async function watchJob(client: Pick<BatonClient, 'getJob'>, jobId: string, namespace: string, opts: FollowOptions): Promise<FollowResult> {
  const { out } = opts;
  const interval = opts.intervalMs ?? 500;
  let lastCounts = '';
  const shownBlocked = new Set<string>();
  let unreachable = 0;
  for (;;) {
    let detail: JobDetail;
    try {
      detail = await client.getJob(jobId, namespace);
      if (unreachable > 0) out('server is reachable again');
      unreachable = 0;
    } catch (err) {
      if (err instanceof BatonApiError && err.status === 0 && unreachable < MAX_UNREACHABLE) {
        if (unreachable === 0) out(`${err.message}; retrying`);
        unreachable++;
        await sleep(interval, opts.signal);
        continue;
      }
      throw err;
    }
    const { job, summary } = detail;
    const line = countsLine(detail);
    if (opts.onProgress) opts.onProgress(detail);
    else if (line !== lastCounts) {
      out(line);
      lastCounts = line;
    }
    const current = (opts.version === undefined || job.version >= opts.version) && evalTaken(detail, opts.evalId);
    const blocked = summary.blocked ?? [];

    if (current && TERMINAL.includes(job.status)) {
      opts.onEnd?.();
      if (job.status === 'failed') reportFailures(detail, out);
      out(`${job.id}: ${job.status}`);
      const outcome = job.status as 'complete' | 'failed' | 'stopped';
      return { status: job.status, outcome, ok: outcome === 'complete' };
    }

    const fresh = blocked.filter((b) => !shownBlocked.has(b.message));
    if (fresh.length > 0) {
      if (shownBlocked.size === 0) out(`${job.id}: waiting for capacity:`);
      for (const b of fresh) {
        out(`  ${b.message}`);
        shownBlocked.add(b.message);
      }
    }

    if (current && neverFits(blocked)) {
      opts.onEnd?.();
      out(`${job.id}: no node can ever fit this job as the cluster is now; not waiting (change the job or add nodes)`);
      return { status: job.status, outcome: 'unplaceable', ok: false };
    }
    if (current && job.spec.type === 'service' && blocked.length === 0 && summary.allocs.running >= job.spec.count && summary.allocs.pending === 0) {
      opts.onEnd?.();
      out(`${job.id}: all ${job.spec.count} running`);
      return { status: job.status, outcome: 'running', ok: true };
    }
    await sleep(interval, opts.signal);
  }
}

async function readWholeStream(client: Pick<BatonClient, 'readLogs'>, allocId: string, task: string, stream: LogStream): Promise<string> {
  let offset = 0;
  let text = '';
  // the server may answer in pages; stop when a page brings nothing new
  for (let page = 0; page < 10_000; page++) {
    const res = await client.readLogs(allocId, { task, stream, offset });
    text += res.data;
    if (res.data.length === 0 || res.nextOffset <= offset) break;
    offset = res.nextOffset;
  }
  return text;
}

/** Print every task's stdout and stderr of an alloc, each under a header; empty streams are skipped. */
export async function printAllocLogs(client: Pick<BatonClient, 'readLogs'>, alloc: Alloc, out: (line: string) => void): Promise<void> {
  for (const task of Object.keys(alloc.taskStates).sort()) {
    for (const stream of ['stdout', 'stderr'] as const) {
      const text = await readWholeStream(client, alloc.id, task, stream);
      if (text.length === 0) continue;
      out(`==> ${alloc.name} (alloc ${shortId(alloc.id)}) task ${task} ${stream} <==`);
      for (const line of text.replace(/\n$/, '').split('\n')) out(line);
    }
  }
}
