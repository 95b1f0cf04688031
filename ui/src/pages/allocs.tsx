/** Allocs: a list, and an alloc page with task states and events, live logs and memory against the limit. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { Alloc, AllocLink, TaskState } from '../../../src/api/types.js';
import { href, navigate, useData, useNow, usePager, useSession } from '../app.js';
import { aboutAlloc, onTopics } from '../live.js';
import { Badge, Empty, ErrorBox, Facts, Loading, Pager, Section, TimeChart, Bar } from '../components.js';
import { ago, bytes, cpu, duration, shortId } from '../format.js';

export function AllocTable({ allocs, hideNode }: { allocs: Alloc[]; hideNode?: boolean }) {
  const now = useNow();
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th>Alloc</th>
            <th>Name</th>
            <th>Status</th>
            {!hideNode && <th>Node</th>}
            <th>Version</th>
            <th>Resources</th>
            <th>Modified</th>
          </tr>
        </thead>
        <tbody>
          {allocs.map((a) => (
            <tr key={a.id} data-alloc={a.id}>
              <td>
                <a href={href('allocs', a.id)}>
                  <code>{shortId(a.id)}</code>
                </a>
              </td>
              <td>{a.name}</td>
              <td>
                <Badge status={a.clientStatus} />
                {a.desiredStatus === 'stop' && a.clientStatus === 'running' && <Badge status="stopped">stopping</Badge>}
                {a.clientDescription && <div className="muted small">{a.clientDescription}</div>}
              </td>
              {!hideNode && <td>{a.nodeId ? <a href={href('nodes', a.nodeId)}>{a.nodeName}</a> : '–'}</td>}
              <td className="num">{a.jobVersion}</td>
              <td className="nowrap">
                {cpu(a.resources.cpu)}, {bytes(a.resources.memory)}
              </td>
              <td className="nowrap">{ago(a.modifiedAt, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const ALLOC_STATUSES = ['pending', 'running', 'complete', 'failed', 'lost'];
const ALLOCS_PER_PAGE = 100;

/** Every alloc, oldest first (the server's order), a page at a time; ?job= ?node= ?status= ?namespace= narrow it. */
export function AllocsPage({ query }: { query: URLSearchParams }) {
  const status = query.get('status') ?? '';
  const job = query.get('job') ?? '';
  const node = query.get('node') ?? '';
  const namespace = query.get('namespace') ?? '';
  const pager = usePager([status, job, node, namespace]);
  const allocs = useData(
    (api) =>
      api.allocs({
        status: status || undefined,
        job: job || undefined,
        node: node || undefined,
        namespace: namespace || undefined,
        cursor: pager.cursor,
        limit: ALLOCS_PER_PAGE,
      }),
    [status, job, node, namespace, pager.cursor],
    { on: onTopics('alloc'), every: 3000 },
  );
  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v);
    else q.delete(k);
    navigate(`#/allocs${q.size ? `?${q}` : ''}`);
  };
  const items = allocs.data?.items;
  return (
    <div className="page">
      <h1>Allocs</h1>
      <div className="filters">
        <label className="select">
          <span>Status</span>
          <select value={status} aria-label="Status" onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">all</option>
            {ALLOC_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        {job && <FilterTag label="job" value={job} onClear={() => setFilter('job', '')} />}
        {node && <FilterTag label="node" value={shortId(node)} onClear={() => setFilter('node', '')} />}
        {namespace && <FilterTag label="namespace" value={namespace} onClear={() => setFilter('namespace', '')} />}
        <span className="muted small">oldest first</span>
      </div>
      <ErrorBox error={allocs.error} />
      {!items ? <Loading what="allocs" /> : items.length === 0 ? <Empty>No allocs.</Empty> : <AllocTable allocs={items} />}
      <Pager
        page={pager.page}
        hasNext={!!allocs.data?.next}
        onFirst={pager.first}
        onPrev={pager.prev}
        onNext={() => allocs.data?.next && pager.next(allocs.data.next)}
      />
    </div>
  );
}

function FilterTag({ label, value, onClear }: { label: string; value: string; onClear: () => void }) {
  return (
    <span className="tag filter-tag">
      {label}: {value}{' '}
      <button type="button" className="btn link" aria-label={`clear the ${label} filter`} onClick={onClear}>
        ✕
      </button>
    </span>
  );
}

