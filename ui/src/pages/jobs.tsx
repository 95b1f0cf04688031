/** Jobs: a filterable list; a job page with allocs, versions, deployments, sweep progress and actions. */
import { useMemo, useState } from 'react';
import type { JobDetail, JobSummary, RunOutcome, RunRow } from '../../../src/api/types.js';
import { href, navigate, useData, useNow, useSession } from '../app.js';
import { ActionButton, Badge, Empty, ErrorBox, Facts, Loading, Section } from '../components.js';
import { ago, bytes, cpu, duration, shortId } from '../format.js';
import { AllocTable } from './allocs.js';

const TYPES = ['batch', 'service', 'system', 'parameterized', 'periodic'];
const STATUSES = ['pending', 'running', 'complete', 'failed', 'stopped'];

function kind(j: { type: string; children?: unknown; nextLaunch?: string }): string {
  if (j.nextLaunch) return 'periodic';
  if (j.children) return 'parameterized';
  return j.type;
}

export function JobsPage({ query }: { query: URLSearchParams }) {
  const jobs = useData((api) => api.jobs('*'), []);
  const type = query.get('type') ?? '';
  const ns = query.get('namespace') ?? '';
  const status = query.get('status') ?? '';
  const namespaces = useMemo(() => [...new Set((jobs.data ?? []).map((j) => j.namespace))].sort(), [jobs.data]);
  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v);
    else q.delete(k);
    navigate(`#/jobs${q.size ? `?${q}` : ''}`);
  };
  const shown = (jobs.data ?? []).filter((j) => (!type || kind(j) === type || j.type === type) && (!ns || j.namespace === ns) && (!status || j.status === status));
  return (
    <div className="page">
      <h1>Jobs</h1>
      <div className="filters">
        <Select label="Type" value={type} options={TYPES} onChange={(v) => setFilter('type', v)} />
        <Select label="Namespace" value={ns} options={namespaces} onChange={(v) => setFilter('namespace', v)} />
        <Select label="Status" value={status} options={STATUSES} onChange={(v) => setFilter('status', v)} />
      </div>
      <ErrorBox error={jobs.error} />
      {!jobs.data ? (
        <Loading what="jobs" />
      ) : shown.length === 0 ? (
        <Empty>{jobs.data.length === 0 ? 'No jobs yet: submit one with `baton job run job.yaml`.' : 'No job matches these filters.'}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Type</th>
                <th>Status</th>
                <th>Allocs</th>
                <th>Priority</th>
                <th>Submitted</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((j) => (
                <JobRow key={`${j.namespace}/${j.id}`} j={j} />
              ))}
            </tbody>
          </table>
        </div>
      )}
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
        <Badge status={j.blocked?.length ? 'blocked' : j.status}>{j.blocked?.length ? 'blocked' : j.status}</Badge>
      </td>
      <td className="nowrap"><Counts c={j.allocs} /></td>
      <td className="num">{j.priority}</td>
      <td className="nowrap">{ago(j.submittedAt, now)}</td>
    </tr>
  );
}

function Counts({ c }: { c: object }) {
  const parts = (Object.entries(c) as Array<[string, number]>).filter(([, n]) => n > 0);
  if (parts.length === 0) return <span className="muted">–</span>;
  return (
    <span className="counts">
      {parts.map(([k, n]) => (
        <Badge key={k} status={k}>{`${n} ${k}`}</Badge>
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
          <option key={o} value={o}>{o}</option>
        ))}
      </select>
    </label>
  );
}

