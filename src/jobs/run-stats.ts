/**
 * The running totals of a sweep: how many runs are in each state and outcome,
 * and histograms of how long finished runs took and how much memory they
 * peaked at. The store changes them by delta in the same write that changes a
 * run (a run leaves one state and enters another), so a sweep of a million
 * runs is summarised without reading its runs. Pure.
 *
 * Histograms have 16 buckets per doubling: a quantile read from one is within
 * 2.2% of a value some run really had (the bucket's geometric middle, clamped
 * to the exact min and max).
 */
import type { ApproxQuantiles, JobStatus, RunOutcome, RunRow, RunState, RunStats } from '../api/types.js';

const PER_OCTAVE = 16;

/** Sparse: bucket number → count. Bucket 0 holds zeros (and negatives). */
export interface Histogram {
  buckets: Record<string, number>;
  n: number;
  min?: number;
  max?: number;
}

/** What is stored per sweep (and per parent, over all its sweeps). */
export interface StoredRunStats {
  total: number;
  states: Record<RunState, number>;
  outcomes: Partial<Record<RunOutcome, number>>;
  duration: Histogram;
  durationSum: number;
  peak: Histogram;
  /** memory limits of OOM-killed runs, for the "raise memory" hint */
  oomLimitMin?: number;
  oomLimitMax?: number;
  firstStartedAt?: string;
  lastFinishedAt?: string;
}

/** What one run contributes to the totals. */
export interface RunFacts {
  state: RunState;
  outcome: RunOutcome;
  /** only for finished runs */
  durationMs?: number;
  peakMemory?: number;
  memoryLimit?: number;
  startedAt?: string;
  finishedAt?: string;
}

export const RUN_STATES: readonly RunState[] = ['queued', 'running', 'complete', 'failed', 'stopped'];

export function emptyStats(): StoredRunStats {
  return {
    total: 0,
    states: { queued: 0, running: 0, complete: 0, failed: 0, stopped: 0 },
    outcomes: {},
    duration: { buckets: {}, n: 0 },
    durationSum: 0,
    peak: { buckets: {}, n: 0 },
  };
}

export function bucketOf(v: number): number {
  return v <= 0 ? 0 : Math.floor(Math.log2(v) * PER_OCTAVE) + 1;
}

/** the geometric middle of a bucket */
export function bucketValue(b: number): number {
  return b === 0 ? 0 : 2 ** ((b - 1 + 0.5) / PER_OCTAVE);
}

function histAdd(h: Histogram, v: number, sign: 1 | -1): void {
  const key = String(bucketOf(v));
  const n = (h.buckets[key] ?? 0) + sign;
  if (n > 0) h.buckets[key] = n;
  else delete h.buckets[key];
  h.n = Math.max(0, h.n + sign);
  // min and max are of every value ever added: a removed value (a finished run started again) may have been either
  if (sign > 0) {
    h.min = h.min === undefined ? v : Math.min(h.min, v);
    h.max = h.max === undefined ? v : Math.max(h.max, v);
  }
  if (h.n === 0) {
    delete h.min;
    delete h.max;
  }
}

/** Nearest rank over the buckets, like `quantile` in run-summary.ts over values. */
export function histQuantiles(h: Histogram): ApproxQuantiles | undefined {
  if (h.n === 0 || h.min === undefined || h.max === undefined) return undefined;
  const keys = Object.keys(h.buckets)
    .map(Number)
    .sort((a, b) => a - b);
  const clamp = (v: number): number => Math.min(h.max!, Math.max(h.min!, v));
  const at = (q: number): number => {
    const rank = Math.min(h.n, Math.max(1, Math.ceil(q * h.n)));
    let seen = 0;
    for (const k of keys) {
      seen += h.buckets[String(k)];
      if (seen >= rank) return clamp(bucketValue(k));
    }
    return h.max!;
  };
  return { p50: at(0.5), p90: at(0.9), p95: at(0.95), min: h.min, max: h.max, n: h.n };
}

/** A run leaves `before` (undefined: it is new) and enters `after` (undefined: it is gone). */
export function applyRunChange(s: StoredRunStats, before: RunFacts | undefined, after: RunFacts | undefined): void {
  if (before) change(s, before, -1);
  if (after) change(s, after, 1);
}

function change(s: StoredRunStats, f: RunFacts, sign: 1 | -1): void {
  s.states[f.state] = Math.max(0, s.states[f.state] + sign);
  const o = Math.max(0, (s.outcomes[f.outcome] ?? 0) + sign);
  if (o > 0) s.outcomes[f.outcome] = o;
  else delete s.outcomes[f.outcome];
  if (f.state === 'queued' || f.state === 'running') return;
  if (f.durationMs !== undefined) {
    histAdd(s.duration, f.durationMs, sign);
    s.durationSum = Math.max(0, s.durationSum + sign * f.durationMs);
  }
  if (f.peakMemory !== undefined) histAdd(s.peak, f.peakMemory, sign);
  if (sign > 0) {
    if (f.outcome === 'oom-killed' && f.memoryLimit !== undefined) {
      s.oomLimitMin = s.oomLimitMin === undefined ? f.memoryLimit : Math.min(s.oomLimitMin, f.memoryLimit);
      s.oomLimitMax = s.oomLimitMax === undefined ? f.memoryLimit : Math.max(s.oomLimitMax, f.memoryLimit);
    }
    if (f.startedAt && (!s.firstStartedAt || f.startedAt < s.firstStartedAt)) s.firstStartedAt = f.startedAt;
    if (f.finishedAt && (!s.lastFinishedAt || f.finishedAt > s.lastFinishedAt)) s.lastFinishedAt = f.finishedAt;
  }
}

