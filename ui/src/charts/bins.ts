/**
 * The arithmetic behind the sweep page's charts, apart from any drawing so it
 * can be tested on its own: binning durations, grouping peak memory into
 * columns, counting outcomes per parameter value. Every function takes the
 * rows it is given (at most a few thousand: the page charts the first runs of
 * a sweep, never a million) and is linear in them, plus one sort.
 */
import type { RunOutcome, RunRow, RunState } from '../../../src/api/types.js';

export const RUN_STATES: RunState[] = ['complete', 'failed', 'stopped', 'running', 'queued'];

/** where a run is as the sweep's totals count it: oom-killed, timed-out and lost runs failed, a preempted one waits again */
export function stateOf(o: RunOutcome): RunState {
  switch (o) {
    case 'complete':
    case 'failed':
    case 'stopped':
    case 'running':
    case 'queued':
      return o;
    case 'preempted':
      return 'queued';
    default:
      return 'failed';
  }
}

/** finished for good: nothing about the run changes any more */
export function isFinal(o: RunOutcome): boolean {
  const s = stateOf(o);
  return s === 'complete' || s === 'failed' || s === 'stopped';
}

/** the smallest of 1, 2, 5 × 10^k that cuts `span` into at most `maxParts` parts */
export function niceStep(span: number, maxParts: number, minStep = 0): number {
  if (!(span > 0) || !(maxParts >= 1)) return Math.max(minStep, 1);
  const raw = span / maxParts;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return Math.max(minStep, m * mag);
  return Math.max(minStep, 10 * mag);
}

/** nearest-rank quantile of sorted values: the smallest value with at least q of them at or below it */
export function quantile(sorted: number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

// ---------------------------------------------------------------- durations

/** the finished states a duration bar is split into */
export type FinishedState = 'complete' | 'failed' | 'stopped';

export interface DurationBin {
  /** [from, to) in ms; the last bin also holds `to` */
  from: number;
  to: number;
  count: number;
  byState: Record<FinishedState, number>;
}

export interface DurationHistogram {
  bins: DurationBin[];
  /** how many runs the bins hold: the finished runs with a duration */
  n: number;
  p50?: number;
  p90?: number;
  min?: number;
  max?: number;
}

/**
 * Finished runs' wall times in at most `maxBins` bins of a round width
 * (1, 2, 5 × 10^k ms) starting at a multiple of it. Runs still queued or
 * running, and finished ones that never started (no duration), are left out.
 */
export function durationHistogram(runs: RunRow[], maxBins = 24): DurationHistogram {
  const done: Array<{ ms: number; state: FinishedState }> = [];
  for (const r of runs) {
    const s = stateOf(r.outcome);
    if ((s === 'complete' || s === 'failed' || s === 'stopped') && r.durationMs !== undefined && Number.isFinite(r.durationMs))
      done.push({ ms: Math.max(0, r.durationMs), state: s });
  }
  if (done.length === 0) return { bins: [], n: 0 };
  const sorted = done.map((d) => d.ms).sort((a, b) => a - b);
  const min = sorted[0];
  const max = sorted[sorted.length - 1];
  // all equal (one run): one bin of a width about a tenth of the value, at least 1 ms
  const step = max > min ? niceStep(max - min, maxBins - 1, 1) : niceStep(Math.max(min, 10), 10, 1);
  const lo = Math.floor(min / step) * step;
  const nb = Math.min(maxBins, Math.floor((max - lo) / step) + 1);
  const bins: DurationBin[] = Array.from({ length: nb }, (_, i) => ({
    from: lo + i * step,
    to: lo + (i + 1) * step,
    count: 0,
    byState: { complete: 0, failed: 0, stopped: 0 },
  }));
  for (const d of done) {
    const b = bins[Math.min(nb - 1, Math.floor((d.ms - lo) / step))];
    b.count++;
    b.byState[d.state]++;
  }
  return { bins, n: done.length, p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), min, max };
}

// ---------------------------------------------------------------- memory

