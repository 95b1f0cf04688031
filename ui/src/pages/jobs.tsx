/** Jobs: a list filtered and paged by the server; a job page with allocs, versions, deployments, the sweep view and actions. */
import { useState, type ReactNode } from 'react';
import type { ClusterEvent, JobDetail, JobSummary } from '../../../src/api/types.js';
import { SweepCharts } from '../charts/sweep-charts.js';
import { href, navigate, useData, useNow, usePager, useSession } from '../app.js';
import { ActionButton, Badge, Empty, ErrorBox, Facts, Loading, Pager, Section, WhyWaits } from '../components.js';
import { ago, bytes, cpuRequest, int, plural, shortId, until } from '../format.js';
import { aboutJob } from '../live.js';
import { AllocTable } from './allocs.js';
import { BatchSummary, isOutcome, RunProgress, RUNS_PER_PAGE, RunsSummary, RunsTable } from './runs.js';

const TYPES = ['batch', 'service', 'system', 'parameterized', 'periodic'];
const STATUSES = ['pending', 'running', 'complete', 'failed', 'stopped'];
const JOBS_PER_PAGE = 50;

function kind(j: { type: string; kind?: string; runs?: unknown; children?: unknown; nextLaunch?: string }): string {
  // servers before JobSummary.kind: told from the summary's shape
  if (j.kind) return j.kind;
  if (j.nextLaunch) return 'periodic';
  if (j.runs || j.children) return 'parameterized';
  return j.type;
}

/** a job that is waiting for capacity shows as blocked, whatever its status */
function shownStatus(j: JobSummary): string {
  return j.blocked?.length && j.status === 'pending' ? 'blocked' : j.status;
}

