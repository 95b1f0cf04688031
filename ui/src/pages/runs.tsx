/**
 * The sweep view: where a sweep's runs are (counts by state, progress, why the
 * queued ones wait, when it should end, how long runs take and how much memory
 * they peak at) and its runs, one page at a time in submission order.
 *
 * A sweep may hold a million runs, so nothing here ever reads them all: the
 * counts are the server's running totals (RunStats), the table is one page the
 * server filtered, and events only mark things stale (the counts refetch at
 * most every second, the visible rows every few seconds or on Refresh).
 */
import type { PlacementFailure, RunOutcome, RunRow, RunState, RunStats } from '../../../src/api/types.js';
import { href, navigate, useData, useNow, usePager } from '../app.js';
import { Badge, Empty, ErrorBox, Facts, Loading, Pager, Section, WhyWaits } from '../components.js';
import { ago, bytes, duration, int, until } from '../format.js';
import { aboutJob } from '../live.js';

export const OUTCOMES: RunOutcome[] = ['queued', 'running', 'complete', 'failed', 'oom-killed', 'timed-out', 'lost', 'preempted', 'stopped'];
const STATES: RunState[] = ['queued', 'running', 'complete', 'failed', 'stopped'];
/** the order the progress bar fills in: done first, then what runs, then what waits */
const BAR_ORDER: RunOutcome[] = ['complete', 'failed', 'oom-killed', 'timed-out', 'lost', 'stopped', 'preempted', 'running', 'queued'];
export const RUNS_PER_PAGE = 100;
/** the visible rows refetch at most this often while runs change */
const ROWS_EVERY_MS = 5000;

export function isOutcome(s: string | null): s is RunOutcome {
  return s !== null && (OUTCOMES as string[]).includes(s);
}

/** Counts from rows, for a plain batch job small enough that one page holds all its runs. */
export function statsFromRows(rows: RunRow[], requestedMemory: number): RunStats {
  const states: Record<RunState, number> = { queued: 0, running: 0, complete: 0, failed: 0, stopped: 0 };
  const outcomes: Partial<Record<RunOutcome, number>> = {};
  for (const r of rows) {
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    const state: RunState = r.outcome === 'preempted' ? 'queued' : (STATES as string[]).includes(r.outcome) ? (r.outcome as RunState) : 'failed';
    states[state]++;
  }
  return { total: rows.length, states, outcomes, finished: states.complete + states.failed + states.stopped, requestedMemory };
}

function runsLink(namespace: string, id: string, outcome?: RunOutcome): string {
  return `${href('jobs', namespace, id)}${outcome ? `?outcome=${outcome}` : ''}`;
}

/** One segment per outcome, wide as its share; the label says it in words for screen readers. */
export function RunProgress({ stats, compact }: { stats: RunStats; compact?: boolean }) {
  const pctDone = stats.total > 0 ? Math.floor((stats.finished / stats.total) * 100) : 0;
  return (
    <div className={`progress ${compact ? 'compact' : ''}`} role="img" aria-label={`${int(stats.finished)} of ${int(stats.total)} runs finished (${pctDone}%)`}>
      {BAR_ORDER.filter((o) => (stats.outcomes[o] ?? 0) > 0).map((o) => (
        <span key={o} className={`seg seg-${o}`} style={{ flexGrow: stats.outcomes[o] }} title={`${int(stats.outcomes[o])} ${o}`} />
      ))}
    </div>
  );
}

/**
 * The sweep at a glance; every count links to the runs with that outcome (the
 * failed state also holds oom-killed, timed-out and lost runs, which have
 * links of their own among the outcomes).
 */
