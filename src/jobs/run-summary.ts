/**
 * What a sweep's runs add up to: counts per outcome, duration and peak memory
 * quantiles, the failed runs, a right-sizing hint, and the CSV export. Pure:
 * it reads RunRows (from GET /v1/jobs/:id/runs), or a sweep's totals kept by
 * the server (RunStats) when there are too many runs to read, and returns
 * values and text.
 */
import type { RunOutcome, RunRow, RunStats } from '../api/types.js';
import { formatBytes } from '../spec/units.js';

/** Outcomes after which a run does nothing more; queued, running and preempted (requeued) are not. */
export const FINISHED_OUTCOMES: readonly RunOutcome[] = ['complete', 'failed', 'oom-killed', 'timed-out', 'lost', 'stopped'];

/** The ends that are a run's failure (stopped is someone's choice, not a failure). */
export const FAILED_OUTCOMES: readonly RunOutcome[] = ['failed', 'oom-killed', 'timed-out', 'lost'];

/** Display order: where runs are in their life, then how they ended. */
export const OUTCOME_ORDER: readonly RunOutcome[] = ['queued', 'preempted', 'running', 'complete', 'failed', 'oom-killed', 'timed-out', 'lost', 'stopped'];

export const MAX_FAILED_LISTED = 20;
/** below this many finished runs a p95 says little; no hint */
export const MIN_RUNS_FOR_HINT = 5;
/** requested / p95 peak from which the request is called far from use */
export const HINT_RATIO = 1.5;
/** head room over the p95 peak in the suggested request */
export const SUGGESTED_HEADROOM = 1.2;

export function isFinished(o: RunOutcome): boolean {
  return FINISHED_OUTCOMES.includes(o);
}

export function isFailure(o: RunOutcome): boolean {
  return isFinished(o) && o !== 'complete';
}

export interface Quantiles {
  p50: number;
  p90: number;
  p95: number;
  max: number;
  /** how many values they were computed from */
  n: number;
}

/**
 * Nearest-rank quantile (the smallest value with at least q of the values at
 * or below it): always a value some run really had, which reads better than
 * an interpolated one for "p95 peak memory".
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function quantiles(values: readonly number[]): Quantiles | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return {
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p95: quantile(sorted, 0.95),
    max: sorted[sorted.length - 1],
    n: sorted.length,
  };
}

export interface RunSummary {
  total: number;
  counts: Partial<Record<RunOutcome, number>>;
  finished: number;
  /** of finished runs */
  duration?: Quantiles;
  /** of finished runs that reported one */
  peakMemory?: Quantiles;
  /** the first MAX_FAILED_LISTED failed runs, in the server's order */
  failed: RunRow[];
  failedTotal: number;
  /** right-sizing and OOM advice, one sentence each */
  hints: string[];
}

/** The request most runs had; ties go to the larger one (OOM retries may have grown a few). */
function commonRequest(rows: readonly RunRow[]): number {
  const freq = new Map<number, number>();
  for (const r of rows) freq.set(r.requestedMemory, (freq.get(r.requestedMemory) ?? 0) + 1);
  let best = 0;
  let bestN = 0;
  for (const [v, n] of freq) {
    if (n > bestN || (n === bestN && v > best)) {
      best = v;
      bestN = n;
    }
  }
  return best;
}

/** e.g. `13.4Gi`: the spec notation, so it can be pasted into a job file. */
function specBytes(bytes: number): string {
  return formatBytes(bytes)
    .replace(/ (K|M|G|T|P)iB$/, '$1i')
    .replace(/ B$/, '');
}

function rightSizingText(requested: number, p95: number, oomKilled: boolean, approx: boolean): string | undefined {
  if (requested <= 0 || p95 <= 0) return undefined;
  const ratio = requested / p95;
  if (ratio < HINT_RATIO) return undefined;
  const hint = `requested ${formatBytes(requested)}, p95 peak ${approx ? '≈' : ''}${formatBytes(p95)}: ${ratio.toFixed(1)}x more runs would fit`;
  // with OOM kills, a smaller request would kill more runs: no number to paste then
  if (oomKilled) return hint;
  return `${hint} (memory: ${specBytes(Math.ceil(p95 * SUGGESTED_HEADROOM))} leaves 20% over the p95)`;
}

function oomText(count: number, lo: number | undefined, hi: number | undefined): string {
  const at = lo === undefined || hi === undefined ? '' : lo === hi ? ` at ${formatBytes(hi)}` : ` at ${formatBytes(lo)} to ${formatBytes(hi)}`;
  const subject = count === 1 ? '1 run was' : `${count.toLocaleString('en-US')} runs were`;
  return `${subject} OOM-killed${at}: raise memory or set retry.on_oom`;
}

/**
 * "requested 32 GiB, p95 peak 11.2 GiB: 2.8x more runs would fit" when the
 * ratio is at least HINT_RATIO over at least MIN_RUNS_FOR_HINT finished runs.
 */