/** `a` plus (sign 1) or minus (sign -1) every count of `b`: a parent's totals gaining or losing a sweep. */
function combine(a: StoredRunStats, b: StoredRunStats, sign: 1 | -1): StoredRunStats {
  const out = structuredClone(a);
  out.total = Math.max(0, out.total + sign * b.total);
  for (const st of RUN_STATES) out.states[st] = Math.max(0, out.states[st] + sign * b.states[st]);
  for (const [k, v] of Object.entries(b.outcomes) as Array<[RunOutcome, number]>) {
    const n = (out.outcomes[k] ?? 0) + sign * v;
    if (n > 0) out.outcomes[k] = n;
    else delete out.outcomes[k];
  }
  for (const [h, hb] of [
    [out.duration, b.duration],
    [out.peak, b.peak],
  ] as const) {
    for (const [k, v] of Object.entries(hb.buckets)) {
      const n = (h.buckets[k] ?? 0) + sign * v;
      if (n > 0) h.buckets[k] = n;
      else delete h.buckets[k];
    }
    h.n = Math.max(0, h.n + sign * hb.n);
    if (sign > 0 && hb.min !== undefined) h.min = h.min === undefined ? hb.min : Math.min(h.min, hb.min);
    if (sign > 0 && hb.max !== undefined) h.max = h.max === undefined ? hb.max : Math.max(h.max, hb.max);
    if (h.n === 0) {
      delete h.min;
      delete h.max;
    }
  }
  out.durationSum = Math.max(0, out.durationSum + sign * b.durationSum);
  return out;
}

export function mergeStats(a: StoredRunStats, b: StoredRunStats): StoredRunStats {
  return combine(a, b, 1);
}

/** what is left of `a` without `b` (a sweep collected away from its parent's totals); min and max stay as they were */
export function subtractStats(a: StoredRunStats, b: StoredRunStats): StoredRunStats {
  return combine(a, b, -1);
}

/** The run's state as a sweep counts it: from the child job's status, which already knows about retries. */
export function runState(status: JobStatus): RunState {
  return status === 'pending' ? 'queued' : status;
}

/**
 * The facts of one run from its row (RunRow, told from its latest alloc) and
 * its job status. A run whose alloc failed but that will be retried is queued,
 * not failed; one that ended is only ever one of the finished outcomes.
 */
export function runFacts(
  status: JobStatus,
  row: Pick<RunRow, 'outcome' | 'durationMs' | 'peakMemory' | 'memoryLimit' | 'startedAt' | 'finishedAt'> & { allocId?: string },
): RunFacts {
  let state = runState(status);
  // placed on a node but not started there yet: it has left the queue
  if (state === 'queued' && (row.outcome === 'running' || (row.outcome === 'queued' && row.allocId !== undefined))) state = 'running';
  let outcome: RunOutcome;
  if (state === 'queued') outcome = row.outcome === 'preempted' ? 'preempted' : 'queued';
  else if (state === 'running') outcome = 'running';
  else if (state === 'complete') outcome = 'complete';
  else if (state === 'stopped') outcome = 'stopped';
  else outcome = ['failed', 'oom-killed', 'timed-out', 'lost'].includes(row.outcome) ? row.outcome : 'failed';
  const f: RunFacts = { state, outcome };
  if (row.startedAt) f.startedAt = row.startedAt;
  if (state !== 'queued' && state !== 'running') {
    if (row.durationMs !== undefined) f.durationMs = row.durationMs;
    if (row.peakMemory !== undefined) f.peakMemory = row.peakMemory;
    if (row.memoryLimit !== undefined) f.memoryLimit = row.memoryLimit;
    if (row.finishedAt) f.finishedAt = row.finishedAt;
  }
  return f;
}

/**
 * The stats as the API shows them. The estimate assumes the pace of now: the
 * runs left, each taking the mean duration so far, spread over the runs
 * running now.
 */
export function publicStats(s: StoredRunStats, requestedMemory: number, now: number): RunStats {
  const finished = s.states.complete + s.states.failed + s.states.stopped;
  const out: RunStats = {
    total: s.total,
    states: { ...s.states },
    outcomes: { ...s.outcomes },
    finished,
    requestedMemory,
  };
  const d = histQuantiles(s.duration);
  if (d) out.durationMs = d;
  const p = histQuantiles(s.peak);
  if (p) out.peakMemory = p;
  if (s.oomLimitMin !== undefined && s.oomLimitMax !== undefined) out.oomLimit = { min: s.oomLimitMin, max: s.oomLimitMax };
  if (s.firstStartedAt) out.firstStartedAt = s.firstStartedAt;
  if (s.lastFinishedAt) out.lastFinishedAt = s.lastFinishedAt;
  const left = s.states.queued + s.states.running;
  if (left > 0 && s.states.running > 0 && s.duration.n > 0) {
    const mean = s.durationSum / s.duration.n;
    out.estimatedEnd = new Date(now + Math.round((left * mean) / s.states.running)).toISOString();
  }
  return out;
}
