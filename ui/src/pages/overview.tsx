/** Overview: is the cluster healthy, how full is it, what waits and why, what just happened. */
import type { ClusterEvent, Evaluation, JobSummary, NodeSummary } from '../../../src/api/types.js';
import { href, useData, useNow, useSession } from '../app.js';
import { Badge, Bar, Empty, ErrorBox, Loading, Section } from '../components.js';
import { ago, bytes, cpu, shortId } from '../format.js';
import { useLive } from '../live.js';

export function OverviewPage() {
  const nodes = useData((api) => api.nodes(), []);
  const jobs = useData((api) => api.jobs('*'), []);
  return (
    <div className="page">
      <h1>Overview</h1>
      <ErrorBox error={nodes.error ?? jobs.error} />
      <div className="grid2">
        <Section title="Nodes">{nodes.data ? <NodeCounts nodes={nodes.data} /> : <Loading what="nodes" />}</Section>
        <Section title="Capacity">{nodes.data ? <Capacity nodes={nodes.data} /> : <Loading what="capacity" />}</Section>
      </div>
      <Section title="Queued work">{jobs.data ? <Queued jobs={jobs.data} /> : <Loading what="jobs" />}</Section>
      <RecentEvents />
    </div>
  );
}

function NodeCounts({ nodes }: { nodes: NodeSummary[] }) {
  const count = (f: (n: NodeSummary) => boolean) => nodes.filter(f).length;
  const stats: Array<[string, number, string]> = [
    ['ready', count((n) => n.status === 'ready'), 'ready'],
    ['down', count((n) => n.status === 'down'), 'down'],
    ['initializing', count((n) => n.status === 'initializing'), 'initializing'],
    ['draining', count((n) => !!n.drain), 'draining'],
    ['ineligible', count((n) => n.eligibility === 'ineligible'), 'ineligible'],
  ];
  if (nodes.length === 0) return <Empty>No nodes yet: start one with <code>baton agent --server … --token &lt;join token&gt;</code>.</Empty>;
  return (
    <div className="stats">
      {stats.map(([label, n, status]) => (
        <a key={label} className={`stat ${n === 0 ? 'zero' : ''}`} href="#/nodes">
          <span className="stat-num">{n}</span>
          <Badge status={status}>{label}</Badge>
        </a>
      ))}
    </div>
  );
}

function Capacity({ nodes }: { nodes: NodeSummary[] }) {
  // capacity of nodes that can take work: a down node's capacity is not there to use
  const up = nodes.filter((n) => n.status === 'ready');
  const sum = (f: (n: NodeSummary) => number) => up.reduce((a, n) => a + f(n), 0);
  if (up.length === 0) return <Empty>No ready nodes.</Empty>;
  return (
    <div className="bars">
      <Bar label="CPU" used={sum((n) => n.used.cpu)} total={sum((n) => n.capacity.cpu)} format={cpu} />
      <Bar label="Memory" used={sum((n) => n.used.memory)} total={sum((n) => n.capacity.memory)} format={bytes} />
      <p className="muted small">
        Free: {cpu(sum((n) => n.capacity.cpu - n.used.cpu))} and {bytes(sum((n) => n.capacity.memory - n.used.memory))} on {up.length} ready node{up.length === 1 ? '' : 's'}.
      </p>
    </div>
  );
}

function Queued({ jobs }: { jobs: JobSummary[] }) {
  const waiting = jobs.filter((j) => j.allocs.pending > 0 || (j.blocked?.length ?? 0) > 0 || j.status === 'pending');
  if (waiting.length === 0) return <Empty>Nothing is waiting: every job that wants to run has a place.</Empty>;
  return (
    <ul className="queue">
      {waiting.map((j) => (
        <li key={`${j.namespace}/${j.id}`}>
          <div className="queue-head">
            <a href={href('jobs', j.namespace, j.id)}>{j.namespace === 'default' ? j.id : `${j.namespace}/${j.id}`}</a>
            <Badge status={j.blocked?.length ? 'blocked' : j.status}>{j.blocked?.length ? 'blocked' : j.status}</Badge>
            <span className="muted small">{j.allocs.pending > 0 ? `${j.allocs.pending} pending` : 'waiting for capacity'}</span>
          </div>
          {j.blocked?.map((b, i) => (
            <p key={i} className={`why ${b.neverFits ? 'never' : ''}`}>
              <strong>{b.dimension}</strong>: {b.message}
              {b.neverFits && <em> — no node could ever fit this; waiting will not help</em>}
            </p>
          ))}
        </li>
      ))}
    </ul>
  );
}

function RecentEvents() {
  const { feed } = useSession();
  const live = useLive(feed);
  // without the stream, recent evaluations are the closest thing to an event log
  const evals = useData((api) => (live.mode === 'sse' ? Promise.resolve([] as Evaluation[]) : api.evals('*')), [live.mode]);
  const now = useNow();
  if (live.mode === 'sse') {
    return (
      <Section title="Recent events">
        {live.events.length === 0 ? <Empty>No events since this page opened.</Empty> : <EventList events={live.events.slice(0, 25)} now={now} />}
      </Section>
    );
  }
  const recent = [...(evals.data ?? [])].sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt)).slice(0, 15);
  return (
    <Section title="Recent activity">
      {!evals.data ? (
        <Loading what="evaluations" />
      ) : recent.length === 0 ? (
        <Empty>Nothing has happened yet.</Empty>
      ) : (
        <ul className="events">
          {recent.map((e) => (
            <li key={e.id}>
              <span className="muted small">{ago(e.modifiedAt, now)}</span>
              <span>
                eval <code>{shortId(e.id)}</code> for <a href={href('jobs', e.namespace, e.jobId)}>{e.jobId}</a> ({e.triggeredBy})
              </span>
              <Badge status={e.status} />
              {e.statusDescription && <span className="muted small">{e.statusDescription}</span>}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function eventLink(e: ClusterEvent): string | undefined {
  if (e.topic === 'job') return href('jobs', e.namespace ?? 'default', e.key);
  if (e.topic === 'alloc') return href('allocs', e.key);
  if (e.topic === 'node') return href('nodes', e.key);
  return undefined;
}

function EventList({ events, now }: { events: ClusterEvent[]; now: number }) {
  return (
    <ul className="events">
      {events.map((e) => {
        const link = eventLink(e);
        return (
          <li key={`${e.index}-${e.topic}-${e.key}-${e.type}`}>
            <span className="muted small">{ago(e.time, now)}</span>
            <Badge status={e.topic}>{e.type}</Badge>
            {link ? <a href={link}>{e.topic === 'job' ? e.key : shortId(e.key)}</a> : <code>{shortId(e.key)}</code>}
            {e.namespace && e.namespace !== 'default' && <span className="muted small">{e.namespace}</span>}
          </li>
        );
      })}
    </ul>
  );
}
