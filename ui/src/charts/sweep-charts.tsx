/**
 * The sweep page's charts: how long runs take, how much of their memory
 * request they use, and how they end by parameter value.
 *
 * They are drawn from the runs themselves, so they read rows, but never all
 * of a big sweep's: the first CHART_CAP runs in submission order (a few pages
 * of 1,000), and the title says so when there are more. They follow the
 * sweep live while any charted run can still change (refetched at most every
 * few seconds, slower for many rows); once every charted run has finished for
 * good they stop refetching, except when a new dispatch may add runs.
 */
import { useMemo, useRef } from 'react';
import type { RunRow } from '../../../src/api/types.js';
import type { Api } from '../api.js';
import { useData } from '../app.js';
import { Empty, ErrorBox, Loading, Section } from '../components.js';
import { int, plural } from '../format.js';
import { aboutJob } from '../live.js';
import { durationHistogram, isFinal, memoryView, outcomesByParam } from './bins.js';
import { DurationChart } from './duration-chart.js';
import { MemoryChart } from './memory-chart.js';
import { OutcomeChart } from './outcome-chart.js';
import { StateLegend } from './svg.js';

/** at most this many runs are charted: the first ones */
export const CHART_CAP = 2000;
/** rows per request while loading them */
export const CHART_PAGE = 1000;

export interface ChartRuns {
  runs: RunRow[];
  /** the job has more runs than those charted */
  more: boolean;
}

export async function loadChartRuns(api: Api, id: string, namespace: string, cap = CHART_CAP): Promise<ChartRuns> {
  const runs: RunRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.runs(id, namespace, { cursor, limit: Math.min(CHART_PAGE, cap - runs.length) });
    runs.push(...page.runs);
    cursor = page.next;
  } while (cursor && runs.length < cap);
  return { runs, more: !!cursor };
}

export function SweepCharts({ namespace, id, total, metaKeys }: { namespace: string; id: string; total?: number; metaKeys: string[] }) {
  // every charted run finished for good: only a change of the job itself (a new dispatch) can change the charts
  const settled = useRef(false);
  const loaded = useRef<number | undefined>(undefined);
  const about = useMemo(() => aboutJob(namespace, id, true), [namespace, id]);
  const d = useData((api) => loadChartRuns(api, id, namespace), [namespace, id], {
    on: (e) => about(e) && (!settled.current || (e.topic === 'job' && e.key === id)),
    // a few thousand rows are not fetched as often as a page of them
    every: (loaded.current ?? 0) > 500 ? 10_000 : 3000,
  });
  const runs = d.data?.runs;
  loaded.current = runs?.length;
  const keys = metaKeys.join('\n');
  settled.current = !!runs && runs.every((r) => isFinal(r.outcome)) && (d.data?.more || total === undefined || runs.length >= total);
  // recomputed when the rows change, not on every render of the page (metaKeys is a new array each time)
  const view = useMemo(
    () => (runs ? { h: durationHistogram(runs), m: memoryView(runs), p: outcomesByParam(runs, keys ? keys.split('\n') : []) } : undefined),
    [runs, keys],
  );
  const more = !!d.data?.more;
  const title = !runs
    ? 'Charts'
    : more
      ? `Charts of the first ${int(runs.length)} runs${total !== undefined ? ` of ${int(total)}` : ''}`
      : `Charts of ${plural(runs.length, 'run')}`;
  return (
    <Section title={title}>
      <div data-testid="sweep-charts" data-runs={runs?.length} data-more={more}>
        <ErrorBox error={d.error} />
        {!view || !runs ? (
          d.error ? null : (
            <Loading what="the charts" />
          )
        ) : runs.length === 0 ? (
          <Empty>No runs yet.</Empty>
        ) : (
          <>
            <div className="charts">
              <div>
                <h3>Duration of finished runs</h3>
                <DurationChart h={view.h} />
              </div>
              <div>
                <h3>Peak memory against the request</h3>
                <MemoryChart v={view.m} />
              </div>
            </div>
            {view.p.charts.length > 0 && (
              <div className="param-charts">
                <h3>Outcome by parameter</h3>
                <StateLegend />
                {view.p.charts.map((c) => (
                  <OutcomeChart key={c.key} chart={c} />
                ))}
              </div>
            )}
            {view.p.skipped.length > 0 && (
              <p className="chart-note">Not charted: {view.p.skipped.map((s) => `${s.key} (${int(s.distinct)} distinct values, not numbers)`).join(', ')}.</p>
            )}
            {more && <p className="chart-note">Charts show the first {int(runs.length)} runs in submission order; the counts above are of every run.</p>}
          </>
        )}
      </div>
    </Section>
  );
}