export function rightSizingHint(rows: readonly RunRow[]): string | undefined {
  const finished = rows.filter((r) => isFinished(r.outcome) && r.peakMemory !== undefined && r.peakMemory > 0);
  if (finished.length < MIN_RUNS_FOR_HINT) return undefined;
  const p95 = quantiles(finished.map((r) => r.peakMemory!))!.p95;
  return rightSizingText(
    commonRequest(finished),
    p95,
    rows.some((r) => r.outcome === 'oom-killed'),
    false,
  );
}

/** "3 runs were OOM-killed at 32 GiB: raise memory or set retry.on_oom" */
export function oomWarning(rows: readonly RunRow[]): string | undefined {
  const oom = rows.filter((r) => r.outcome === 'oom-killed');
  if (oom.length === 0) return undefined;
  const limits = oom.map((r) => r.memoryLimit ?? r.requestedMemory).filter((v) => v > 0);
  return limits.length === 0 ? oomText(oom.length, undefined, undefined) : oomText(oom.length, Math.min(...limits), Math.max(...limits));
}

/**
 * The same two hints from a sweep's totals, for sweeps too large to read run
 * by run. The p95 comes from a histogram, hence the "≈"; the request is the
 * parent's current one.
 */
export function statsHints(stats: RunStats): string[] {
  const hints: string[] = [];
  const oom = stats.outcomes['oom-killed'] ?? 0;
  if (oom > 0) hints.push(oomText(oom, stats.oomLimit?.min ?? stats.requestedMemory, stats.oomLimit?.max ?? stats.requestedMemory));
  const peak = stats.peakMemory;
  if (peak && peak.n >= MIN_RUNS_FOR_HINT) {
    const hint = rightSizingText(stats.requestedMemory, peak.p95, oom > 0, true);
    if (hint) hints.push(hint);
  }
  return hints;
}

export function summarizeRuns(rows: readonly RunRow[]): RunSummary {
  const counts: Partial<Record<RunOutcome, number>> = {};
  for (const r of rows) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  const finished = rows.filter((r) => isFinished(r.outcome));
  const failed = rows.filter((r) => isFailure(r.outcome));
  const hints = [oomWarning(rows), rightSizingHint(rows)].filter((h): h is string => h !== undefined);
  return {
    total: rows.length,
    counts,
    finished: finished.length,
    duration: quantiles(finished.flatMap((r) => (r.durationMs !== undefined ? [r.durationMs] : []))),
    peakMemory: quantiles(finished.flatMap((r) => (r.peakMemory !== undefined ? [r.peakMemory] : []))),
    failed: failed.slice(0, MAX_FAILED_LISTED),
    failedTotal: failed.length,
    hints,
  };
}

/** `400 complete, 12 failed`: non-zero counts in OUTCOME_ORDER. */
export function formatOutcomeCounts(counts: Partial<Record<RunOutcome, number>>): string {
  const parts = OUTCOME_ORDER.filter((o) => (counts[o] ?? 0) > 0).map((o) => `${counts[o]} ${o}`);
  return parts.length ? parts.join(', ') : 'none';
}

// ---------------------------------------------------------------- CSV export

const FIXED_BEFORE = ['job', 'index'];
const FIXED_AFTER = ['node', 'attempt', 'outcome', 'exit_code', 'reason', 'duration_s', 'peak_memory_bytes', 'requested_memory_bytes'];

/** Quote a field when it holds a separator, a quote, a line break or edge spaces (RFC 4180). */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The meta keys of `rows`, in the order first seen, after the ones already in `known`. */
export function metaKeysOf(rows: readonly RunRow[], known: readonly string[] = []): string[] {
  const keys = [...known];
  const seen = new Set(keys);
  for (const r of rows) {
    for (const k of Object.keys(r.meta)) {
      if (!seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
    }
  }
  return keys;
}

/**
 * The header line of a runs CSV with a column per meta key; a key that
 * clashes with a fixed column is written as `meta.<key>` so no column name
 * appears twice.
 */
export function csvHeader(metaKeys: readonly string[]): string {
  const fixed = new Set([...FIXED_BEFORE, ...FIXED_AFTER]);
  const metaHeaders = metaKeys.map((k) => (fixed.has(k) ? `meta.${k}` : k));
  return [...FIXED_BEFORE, ...metaHeaders, ...FIXED_AFTER].map(csvField).join(',') + '\n';
}

/** One line per run, in the order given, under csvHeader(metaKeys); meta keys not in it are left out. */
export function csvLines(rows: readonly RunRow[], metaKeys: readonly string[]): string {
  const num = (v: number | undefined): string => (v === undefined ? '' : String(v));
  let out = '';
  for (const r of rows) {
    const cells = [
      r.jobId,
      String(r.index),
      ...metaKeys.map((k) => r.meta[k] ?? ''),
      r.node ?? '',
      String(r.attempt),
      r.outcome,
      num(r.exitCode),
      r.reason,
      r.durationMs === undefined ? '' : String(Math.round(r.durationMs) / 1000),
      num(r.peakMemory),
      num(r.requestedMemory),
    ];
    out += cells.map(csvField).join(',') + '\n';
  }
  return out;
}

/** One header line and one line per run, in the server's order; meta keys become columns in the order first seen. */
export function runsToCsv(rows: readonly RunRow[]): string {
  const keys = metaKeysOf(rows);
  return csvHeader(keys) + csvLines(rows, keys);
}
