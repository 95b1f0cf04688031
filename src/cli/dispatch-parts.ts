/**
 * Sending a sweep larger than one request takes (MAX_RUNS_PER_DISPATCH runs)
 * in parts. The first part makes the sweep; each later one names it and the
 * row it starts at, so a part sent again after a lost answer is recognised
 * (`repeated`) instead of stored twice, and may be retried safely.
 *
 * The parts are made from the plan one at a time, as they are sent: a
 * million runs never sit in memory together.
 */
import { randomUUID } from 'node:crypto';
import type { ApiErrorDetail, DispatchResponse, DispatchRun, Job } from '../api/types.js';
import type { BatonClient } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { MAX_RUNS_PER_DISPATCH, validateRuns } from '../jobs/dispatch.js';
import { sleep as abortableSleep } from './follow.js';
import { describeRunPath, type RunPlan } from './sweep.js';

export interface DispatchPart {
  /** the row of the part's first run in the whole sweep */
  offset: number;
  runs: DispatchRun[];
}

/** The plan's runs in parts of at most `size`, each made only when the one before has been let go. */
export function* dispatchParts(plan: RunPlan, payload: string | undefined, size = MAX_RUNS_PER_DISPATCH): Generator<DispatchPart> {
  for (let offset = 0; offset < plan.total; offset += size) {
    const end = Math.min(plan.total, offset + size);
    const runs = new Array<DispatchRun>(end - offset);
    for (let i = offset; i < end; i++) {
      const meta = plan.at(i).meta;
      runs[i - offset] = payload !== undefined ? { meta, payload } : { meta };
    }
    yield { offset, runs };
  }
}

export function partCount(total: number, size = MAX_RUNS_PER_DISPATCH): number {
  return Math.ceil(total / size);
}

/** `runs[3].meta.x` of a part → `runs[10003].meta.x`, and `run 4: ...` → `run 10,004: ...`, of the whole sweep */
function shiftDetail(d: ApiErrorDetail, offset: number): ApiErrorDetail {
  const m = /^runs\[(\d+)\](.*)$/.exec(d.path);
  if (!m) return d;
  const i = offset + Number(m[1]);
  return { ...d, path: `runs[${i}]${m[2]}`, message: d.message.replace(/^run \d+: /, '') };
}

/**
 * Every part checked against the parent's meta and payload rules, as the
 * server would, before the first is sent: once some parts are stored a bad
 * row further on could only stop the sweep half way. At most `max` problems,
 * named by their row in the whole sweep.
 */
export function checkParts(parent: Job, parts: Iterable<DispatchPart>, max = 100): ApiErrorDetail[] {
  const out: ApiErrorDetail[] = [];
  for (const part of parts) {
    for (const d of validateRuns(parent, part.runs)) {
      // a problem of the job itself (not parameterized) is the same for every part: once is enough
      if (!d.path.startsWith('runs[')) return [d];
      out.push(shiftDetail(d, part.offset));
      if (out.length >= max) return out;
    }
  }
  return out;
}

/** A 400 about `runs[12].meta.scenario` names the sweep row it came from instead. */
export function explainDispatchError(err: unknown, plan: Pick<RunPlan, 'total' | 'at'>, offset = 0): unknown {
  if (!(err instanceof BatonApiError) || err.details.length === 0) return err;
  const details = err.details.map((d) => {
    const shifted = shiftDetail(d, offset);
    return { ...shifted, path: describeRunPath(shifted.path, plan) };
  });
  // the message quotes the first problem: by the same name as its detail now
  const message = err.message.replace(`: ${err.details[0].path}: ${err.details[0].message}`, `: ${details[0].path}: ${details[0].message}`);
  return new BatonApiError(err.status, message, details);
}

/** how many times a part is tried in all before the dispatch gives up */
export const PART_ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 500;

/** An error the same request may not meet again: the server unreachable, or failing. */
export function isTransient(err: unknown): boolean {
  return err instanceof BatonApiError && (err.status === 0 || err.status >= 500);
}

export interface SendOptions {
  /** after each stored part: runs in the sweep so far, and the part's answer */
  onPart?: (stored: number, res: DispatchResponse) => void | Promise<void>;
  /** a line about a retry */
  log?: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
  attempts?: number;
  /** the sweep id the first part names (a new UUID unless a test says otherwise) */
  newSweepId?: () => string;
}

export interface SentSweep {
  sweepId: string;
  total: number;
  parts: number;
  /** the id of the first run, for the message of a single run */
  firstJob?: string;
}

/** Raised when a later part fails for good: the earlier parts are stored and will run. */
export class PartialDispatchError extends BatonApiError {
  constructor(
    cause: BatonApiError,
    readonly sweepId: string,
    readonly stored: number,
    readonly total: number,
  ) {
    const n = (x: number): string => x.toLocaleString('en-US');
    super(
      cause.status,
      `${cause.message}\nthe first ${n(stored)} runs (sweep ${sweepId.slice(0, 8)}) are stored and will run; runs ${n(stored + 1)} to ${n(total)} were not stored`,
      cause.details,
    );
    this.name = 'PartialDispatchError';
  }
}

/**
 * Sends the parts in order, each after the one before was stored. Every part,
 * the first one too, names the sweep (the first with an id picked here) and
 * its offset, so a part sent again after a lost answer is recognised by the
 * server instead of stored twice: a part that meets a transient error is
 * tried again (up to `attempts` times, with a growing pause).
 */
export async function sendSweep(
  client: Pick<BatonClient, 'dispatch'>,
  jobId: string,
  namespace: string,
  plan: RunPlan,
  parts: Iterable<DispatchPart>,
  opts: SendOptions = {},
): Promise<SentSweep> {
  const attempts = opts.attempts ?? PART_ATTEMPTS;
  const pause = opts.sleep ?? ((ms: number) => abortableSleep(ms));
  const newId = opts.newSweepId ?? randomUUID;
  let sweepId = newId();
  let stored = 0;
  let count = 0;
  let firstJob: string | undefined;
  for (const part of parts) {
    let res: DispatchResponse | undefined;
    for (let attempt = 1; !res; attempt++) {
      try {
        res = await client.dispatch(jobId, part.runs, namespace, { sweepId, offset: part.offset });
      } catch (err) {
        // one in billions: another sweep of the job has ids starting like this one's; nothing was stored
        if (part.offset === 0 && err instanceof BatonApiError && err.status === 409 && /is taken/.test(err.message) && attempt < attempts) {
          sweepId = newId();
          continue;
        }
        if (attempt < attempts && isTransient(err)) {
          const wait = FIRST_BACKOFF_MS * 2 ** (attempt - 1);
          opts.log?.(
            `${(err as Error).message}; sending runs ${part.offset + 1} to ${part.offset + part.runs.length} again in ${wait / 1000}s (try ${attempt + 1} of ${attempts})`,
          );
          await pause(wait);
          continue;
        }
        const explained = explainDispatchError(err, plan, part.offset);
        if (count > 0 && explained instanceof BatonApiError) throw new PartialDispatchError(explained, sweepId, stored, plan.total);
        throw explained;
      }
    }
    sweepId = res.sweepId;
    firstJob ??= res.jobs[0];
    stored = res.total;
    count++;
    await opts.onPart?.(stored, res);
  }
  if (count === 0) throw new Error('a dispatch of no runs');
  return { sweepId, total: stored, parts: count, ...(firstJob ? { firstJob } : {}) };
}