export function AllocPage({ id }: { id: string }) {
  const d = useData((api) => api.alloc(id), [id], { on: aboutAlloc(id), every: 1000 });
  const now = useNow();
  if (!d.data) return <div className="page">{d.error ? <ErrorBox error={d.error} /> : <Loading what="the alloc" />}</div>;
  const a = d.data;
  const tasks = Object.keys(a.taskStates).sort();
  return (
    <div className="page">
      <p className="crumbs">
        <a href="#/jobs">Jobs</a> / <a href={href('jobs', a.namespace, a.jobId)}>{a.jobId}</a> /
      </p>
      <h1>
        {a.name} <Badge status={a.clientStatus} />
      </h1>
      <ErrorBox error={d.error} />
      <Section title="Alloc">
        <Facts
          items={[
            ['id', <code key="id">{a.id}</code>],
            [
              'node',
              a.nodeId ? (
                <a key="n" href={href('nodes', a.nodeId)}>
                  {a.nodeName}
                </a>
              ) : (
                '–'
              ),
            ],
            ['desired', `${a.desiredStatus}${a.desiredDescription ? ` (${a.desiredDescription})` : ''}`],
            ['client', `${a.clientStatus}${a.clientDescription ? ` (${a.clientDescription})` : ''}`],
            ['job version', a.jobVersion],
            ['attempt', a.attempt],
            ['resources', `${cpu(a.resources.cpu)}, ${bytes(a.resources.memory)}`],
            ['created', ago(a.createdAt, now)],
            ...(a.replacedBy ? ([['replaced by', <LinkTo key="r" link={a.replacedBy} />]] as Array<[string, ReactNode]>) : []),
            ...(a.replaces
              ? ([['replaces', <LinkTo key="p" link={a.replaces} />]] as Array<[string, ReactNode]>)
              : a.previousAllocId
                ? ([
                    [
                      'replaces',
                      <span key="p">
                        <code>{shortId(a.previousAllocId)}</code> <span className="muted small">(collected)</span>
                      </span>,
                    ],
                  ] as Array<[string, ReactNode]>)
                : []),
            ...(a.preemptedBy ? ([['preempted by', a.preemptedBy]] as Array<[string, string]>) : []),
          ]}
        />
      </Section>
      {tasks.map((t) => (
        <TaskSection key={t} name={t} state={a.taskStates[t]} now={now} />
      ))}
      {tasks.length === 0 && <Empty>The agent has not reported on this alloc yet.</Empty>}
      <MemoryChart alloc={a} />
      {tasks.length > 0 && <Logs allocId={a.id} tasks={tasks} />}
    </div>
  );
}

/** the other end of a replacement: a link to that alloc, where it ran, its status and why the replaced one was replaced */
function LinkTo({ link }: { link: AllocLink }) {
  return (
    <span data-replacement={link.id}>
      <a href={href('allocs', link.id)}>
        <code>{shortId(link.id)}</code>
      </a>
      {link.nodeName ? ` on ${link.nodeName}` : ''} <Badge status={link.clientStatus} /> <span className="muted small">{link.reason}</span>
    </span>
  );
}