export function RunsSummary({ stats, blocked, namespace, id }: { stats: RunStats; blocked?: PlacementFailure[]; namespace: string; id: string }) {
  const now = useNow();
  const pctDone = stats.total > 0 ? Math.floor((stats.finished / stats.total) * 100) : 0;
  const d = stats.durationMs;
  const p = stats.peakMemory;
  const waiting = stats.states.queued > 0;
  return (
    <Section title={`Runs: ${int(stats.finished)} of ${int(stats.total)} finished (${pctDone}%)`}>
      <div className="sweep" data-testid="sweep-summary">
        <RunProgress stats={stats} />
        <div className="stats">
          <a className="stat" href={runsLink(namespace, id)} data-state="total">
            <span className="stat-num">{int(stats.total)}</span>
            <Badge status="total">total</Badge>
          </a>
          {STATES.map((s) => (
            <a key={s} className={`stat ${stats.states[s] === 0 ? 'zero' : ''}`} href={runsLink(namespace, id, s)} data-state={s}>
              <span className="stat-num">{int(stats.states[s])}</span>
              <Badge status={s}>{s}</Badge>
            </a>
          ))}
        </div>
        <p className="counts outcomes">
          {OUTCOMES.filter((o) => (stats.outcomes[o] ?? 0) > 0).map((o) => (
            <a key={o} href={runsLink(namespace, id, o)} data-outcome={o}>
              <Badge status={o}>{`${int(stats.outcomes[o])} ${o}`}</Badge>
            </a>
          ))}
        </p>
        <Facts
          items={[
            [
              'estimated end',
              stats.estimatedEnd ? (
                <span data-testid="estimated-end">{`≈ ${until(stats.estimatedEnd, now)}`}</span>
              ) : waiting || stats.states.running > 0 ? (
                'once the first runs finish'
              ) : stats.lastFinishedAt ? (
                `ended ${ago(stats.lastFinishedAt, now)}`
              ) : (
                '–'
              ),
            ],
            ['first started', ago(stats.firstStartedAt, now)],
            ['last finished', ago(stats.lastFinishedAt, now)],
            ['duration p50 / p90 / p95', d ? `${duration(d.p50)} / ${duration(d.p90)} / ${duration(d.p95)}` : '–'],
            ['duration max', d ? `${duration(d.max)} (of ${int(d.n)})` : '–'],
            ['peak memory p50 / p95 / max', p ? `${bytes(p.p50)} / ${bytes(p.p95)} / ${bytes(p.max)}` : '–'],
            ['memory asked per run', bytes(stats.requestedMemory)],
            ...(stats.oomLimit
              ? ([
                  [
                    'OOM killed at',
                    stats.oomLimit.min === stats.oomLimit.max ? bytes(stats.oomLimit.min) : `${bytes(stats.oomLimit.min)} – ${bytes(stats.oomLimit.max)}`,
                  ],
                ] as Array<[string, string]>)
              : []),
          ]}
        />
        {waiting && <WhyWaits blocked={blocked} title={`Why ${int(stats.states.queued)} queued run${stats.states.queued === 1 ? '' : 's'} wait`} />}
      </div>
    </Section>
  );
}

/**
 * A plain batch job has no running totals on the server; one small enough for
 * a single page is counted from its rows (a bigger one shows its alloc counts).
 */
export function BatchSummary({ namespace, id }: { namespace: string; id: string }) {
  const runs = useData((api) => api.runs(id, namespace, { limit: RUNS_PER_PAGE }), [namespace, id], { on: aboutJob(namespace, id), every: 1000 });
  if (!runs.data) return runs.error ? <ErrorBox error={runs.error} /> : null;
  if (runs.data.next) return null;
  return (
    <RunsSummary stats={statsFromRows(runs.data.runs, runs.data.runs[0]?.requestedMemory ?? 0)} blocked={runs.data.job.blocked} namespace={namespace} id={id} />
  );
}

/**
 * One page of runs, filtered by outcome on the server. For a parent, `total`
 * is how many rows the filter holds (from the counts), so the page can say
 * which of them these are.
 */
