/**
 * The sweep section of `baton job status`: counts per outcome, duration and
 * peak memory quantiles, the failed runs and the hints, as lines of text.
 */
import type { RunsResponse } from '../api/types.js';
import { formatOutcomeCounts, summarizeRuns, type Quantiles } from '../jobs/run-summary.js';
import { formatBytes, formatDuration } from '../spec/units.js';
import { formatMap, renderTable } from './output.js';

function quantileRow(label: string, q: Quantiles | undefined, fmt: (n: number) => string): string[] {
  if (!q) return [label, '-', '-', '-', '-', '0'];
  return [label, fmt(q.p50), fmt(q.p90), fmt(q.p95), fmt(q.max), String(q.n)];
}

export function renderRunSummary(res: RunsResponse): string[] {
  const s = summarizeRuns(res.runs);
  const lines: string[] = [];
  lines.push(`Runs: ${s.total} (${formatOutcomeCounts(s.counts)})`);
  if (s.total === 0) return lines;
  lines.push('');
  lines.push(
    ...renderTable(
      ['OF FINISHED RUNS', 'P50', 'P90', 'P95', 'MAX', 'RUNS'],
      [quantileRow('duration', s.duration, formatDuration), quantileRow('peak memory', s.peakMemory, formatBytes)],
    ).split('\n'),
  );
  if (s.failedTotal > 0) {
    const shown = s.failed.length < s.failedTotal ? `, first ${s.failed.length} shown; -o csv lists all` : '';
    lines.push('', `Failed runs (${s.failedTotal}${shown})`);
    lines.push(
      ...renderTable(
        ['JOB', 'INDEX', 'META', 'NODE', 'ATTEMPT', 'OUTCOME', 'REASON'],
        s.failed.map((r) => [r.jobId, r.index, formatMap(r.meta), r.node ?? '-', r.attempt, r.outcome, r.reason || '-']),
      ).split('\n'),
    );
  }
  if (s.hints.length > 0) {
    lines.push('', 'Hints');
    for (const h of s.hints) lines.push(`  ${h}`);
  }
  return lines;
}