function TaskSection({ name, state: s, now }: { name: string; state: TaskState; now: number }) {
  return (
    <Section title={`Task ${name}`}>
      <div className="badges">
        <Badge status={s.state === 'dead' ? (s.failed ? 'failed' : 'complete') : s.state}>
          {s.state === 'dead' ? (s.failed ? 'failed' : 'finished') : s.state}
        </Badge>
        {s.oomKilled && <Badge status="oom-killed">OOM killed</Badge>}
        {s.timedOut && <Badge status="timed-out">timed out</Badge>}
        {s.health && <Badge status={s.health} />}
      </div>
      <Facts
        items={[
          ['exit code', s.exitCode ?? '–'],
          ...(s.signal ? ([['signal', s.signal]] as Array<[string, string]>) : []),
          ['restarts', s.restarts],
          ['started', ago(s.startedAt, now)],
          ['ran for', s.startedAt ? duration((s.finishedAt ? Date.parse(s.finishedAt) : now) - Date.parse(s.startedAt)) : '–'],
          ['peak memory', s.peakMemory !== undefined ? `${bytes(s.peakMemory)}${s.memoryLimit ? ` of ${bytes(s.memoryLimit)}` : ''}` : '–'],
          ['cpu time', s.cpuNanos !== undefined ? duration(s.cpuNanos / 1e6) : '–'],
        ]}
      />
      {s.checks && Object.keys(s.checks).length > 0 && (
        <ul className="checks">
          {Object.entries(s.checks).map(([c, st]) => (
            <li key={c}>
              <Badge status={st.status} /> {c} <span className="muted small">{st.output}</span>
            </li>
          ))}
        </ul>
      )}
      {s.events.length > 0 && (
        <div className="table-wrap">
          <table className="table events-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Event</th>
                <th>Message</th>
              </tr>
            </thead>
            <tbody>
              {[...s.events].reverse().map((e, i) => (
                <tr key={i}>
                  <td className="nowrap" title={e.time}>
                    {ago(e.time, now)}
                  </td>
                  <td>
                    <span className={`tag ${/OOM|Fail|Kill/.test(e.type) ? 'tag-bad' : ''}`}>{e.type}</span>
                  </td>
                  <td>{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

/**
 * Memory used against the limit, with the OOM kill marked. Samples come from
 * GET /v1/allocs/:id/usage; without them (an older server, or a run too short to
 * sample) the peak and the limit the agent reported still tell the story.
 */
function MemoryChart({ alloc }: { alloc: Alloc }) {
  // samples come with heartbeats, which send no event
  const usage = useData((api) => api.allocUsage(alloc.id), [alloc.id], { on: aboutAlloc(alloc.id), every: 5000, tick: 10_000 });
  const states = Object.entries(alloc.taskStates);
  const oom = states.filter(([, s]) => s.oomKilled);
  const markers = oom.map(([t, s]) => {
    const ev = s.events.find((e) => e.type === 'OOMKilled');
    return { time: Date.parse(ev?.time ?? s.finishedAt ?? alloc.modifiedAt), label: `OOM kill (${t})` };
  });
  const limit = usage.data?.memoryLimit ?? states.reduce((m, [, s]) => m + (s.memoryLimit ?? 0), 0) ?? alloc.resources.memory;
  const taskSeries = Object.entries(usage.data?.tasks ?? {});
  const samples = usage.data?.samples ?? [];
  const series =
    taskSeries.length > 1
      ? taskSeries.map(([t, ss], i) => ({ name: t, className: `s-${i % 4}`, points: ss.map((x) => [Date.parse(x.time), x.memory] as [number, number]) }))
      : [{ name: 'memory used', className: 's-mem', points: samples.map((x) => [Date.parse(x.time), x.memory] as [number, number]) }];
  const hasSamples = series.some((s) => s.points.length > 0);
  const limitValue = limit || alloc.resources.memory;
  return (
    <Section title="Memory">
      {hasSamples ? (
        <TimeChart
          label="memory used against the limit"
          format={bytes}
          series={series}
          limit={{ value: limitValue, label: `limit ${bytes(limitValue)}` }}
          markers={markers}
        />
      ) : usage.data || usage.error ? (
        <div className="bars">
          {states.map(([t, s]) => (
            <div key={t}>
              <Bar
                label={t}
                used={s.peakMemory ?? 0}
                total={s.memoryLimit ?? alloc.taskResources?.[t]?.memory ?? alloc.resources.memory}
                format={bytes}
                title={`peak ${bytes(s.peakMemory)} of limit ${bytes(s.memoryLimit)}`}
              />
              {s.peakMemory === undefined && !s.oomKilled && <p className="muted small">{t}: no memory sample reported yet.</p>}
              {s.oomKilled && (
                <p className="why never">
                  OOM killed: it reached its {bytes(s.memoryLimit)} limit (peak {bytes(s.peakMemory)}).
                </p>
              )}
            </div>
          ))}
          <p className="muted small">
            Peak against limit, as the agent reported it{usage.error?.status === 404 ? ' (this server keeps no usage samples)' : ''}.
          </p>
        </div>
      ) : (
        <Loading what="usage" />
      )}
    </Section>
  );
}

const MAX_LOG_CHARS = 512 * 1024;

/** Follows a task's log with the API's long poll: each answer says where to ask next. */
function Logs({ allocId, tasks }: { allocId: string; tasks: string[] }) {
  const { api } = useSession();
  const [task, setTask] = useState(tasks[0]);
  const [stream, setStream] = useState<'stdout' | 'stderr'>('stdout');
  const [text, setText] = useState('');
  const [state, setState] = useState<'following' | 'complete' | 'error'>('following');
  const [error, setError] = useState<string>();
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    const ctl = new AbortController();
    setText('');
    setState('following');
    setError(undefined);
    stick.current = true;
    // the loop catches its own errors and ends when the effect's cleanup aborts it
    void (async () => {
      let offset = 0;
      while (!ctl.signal.aborted) {
        try {
          const r = await api.logs(allocId, { task, stream, offset, wait: '30s' }, ctl.signal);
          if (r.data) setText((t) => (t + r.data).slice(-MAX_LOG_CHARS));
          offset = r.nextOffset;
          setError(undefined);
          if (r.complete) {
            setState('complete');
            return;
          }
          setState('following');
        } catch (e) {
          if (ctl.signal.aborted) return;
          setState('error');
          setError((e as Error).message);
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    })();
    return () => ctl.abort();
  }, [api, allocId, task, stream]);

  useEffect(() => {
    if (stick.current && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text]);

  return (
    <Section
      title="Logs"
      actions={
        <>
          {tasks.length > 1 && (
            <select value={task} onChange={(e) => setTask(e.target.value)} aria-label="task">
              {tasks.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          )}
          <select value={stream} onChange={(e) => setStream(e.target.value as 'stdout' | 'stderr')} aria-label="stream">
            <option>stdout</option>
            <option>stderr</option>
          </select>
          <span className={`log-state log-${state}`} data-log-state={state}>
            {state === 'following' ? 'following' : state === 'complete' ? 'ended' : 'retrying'}
          </span>
        </>
      }
    >
      <ErrorBox error={error} />
      <pre
        className="logs"
        ref={pre}
        data-testid="logs"
        onScroll={(e) => {
          const el = e.currentTarget;
          // keep following only while the reader is at the bottom
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {text || (state === 'complete' ? '(no output)' : '')}
      </pre>
    </Section>
  );
}