export interface MemoryColumn {
  /** positions (in the rows given, with a peak) of the first and last run it holds */
  first: number;
  last: number;
  /** run indexes (RunRow.index) of the first and last run */
  firstIndex: number;
  lastIndex: number;
  n: number;
  min: number;
  median: number;
  max: number;
  /** the largest request and limit among them */
  requested: number;
  limit?: number;
  /** how many of them were OOM-killed */
  oom: number;
}

export interface MemoryView {
  columns: MemoryColumn[];
  /** runs that reported a peak (or were OOM-killed, counted at their limit) */
  n: number;
  /** runs charted without a peak: not started yet, or their node did not measure it */
  withoutPeak: number;
  oom: number;
  /** peak / request over the runs with a peak */
  used?: { p50: number; p95: number; max: number };
  /** the highest value the chart must show: the largest peak, request or limit */
  top: number;
}

/**
 * Peak memory against the request, in submission order: one column per run,
 * or per group of consecutive runs when there are more than `maxColumns`
 * (each column then spans its runs' lowest to highest peak, with the median marked).
 */
export function memoryView(runs: RunRow[], maxColumns = 120): MemoryView {
  const measured: Array<{ r: RunRow; peak: number }> = [];
  let withoutPeak = 0;
  for (const r of runs) {
    const peak = r.peakMemory ?? (r.outcome === 'oom-killed' ? (r.memoryLimit ?? r.requestedMemory) : undefined);
    if (peak === undefined || !Number.isFinite(peak)) withoutPeak++;
    else measured.push({ r, peak });
  }
  const per = Math.max(1, Math.ceil(measured.length / maxColumns));
  const columns: MemoryColumn[] = [];
  let oom = 0;
  let top = 0;
  const fractions: number[] = [];
  for (let i = 0; i < measured.length; i += per) {
    const group = measured.slice(i, i + per);
    const peaks = group.map((g) => g.peak).sort((a, b) => a - b);
    const col: MemoryColumn = {
      first: i,
      last: i + group.length - 1,
      firstIndex: group[0].r.index,
      lastIndex: group[group.length - 1].r.index,
      n: group.length,
      min: peaks[0],
      median: quantile(peaks, 0.5)!,
      max: peaks[peaks.length - 1],
      requested: Math.max(...group.map((g) => g.r.requestedMemory)),
      oom: 0,
    };
    for (const g of group) {
      if (g.r.memoryLimit !== undefined) col.limit = Math.max(col.limit ?? 0, g.r.memoryLimit);
      if (g.r.outcome === 'oom-killed') col.oom++;
      if (g.r.requestedMemory > 0) fractions.push(g.peak / g.r.requestedMemory);
    }
    oom += col.oom;
    top = Math.max(top, col.max, col.requested, col.limit ?? 0);
    columns.push(col);
  }
  fractions.sort((a, b) => a - b);
  const used = fractions.length ? { p50: quantile(fractions, 0.5)!, p95: quantile(fractions, 0.95)!, max: fractions[fractions.length - 1] } : undefined;
  return { columns, n: measured.length, withoutPeak, oom, used, top };
}

/** What the memory chart says in words: whether the request looks too big or too small. */
export function sizingVerdict(v: MemoryView): string {
  if (v.n === 0) return 'No run has reported its peak memory yet.';
  const pctOf = (f: number) => `${Math.round(f * 100)}%`;
  if (v.oom > 0) return `${v.oom} run${v.oom === 1 ? ' was' : 's were'} OOM-killed: they need more memory than they ask for.`;
  if (!v.used) return '';
  if (v.used.max > 0.9) return `The largest peak is ${pctOf(v.used.max)} of the request: close to the limit.`;
  if (v.used.p95 < 0.5)
    return `95% of runs peak under ${pctOf(v.used.p95)} of what they ask for (the largest at ${pctOf(v.used.max)}): the request could be smaller.`;
  return `Runs peak at ${pctOf(v.used.p50)} of the request at the median, ${pctOf(v.used.max)} at most.`;
}

// ---------------------------------------------------------------- outcomes by parameter