export function RunsTable({
  namespace,
  id,
  outcome,
  metaKeys,
  stats,
}: {
  namespace: string;
  id: string;
  outcome: RunOutcome | undefined;
  metaKeys: string[];
  stats: RunStats | undefined;
}) {
  const pager = usePager([namespace, id, outcome]);
  const runs = useData((api) => api.runs(id, namespace, { outcome, cursor: pager.cursor, limit: RUNS_PER_PAGE }), [namespace, id, outcome, pager.cursor], {
    on: aboutJob(namespace, id, true),
    every: ROWS_EVERY_MS,
    keep: true,
  });
  const rows = runs.data?.runs;
  const total = stats ? (outcome ? (stats.outcomes[outcome] ?? 0) : stats.total) : undefined;
  const from = pager.page * RUNS_PER_PAGE;
  const keys = [...new Set([...metaKeys, ...(rows ?? []).flatMap((r) => Object.keys(r.meta))])];
  const shown = runs.previous
    ? 'loading…'
    : rows && rows.length > 0
      ? `runs ${int(from + 1)}–${int(from + rows.length)}${total !== undefined ? ` of ${int(Math.max(total, from + rows.length))}${outcome ? ` ${outcome}` : ''}` : ''}`
      : undefined;
  return (
    <Section
      title="Runs"
      actions={
        <>
          <label className="select">
            <span>Outcome</span>
            <select
              aria-label="Outcome"
              value={outcome ?? ''}
              onChange={(e) => navigate(runsLink(namespace, id, isOutcome(e.target.value) ? e.target.value : undefined))}
            >
              <option value="">all</option>
              {OUTCOMES.map((o) => (
                <option key={o} value={o}>
                  {o}
                  {stats ? ` (${int(stats.outcomes[o] ?? 0)})` : ''}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="btn" onClick={runs.reload} disabled={runs.loading}>
            Refresh
          </button>
        </>
      }
    >
      <ErrorBox error={runs.error} />
      {!rows ? (
        <Loading what="runs" />
      ) : rows.length === 0 && !runs.previous ? (
        <Empty>{outcome ? `No run is ${outcome}${pager.page > 0 ? ' on this page any more' : ''}.` : 'No runs yet.'}</Empty>
      ) : (
        <div className="table-wrap">
          <table className={`table runs ${runs.previous ? 'previous' : ''}`} aria-busy={runs.previous}>
            <thead>
              <tr>
                <th>#</th>
                {keys.map((k) => (
                  <th key={k}>{k}</th>
                ))}
                <th>Outcome</th>
                <th>Reason</th>
                <th>Node</th>
                <th>Attempt</th>
                <th>Duration</th>
                <th>Peak memory</th>
                <th>Requested</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <RunRowView key={`${r.jobId}-${r.index}`} r={r} keys={keys} namespace={namespace} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        page={pager.page}
        hasNext={!!runs.data?.next}
        onFirst={pager.first}
        onPrev={pager.prev}
        onNext={() => runs.data?.next && pager.next(runs.data.next)}
        shown={shown}
      />
    </Section>
  );
}

function RunRowView({ r, keys, namespace }: { r: RunRow; keys: string[]; namespace: string }) {
  // a run of a sweep is a job of its own (`parent/…`); a batch job's index is an alloc
  const link = r.jobId.includes('/') ? href('jobs', namespace, r.jobId) : r.allocId ? href('allocs', r.allocId) : undefined;
  return (
    <tr data-run={r.index} data-outcome={r.outcome}>
      <td className="num">{link ? <a href={link}>{r.index}</a> : r.index}</td>
      {keys.map((k) => (
        <td key={k}>{r.meta[k] ?? ''}</td>
      ))}
      <td>
        <Badge status={r.outcome} />
      </td>
      <td className="reason">{r.reason}</td>
      <td>{r.node ?? '–'}</td>
      <td className="num">{r.attempt}</td>
      <td className="num">{duration(r.durationMs)}</td>
      <td className="num">
        {bytes(r.peakMemory)}
        {r.memoryLimit ? <span className="muted small"> / {bytes(r.memoryLimit)}</span> : null}
      </td>
      <td className="num">{bytes(r.requestedMemory)}</td>
    </tr>
  );
}