export function JobPage({ namespace, id }: { namespace: string; id: string }) {
  const d = useData((api) => api.job(id, namespace), [namespace, id]);
  if (!d.data) return <div className="page">{d.error ? <ErrorBox error={d.error} /> : <Loading what="the job" />}</div>;
  const { job, summary, allocs } = d.data;
  const spec = job.spec;
  const isParent = !!spec.parameterized || !!spec.periodic;
  const showRuns = isParent || (spec.type === 'batch' && spec.count > 1) || !!summary.children;
  return (
    <div className="page">
      <p className="crumbs">
        <a href="#/jobs">Jobs</a> /{job.namespace !== 'default' && ` ${job.namespace} /`}
        {job.parentId && (
          <>
            {' '}<a href={href('jobs', job.namespace, job.parentId)}>{job.parentId}</a> /
          </>
        )}
      </p>
      <h1>
        {job.id} <Badge status={summary.blocked?.length ? 'blocked' : summary.status}>{summary.blocked?.length ? 'blocked' : summary.status}</Badge>
      </h1>
      <ErrorBox error={d.error} />
      <div className="grid2">
        <Section title="Job">
          <Facts
            items={[
              ['type', kind(summary)],
              ['version', job.version],
              ['count', spec.count],
              ['priority', spec.priority],
              ['tasks', spec.tasks.map((t) => `${t.name} (${t.driver}, ${cpu(t.resources.cpu)}, ${bytes(t.resources.memory)})`).join('; ')],
              ['allocs', <Counts key="c" c={summary.allocs} />],
              ...(job.dispatch ? ([['meta', Object.entries(job.dispatch.meta).map(([k, v]) => `${k}=${v}`).join(' ') || '–']] as Array<[string, string]>) : []),
              ...(summary.nextLaunch ? ([['next launch', summary.nextLaunch]] as Array<[string, string]>) : []),
            ]}
          />
          {summary.blocked?.length ? (
            <div className="blocked">
              <h3>Why it waits</h3>
              {summary.blocked.map((b, i) => (
                <p key={i} className={`why ${b.neverFits ? 'never' : ''}`}>
                  <strong>{b.dimension}</strong>: {b.message}
                  {b.neverFits && <em> — no node could ever fit this; waiting will not help</em>}
                </p>
              ))}
            </div>
          ) : null}
        </Section>
        <JobActions detail={d.data} reload={d.reload} />
      </div>
      {showRuns && <Runs namespace={namespace} id={id} />}
      <Section title="Allocs">{allocs.length === 0 ? <Empty>{isParent ? 'A parent job has no allocs of its own: its runs are child jobs.' : 'No allocs yet.'}</Empty> : <AllocTable allocs={allocs} />}</Section>
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
            <ActionButton kind="primary" onRun={async () => { await api.startJob(job.id, ns); reload(); }}>Start again</ActionButton>
          ) : (
            <ActionButton kind="danger" confirm={`Stop job ${job.id}? Its allocs will be stopped.`} onRun={async () => { await api.stopJob(job.id, ns); reload(); }}>
              Stop job
            </ActionButton>
          )}
        </div>
        {!p && !job.spec.periodic && job.spec.type !== 'system' && (
          <form className="op row" onSubmit={(e) => e.preventDefault()}>
            <label htmlFor="scale-count">Count</label>
            <input id="scale-count" type="number" min={0} value={count} onChange={(e) => setCount(e.target.value)} style={{ width: '6em' }} />
            <ActionButton onRun={async () => { await api.scaleJob(job.id, ns, Number(count)); reload(); }} disabled={!/^\d+$/.test(count) || Number(count) === job.spec.count}>
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

const OUTCOME_ORDER: RunOutcome[] = ['complete', 'running', 'queued', 'failed', 'oom-killed', 'timed-out', 'lost', 'preempted', 'stopped'];
type SortKey = 'index' | 'outcome' | 'node' | 'attempt' | 'durationMs' | 'peakMemory' | 'requestedMemory';

function Runs({ namespace, id }: { namespace: string; id: string }) {
  const runs = useData((api) => api.runs(id, namespace), [namespace, id]);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'index', desc: false });
  const rows = useMemo(() => {
    const r = [...(runs.data?.runs ?? [])];
    const val = (x: RunRow): number | string => (sort.key === 'outcome' ? OUTCOME_ORDER.indexOf(x.outcome) : sort.key === 'node' ? x.node ?? '' : x[sort.key] ?? -1);
    r.sort((a, b) => {
      const va = val(a);
      const vb = val(b);
      const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
      return sort.desc ? -c : c;
    });
    return r;
  }, [runs.data, sort]);
  if (!runs.data) return <Section title="Runs">{runs.error ? <ErrorBox error={runs.error} /> : <Loading what="runs" />}</Section>;
  const total = runs.data.runs.length;
  const by = new Map<string, number>();
  for (const r of runs.data.runs) by.set(r.outcome, (by.get(r.outcome) ?? 0) + 1);
  const finished = runs.data.runs.filter((r) => !['queued', 'running'].includes(r.outcome)).length;
  const metaKeys = [...new Set(runs.data.runs.flatMap((r) => Object.keys(r.meta)))];
  const th = (key: SortKey, label: string) => (
    <th aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" className="sort" onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : false })}>
        {label}
        {sort.key === key ? (sort.desc ? ' ▾' : ' ▴') : ''}
      </button>
    </th>
  );
  return (
    <Section title={`Runs: ${finished} of ${total} finished`}>
      <div className="progress" role="img" aria-label={`${finished} of ${total} runs finished`}>
        {OUTCOME_ORDER.filter((o) => by.get(o)).map((o) => (
          <span key={o} className={`seg seg-${o}`} style={{ flexGrow: by.get(o) }} title={`${by.get(o)} ${o}`} />
        ))}
      </div>
      <p className="counts">
        {OUTCOME_ORDER.filter((o) => by.get(o)).map((o) => (
          <Badge key={o} status={o}>{`${by.get(o)} ${o}`}</Badge>
        ))}
      </p>
      {total === 0 ? (
        <Empty>No runs yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table runs">
            <thead>
              <tr>
                {th('index', '#')}
                {metaKeys.map((k) => (
                  <th key={k}>{k}</th>
                ))}
                {th('outcome', 'Outcome')}
                <th>Reason</th>
                {th('node', 'Node')}
                {th('attempt', 'Attempt')}
                {th('durationMs', 'Duration')}
                {th('peakMemory', 'Peak memory')}
                {th('requestedMemory', 'Requested')}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.jobId}-${r.index}`}>
                  <td className="num">{r.allocId ? <a href={href('allocs', r.allocId)}>{r.index}</a> : r.index}</td>
                  {metaKeys.map((k) => (
                    <td key={k}>{r.meta[k] ?? ''}</td>
                  ))}
                  <td><Badge status={r.outcome} /></td>
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
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

function Deployments({ namespace, id }: { namespace: string; id: string }) {
  const { api } = useSession();
  const deps = useData((a) => a.deployments(id, namespace), [namespace, id]);
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
                  <td><code>{shortId(dep.id)}</code></td>
                  <td className="num">{dep.jobVersion}</td>
                  <td>
                    <Badge status={dep.status} />
                    <div className="muted small">{dep.statusDescription}</div>
                  </td>
                  <td className="num">{dep.healthyAllocs} / {dep.placedAllocs} / {dep.desiredTotal}</td>
                  <td className="num">{dep.desiredCanaries ? `${dep.canaries.length} of ${dep.desiredCanaries}${dep.promoted ? ', promoted' : ''}` : '–'}</td>
                  <td className="nowrap">{ago(dep.createdAt, now)}</td>
                  <td>
                    {dep.status === 'running' && dep.desiredCanaries > 0 && !dep.promoted && (
                      <ActionButton kind="primary" onRun={async () => { await api.promote(dep.id); deps.reload(); }}>Promote</ActionButton>
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
  const v = useData((api) => api.versions(id, namespace), [namespace, id]);
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
                  <td>{x.spec.tasks.map((t) => `${t.name}: ${t.image ?? t.command ?? ''} ${cpu(t.resources.cpu)} ${bytes(t.resources.memory)}`).join('; ')}</td>
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