export function JobsPage({ query }: { query: URLSearchParams }) {
  const type = query.get('type') ?? '';
  const ns = query.get('namespace') ?? '';
  const status = query.get('status') ?? '';
  const pager = usePager([type, ns, status]);
  // a listing changes with every run of every sweep: a few seconds late is fine here
  const jobs = useData(
    (api) => api.jobs({ namespace: ns || '*', type: type || undefined, status: status || undefined, cursor: pager.cursor, limit: JOBS_PER_PAGE }),
    [type, ns, status, pager.cursor],
    {
      on: (e) => e.topic === 'job' || e.topic === 'eval',
      every: 5000,
    },
  );
  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v);
    else q.delete(k);
    navigate(`#/jobs${q.size ? `?${q}` : ''}`);
  };
  const items = jobs.data?.items;
  const filtered = !!(type || ns || status);
  return (
    <div className="page">
      <h1>Jobs</h1>
      <div className="filters">
        <Select label="Type" value={type} options={TYPES} onChange={(v) => setFilter('type', v)} />
        <NamespaceFilter value={ns} seen={items?.map((j) => j.namespace) ?? []} onChange={(v) => setFilter('namespace', v)} />
        <Select label="Status" value={status} options={STATUSES} onChange={(v) => setFilter('status', v)} />
      </div>
      <ErrorBox error={jobs.error} />
      {!items ? (
        <Loading what="jobs" />
      ) : items.length === 0 ? (
        <Empty>{!filtered && pager.page === 0 ? 'No jobs yet: submit one with `baton job run job.yaml`.' : 'No job matches these filters.'}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Type</th>
                <th>Status</th>
                <th>Runs or allocs</th>
                <th>Priority</th>
                <th>Submitted</th>
              </tr>
            </thead>
            <tbody>
              {items.map((j) => (
                <JobRow key={`${j.namespace}/${j.id}`} j={j} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        page={pager.page}
        hasNext={!!jobs.data?.next}
        onFirst={pager.first}
        onPrev={pager.prev}
        onNext={() => jobs.data?.next && pager.next(jobs.data.next)}
      />
    </div>
  );
}

function JobRow({ j }: { j: JobSummary }) {
  const now = useNow();
  return (
    <tr data-job={j.id}>
      <td>
        <a href={href('jobs', j.namespace, j.id)}>{j.id}</a>
        {j.namespace !== 'default' && <div className="muted small">{j.namespace}</div>}
      </td>
      <td>{kind(j)}</td>
      <td>
        <Badge status={shownStatus(j)} />
      </td>
      <td className="work">{j.runs ? <RunsCell j={j} /> : <Counts c={j.allocs} />}</td>
      <td className="num">{j.priority}</td>
      <td className="nowrap">{ago(j.submittedAt, now)}</td>
    </tr>
  );
}

/** a sweep in a list: how far it is and where its runs are */
function RunsCell({ j }: { j: JobSummary }) {
  const s = j.runs!;
  if (s.total === 0) return <span className="muted">no runs yet</span>;
  return (
    <div className="runs-cell">
      <RunProgress stats={s} compact />
      <span className="counts">
        <span className="muted small">{plural(s.total, 'run')}</span>
        {(['queued', 'running', 'complete', 'failed', 'stopped'] as const)
          .filter((k) => s.states[k] > 0)
          .map((k) => (
            <Badge key={k} status={k}>{`${int(s.states[k])} ${k}`}</Badge>
          ))}
      </span>
    </div>
  );
}

function Counts({ c }: { c: object }) {
  const parts = (Object.entries(c) as Array<[string, number]>).filter(([, n]) => n > 0);
  if (parts.length === 0) return <span className="muted">–</span>;
  return (
    <span className="counts">
      {parts.map(([k, n]) => (
        <Badge key={k} status={k}>{`${int(n)} ${k}`}</Badge>
      ))}
    </span>
  );
}

function Select({ label, value, options, onChange }: { label: string; value: string; options: string[]; onChange: (v: string) => void }) {
  return (
    <label className="select">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label={label}>
        <option value="">all</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * Namespaces are typed, not picked: only one page of jobs is here, so the
 * namespaces on it are suggestions, not the list of all there are.
 */
function NamespaceFilter({ value, seen, onChange }: { value: string; seen: string[]; onChange: (v: string) => void }) {
  const [text, setText] = useState(value);
  const [was, setWas] = useState(value);
  if (was !== value) {
    setWas(value);
    setText(value);
  }
  const options = [...new Set(['default', ...seen])].sort();
  return (
    <form
      className="select"
      onSubmit={(e) => {
        e.preventDefault();
        onChange(text.trim());
      }}
    >
      <label htmlFor="ns-filter">
        <span>Namespace</span>
      </label>
      <input
        id="ns-filter"
        aria-label="Namespace"
        list="ns-seen"
        value={text}
        placeholder="all"
        size={12}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => text.trim() !== value && onChange(text.trim())}
      />
      <datalist id="ns-seen">
        {options.map((o) => (
          <option key={o} value={o} />
        ))}
      </datalist>
    </form>
  );
}

/** job events that change what a job page shows of the job itself (not every run of a sweep) */
function versionEvent(namespace: string, id: string): (e: ClusterEvent) => boolean {
  return (e) => e.topic === 'job' && e.key === id && (e.namespace ?? namespace) === namespace && e.type !== 'RunsDispatched' && e.type !== 'RunsStopped';
}

export function JobPage({ namespace, id, query }: { namespace: string; id: string; query: URLSearchParams }) {
  // a sweep's counts move with each of its runs: refetched at most once a second, not per event
  const d = useData((api) => api.job(id, namespace), [namespace, id], { on: aboutJob(namespace, id, true), every: 1000 });
  if (!d.data) return <div className="page">{d.error ? <ErrorBox error={d.error} /> : <Loading what="the job" />}</div>;
  const { job, summary, allocs } = d.data;
  const spec = job.spec;
  const isParent = !!spec.parameterized || !!spec.periodic;
  const isBatchSet = !isParent && spec.type === 'batch' && spec.count > 1;
  const outcomeParam = query.get('outcome');
  const outcome = isOutcome(outcomeParam) ? outcomeParam : undefined;
  const stats = summary.runs;
  const metaKeys = spec.parameterized ? [...spec.parameterized.metaRequired, ...spec.parameterized.metaOptional] : [];
  return (
    <div className="page">
      <p className="crumbs">
        <a href="#/jobs">Jobs</a> /{job.namespace !== 'default' && ` ${job.namespace} /`}
        {job.parentId && (
          <>
            {' '}
            <a href={href('jobs', job.namespace, job.parentId)}>{job.parentId}</a> /
          </>
        )}
      </p>
      <h1>
        {job.id} <Badge status={shownStatus(summary)} />
        {isParent && stats && stats.states.queued > 0 && summary.blocked?.length ? <Badge status="blocked">runs waiting</Badge> : null}
      </h1>
      <ErrorBox error={d.error} />
      {isParent && stats && <RunsSummary stats={stats} blocked={summary.blocked} namespace={namespace} id={id} />}
      <div className="grid2">
        <Section title="Job">
          <Facts
            items={[
              ['type', kind(summary)],
              ['version', job.version],
              ...(isParent ? ([['runs', int(stats?.total ?? 0)]] as Array<[string, string]>) : ([['count', spec.count]] as Array<[string, number]>)),
              ['priority', spec.priority],
              ['tasks', spec.tasks.map((t) => `${t.name} (${t.driver}, ${cpuRequest(t.resources)}, ${bytes(t.resources.memory)})`).join('; ')],
              ...(!isParent ? ([['allocs', <Counts key="c" c={summary.allocs} />]] as Array<[string, ReactNode]>) : []),
              ...(job.dispatch
                ? ([
                    [
                      'meta',
                      Object.entries(job.dispatch.meta)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(' ') || '–',
                    ],
                  ] as Array<[string, string]>)
                : []),
              ...(summary.nextLaunch ? ([['next launch', until(summary.nextLaunch, Date.now())]] as Array<[string, string]>) : []),
            ]}
          />
          {!isParent && <WhyWaits blocked={summary.blocked} title="Why it waits" />}
        </Section>
        <JobActions detail={d.data} reload={d.reload} />
      </div>
      {isBatchSet && spec.count <= RUNS_PER_PAGE && <BatchSummary namespace={namespace} id={id} />}
      {(isParent || isBatchSet) && <SweepCharts namespace={namespace} id={id} total={isParent ? stats?.total : spec.count} metaKeys={metaKeys} />}
      {(isParent || isBatchSet) && <RunsTable namespace={namespace} id={id} outcome={outcome} metaKeys={metaKeys} stats={isParent ? stats : undefined} />}
      {!isParent && (
        <Section
          title={d.data.allocsTotal > allocs.length ? `Allocs: the newest ${int(allocs.length)} of ${int(d.data.allocsTotal)}` : 'Allocs'}
          actions={d.data.allocsTotal > allocs.length ? <a href={`#/allocs?${new URLSearchParams({ namespace, job: id })}`}>all allocs</a> : undefined}
        >
          {allocs.length === 0 ? <Empty>No allocs yet.</Empty> : <AllocTable allocs={[...allocs].reverse()} />}
        </Section>
      )}
      {spec.type === 'service' && <Deployments namespace={namespace} id={id} />}
      <Versions namespace={namespace} id={id} />
    </div>
  );
}

function JobActions({ detail, reload }: { detail: JobDetail; reload: () => void }) {
  const { api } = useSession();
  const { job } = detail;
  const [count, setCount] = useState(String(job.spec.count));
  const p = job.spec.parameterized;
  const metaKeys = p ? [...p.metaRequired, ...p.metaOptional] : [];
  const [meta, setMeta] = useState<Record<string, string>>({});
  const [payload, setPayload] = useState('');
  const [dispatched, setDispatched] = useState<string>();
  const ns = job.namespace;
  return (
    <Section title="Actions">
      <div className="ops">
        <div className="op row">
          {job.stopped ? (
            <ActionButton
              kind="primary"
              onRun={async () => {
                await api.startJob(job.id, ns);
                reload();
              }}
            >
              Start again
            </ActionButton>
          ) : (
            <ActionButton
              kind="danger"
              confirm={
                p || job.spec.periodic
                  ? `Stop job ${job.id}? Its runs that have not finished will be stopped.`
                  : `Stop job ${job.id}? Its allocs will be stopped.`
              }
              onRun={async () => {
                await api.stopJob(job.id, ns);
                reload();
              }}
            >
              Stop job
            </ActionButton>
          )}
        </div>
        {!p && !job.spec.periodic && job.spec.type !== 'system' && (
          <form className="op row" onSubmit={(e) => e.preventDefault()}>
            <label htmlFor="scale-count">Count</label>
            <input id="scale-count" type="number" min={0} value={count} onChange={(e) => setCount(e.target.value)} style={{ width: '6em' }} />
            <ActionButton
              onRun={async () => {
                await api.scaleJob(job.id, ns, Number(count));
                reload();
              }}
              disabled={!/^\d+$/.test(count) || Number(count) === job.spec.count}
            >
              Scale
            </ActionButton>
          </form>
        )}
        {p && (
          <form className="op dispatch" onSubmit={(e) => e.preventDefault()}>
            <h3>Dispatch a run</h3>
            {metaKeys.length === 0 && <p className="muted small">This job takes no meta.</p>}
            {metaKeys.map((k) => (
              <label key={k} className="field">
                <span>
                  {k}
                  {p.metaRequired.includes(k) ? ' *' : ''}
                </span>
                <input value={meta[k] ?? ''} onChange={(e) => setMeta({ ...meta, [k]: e.target.value })} name={`meta-${k}`} />
              </label>
            ))}
            {p.payload !== 'forbidden' && (
              <label className="field">
                <span>payload{p.payload === 'required' ? ' *' : ''}</span>
                <textarea value={payload} onChange={(e) => setPayload(e.target.value)} rows={3} />
              </label>
            )}
            <ActionButton
              kind="primary"
              onRun={async () => {
                const m = Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== ''));
                const r = await api.dispatch(job.id, ns, m, payload ? btoa(unescape(encodeURIComponent(payload))) : undefined);
                setDispatched(r.jobs[0]);
                reload();
              }}
            >
              Dispatch
            </ActionButton>
            {dispatched && (
              <p className="notice">
                Dispatched <a href={href('jobs', ns, dispatched)}>{dispatched}</a>.
              </p>
            )}
          </form>
        )}
      </div>
    </Section>
  );
}

function Deployments({ namespace, id }: { namespace: string; id: string }) {
  const { api } = useSession();
  const deps = useData((a) => a.deployments(id, namespace), [namespace, id], {
    on: (e) => e.topic === 'deployment' && (e.payload as { jobId?: string } | undefined)?.jobId === id,
  });
  const now = useNow();
  return (
    <Section title="Deployments">
      <ErrorBox error={deps.error} />
      {!deps.data ? (
        <Loading what="deployments" />
      ) : deps.data.length === 0 ? (
        <Empty>No deployments: the job has not been updated since it was first submitted.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Id</th>
                <th>Version</th>
                <th>Status</th>
                <th>Healthy / placed / desired</th>
                <th>Canaries</th>
                <th>Started</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {deps.data.map((dep) => (
                <tr key={dep.id}>
                  <td>
                    <code>{shortId(dep.id)}</code>
                  </td>
                  <td className="num">{dep.jobVersion}</td>
                  <td>
                    <Badge status={dep.status} />
                    <div className="muted small">{dep.statusDescription}</div>
                  </td>
                  <td className="num">
                    {dep.healthyAllocs} / {dep.placedAllocs} / {dep.desiredTotal}
                  </td>
                  <td className="num">{dep.desiredCanaries ? `${dep.canaries.length} of ${dep.desiredCanaries}${dep.promoted ? ', promoted' : ''}` : '–'}</td>
                  <td className="nowrap">{ago(dep.createdAt, now)}</td>
                  <td>
                    {dep.status === 'running' && dep.desiredCanaries > 0 && !dep.promoted && (
                      <ActionButton
                        kind="primary"
                        onRun={async () => {
                          await api.promote(dep.id);
                          deps.reload();
                        }}
                      >
                        Promote
                      </ActionButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

function Versions({ namespace, id }: { namespace: string; id: string }) {
  const v = useData((api) => api.versions(id, namespace), [namespace, id], { on: versionEvent(namespace, id), every: 5000 });
  const now = useNow();
  return (
    <Section title="Versions">
      <ErrorBox error={v.error} />
      {!v.data ? (
        <Loading what="versions" />
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Version</th>
                <th>Submitted</th>
                <th>Count</th>
                <th>Tasks</th>
                <th>Deployment</th>
              </tr>
            </thead>
            <tbody>
              {v.data.versions.map((x) => (
                <tr key={x.version} className={x.version === v.data!.current ? 'current' : ''}>
                  <td className="num">
                    {x.version}
                    {x.version === v.data!.current && <span className="muted small"> (current)</span>}
                  </td>
                  <td className="nowrap">{ago(x.submittedAt, now)}</td>
                  <td className="num">{x.spec.count}</td>
                  <td>
                    {x.spec.tasks.map((t) => `${t.name}: ${t.image ?? t.command ?? ''} ${cpuRequest(t.resources)} ${bytes(t.resources.memory)}`).join('; ')}
                  </td>
                  <td>{x.deployment ? <Badge status={x.deployment.status} /> : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}
