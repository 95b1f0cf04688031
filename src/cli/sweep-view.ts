/**
 * The sweep section of `baton job status PARENT`, from the totals the server
 * keeps (RunStats) and the first page of failed runs: it reads the same for
 * ten runs as for a million, since no run is downloaded to draw it. Pure:
 * values in, lines of text out.
 */
import type { ApproxQuantiles, PlacementFailure, RunOutcome, RunRow, RunStats, RunState } from '../api/types.js';
import { FAILED_OUTCOMES, OUTCOME_ORDER, statsHints } from '../jobs/run-summary.js';
import { formatBytes, formatDuration } from '../spec/units.js';
import { formatEstimatedEnd, shortIso } from './eta.js';
import { age, formatCount, formatMap, renderFields, renderTable } from './output.js';

export const STATE_ORDER: readonly RunState[] = ['queued', 'running', 'complete', 'failed', 'stopped'];

export interface SweepView {
  stats: RunStats;
  /** why the queue waits, per dimension (the parent's summary) */
  blocked?: PlacementFailure[];
  /** the first failed runs, in submission order */
  failed: RunRow[];
  /** the parent, for the commands the section suggests */
  jobId: string;
  now: number;
}

/** `34.0%`; never 100.0% before every run finished; `-` of nothing */
export function percent(part: number, whole: number): string {
  if (whole <= 0) return '-';
  const p = (100 * part) / whole;
  return `${(part < whole ? Math.min(p, 99.9) : 100).toFixed(1)}%`;
}

/** `650,000 queued, 20 running, 330,000 complete, 9,980 failed, 0 stopped`: every state, zeros too */
export function formatStates(states: Record<RunState, number>): string {
  return STATE_ORDER.map((s) => `${formatCount(states[s] ?? 0)} ${s}`).join(', ');
}

/** How finished runs ended (and preempted ones wait): `9,000 failed, 900 oom-killed`; `-` when none */
export function formatEnds(outcomes: Partial<Record<RunOutcome, number>>): string {
  const parts = OUTCOME_ORDER.filter((o) => o !== 'queued' && o !== 'running' && (outcomes[o] ?? 0) > 0).map((o) => `${formatCount(outcomes[o]!)} ${o}`);
  return parts.length ? parts.join(', ') : '-';
}

/** how many runs failed (every failure outcome), from the totals */
export function failedCount(stats: RunStats): number {
  return FAILED_OUTCOMES.reduce((n, o) => n + (stats.outcomes[o] ?? 0), 0);
}

/** The last field: when the sweep ended, or when it should at the pace so far. */
function endField(s: RunStats, now: number): [string, string] {
  if (s.total > 0 && s.finished >= s.total) {
    return ['Finished', s.lastFinishedAt ? `${shortIso(s.lastFinishedAt)} (${age(s.lastFinishedAt, now)} ago)` : 'yes'];
  }
  const eta = formatEstimatedEnd(s.estimatedEnd, now);
  if (eta) return ['Estimated end', `≈${eta}, at the pace so far`];
  return ['Estimated end', s.states.running === 0 ? '- (no run is running)' : '- (no run has finished yet)'];
}

/** `memory: 0 of 2 nodes have 20 GiB free (2 nodes evaluated, 0 filtered)`, marked when waiting cannot help */
export function blockedLine(b: PlacementFailure): string {
  const counts = ` (${b.nodesEvaluated} ${b.nodesEvaluated === 1 ? 'node' : 'nodes'} evaluated, ${b.nodesFiltered} filtered)`;
  const message = b.message.startsWith(`${b.dimension}:`) ? b.message : `${b.dimension}: ${b.message}`;
  return `${message}${counts}${b.neverFits ? ': no node could ever fit this, waiting will not help' : ''}`;
}

function quantileRow(label: string, q: ApproxQuantiles | undefined, fmt: (n: number) => string): string[] {
  if (!q) return [label, '-', '-', '-', '-', '-', '0'];
  return [label, fmt(q.p50), fmt(q.p90), fmt(q.p95), fmt(q.min), fmt(q.max), formatCount(q.n)];
}

export function renderSweepSection(v: SweepView): string[] {
  const s = v.stats;
  const lines: string[] = [];
  const fields: Array<[string, string]> = [
    ['Runs', formatCount(s.total)],
    ['Progress', `${formatCount(s.finished)} of ${formatCount(s.total)} finished (${percent(s.finished, s.total)})`],
    ['States', formatStates(s.states)],
    ['Outcomes', formatEnds(s.outcomes)],
  ];
  if (s.firstStartedAt) fields.push(['First start', `${shortIso(s.firstStartedAt)} (${age(s.firstStartedAt, v.now)} ago)`]);
  fields.push(endField(s, v.now));
  lines.push(
    'Sweep',
    ...renderFields(fields)
      .split('\n')
      .map((l) => `  ${l}`),
  );
  if (s.total === 0) return lines;

  const blocked = v.blocked ?? [];
  if (s.states.queued > 0 && blocked.length > 0) {
    lines.push('', `Why it waits (${formatCount(s.states.queued)} queued)`);
    for (const b of blocked) lines.push(`  ${blockedLine(b)}`);
    if (blocked.every((b) => b.neverFits)) {
      lines.push('  No node can ever run these runs as the cluster is now: change the job (resources, constraints) or add nodes.');
    }
  }

  lines.push('');
  if (!s.durationMs && !s.peakMemory) lines.push('Of finished runs: no duration or peak memory yet');
  else {
    lines.push(
      ...renderTable(
        ['OF FINISHED RUNS', '≈P50', '≈P90', '≈P95', 'MIN', 'MAX', 'RUNS'],
        [quantileRow('duration', s.durationMs, formatDuration), quantileRow('peak memory', s.peakMemory, formatBytes)],
      ).split('\n'),
    );
    lines.push('  ≈: from a histogram, within about 5% of the true value; min and max are exact');
  }

  const failedTotal = failedCount(s);
  if (failedTotal > 0) {
    const shown = v.failed.length < failedTotal ? `, first ${v.failed.length} shown; \`baton job status ${v.jobId} -o csv\` lists every run` : '';
    lines.push('', `Failed runs (${formatCount(failedTotal)}${shown})`);
    if (v.failed.length > 0) {
      lines.push(
        ...renderTable(
          ['JOB', 'INDEX', 'META', 'NODE', 'ATTEMPT', 'OUTCOME', 'REASON'],
          v.failed.map((r) => [r.jobId, r.index, formatMap(r.meta), r.node ?? '-', r.attempt, r.outcome, r.reason || '-']),
        ).split('\n'),
      );
    }
  }

  const hints = statsHints(s);
  if (hints.length > 0) {
    lines.push('', 'Hints');
    for (const h of hints) lines.push(`  ${h}`);
  }
  return lines;
}