export interface ParamGroup {
  /** the value, or the range of a bin ("0–99") */
  label: string;
  counts: Record<RunState, number>;
  total: number;
  /** a bin of numeric values: [from, to) */
  range?: [number, number];
}

export interface ParamChart {
  key: string;
  groups: ParamGroup[];
  /** how many distinct values the key takes among the runs */
  distinct: number;
  /** numeric values put in bins */
  binned: boolean;
}

export interface ParamCharts {
  charts: ParamChart[];
  /** keys with too many distinct values that are not numbers */
  skipped: Array<{ key: string; distinct: number }>;
}

/** the label of runs that do not have a key at all */
export const NO_VALUE = '(none)';

const emptyCounts = (): Record<RunState, number> => ({ complete: 0, failed: 0, stopped: 0, running: 0, queued: 0 });
const isNumber = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));
const collator = new Intl.Collator('en', { numeric: true });

function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

/**
 * For each parameter (meta key), the runs by state per value: every value when
 * there are at most `maxValues` of them, numeric values in at most
 * `maxValues` round bins otherwise; a key with more values that are not all
 * numbers is skipped (it is an id, not a parameter to compare).
 */
export function outcomesByParam(runs: RunRow[], keys: string[] = [], maxValues = 12): ParamCharts {
  const allKeys = [...keys];
  for (const r of runs) for (const k of Object.keys(r.meta)) if (!allKeys.includes(k)) allKeys.push(k);
  const charts: ParamChart[] = [];
  const skipped: ParamCharts['skipped'] = [];
  for (const key of allKeys) {
    const byValue = new Map<string, ParamGroup>();
    for (const r of runs) {
      const v = r.meta[key] ?? NO_VALUE;
      let g = byValue.get(v);
      if (!g) byValue.set(v, (g = { label: v, counts: emptyCounts(), total: 0 }));
      g.counts[stateOf(r.outcome)]++;
      g.total++;
    }
    if (byValue.size === 0) continue;
    const values = [...byValue.values()];
    if (byValue.size <= maxValues) {
      // numbers in numeric order, words alphabetically, runs without the key last
      values.sort((a, b) => (a.label === NO_VALUE ? 1 : b.label === NO_VALUE ? -1 : collator.compare(a.label, b.label)));
      charts.push({ key, groups: values, distinct: byValue.size, binned: false });
      continue;
    }
    const numeric = values.filter((g) => g.label !== NO_VALUE);
    if (!numeric.every((g) => isNumber(g.label))) {
      skipped.push({ key, distinct: byValue.size });
      continue;
    }
    const nums = numeric.map((g) => Number(g.label));
    const lo0 = Math.min(...nums);
    const hi = Math.max(...nums);
    const ints = nums.every(Number.isInteger);
    const missing = byValue.get(NO_VALUE);
    const slots = maxValues - (missing ? 1 : 0);
    // integers: a bin holds a whole number of values, and the last value must fit (`to` is exclusive)
    const step = niceStep(ints ? hi - lo0 + 1 : hi - lo0, slots, ints ? 1 : 0);
    const lo = Math.floor(lo0 / step) * step;
    const nb = Math.min(slots, Math.floor((hi - lo) / step) + 1);
    const bins: ParamGroup[] = Array.from({ length: nb }, (_, i) => {
      const from = lo + i * step;
      const to = from + step;
      const label = ints ? (step === 1 ? fmtNum(from) : `${fmtNum(from)}–${fmtNum(to - 1)}`) : `${fmtNum(from)}–${fmtNum(to)}`;
      return { label, counts: emptyCounts(), total: 0, range: [from, to] as [number, number] };
    });
    for (const g of numeric) {
      const b = bins[Math.min(nb - 1, Math.floor((Number(g.label) - lo) / step))];
      for (const s of RUN_STATES) b.counts[s] += g.counts[s];
      b.total += g.total;
    }
    const groups = bins.filter((b) => b.total > 0);
    if (missing) groups.push(missing);
    charts.push({ key, groups, distinct: byValue.size, binned: true });
  }
  return { charts, skipped };
}
