/** Overview: is the cluster healthy, how full is it, what waits and why, what just happened. */
import type { ClusterEvent, Evaluation, NodeSummary, QueueSummary, StatusResponse } from '../../../src/api/types.js';
import { href, useData, useNow, useSession } from '../app.js';
import { Badge, Bar, Empty, ErrorBox, Loading, Section, WhyWaits } from '../components.js';
import { ago, bytes, cpu, int, plural, shortId, until } from '../format.js';
import { onTopics, useLive } from '../live.js';

/** enough for the counts of any cluster we expect; a bigger one says the counts are of its first nodes */
const OVERVIEW_NODES = 1000;

export function OverviewPage() {
  const nodes = useData((api) => api.nodes({ limit: OVERVIEW_NODES }), [], { on: onTopics('node', 'alloc'), every: 2000 });
  const queue = useData((api) => api.queue('*'), [], { on: onTopics('job', 'eval', 'alloc'), every: 2000 });
  const status = useData((api) => api.status(), [], { every: 5000 });
  const list = nodes.data?.items;
  return (
    <div className="page">
      <h1>Overview</h1>
      <ErrorBox error={nodes.error ?? queue.error} />
      <div className="grid2">
        <Section title="Nodes">{list ? <NodeCounts nodes={list} more={!!nodes.data?.next} /> : <Loading what="nodes" />}</Section>
        <Section title="Capacity">{list ? <Capacity nodes={list} /> : <Loading what="capacity" />}</Section>
      </div>
      <Section title="Queued work">{queue.data ? <Queued q={queue.data} /> : <Loading what="the queue" />}</Section>
      <Section title="Servers">{status.data ? <Servers st={status.data} /> : <Loading what="the servers" />}</Section>
      <RecentEvents />
    </div>
  );
}

function NodeCounts({ nodes, more }: { nodes: NodeSummary[]; more: boolean }) {
  const count = (f: (n: NodeSummary) => boolean) => nodes.filter(f).length;
  const stats: Array<[string, number, string]> = [
    ['ready', count((n) => n.status === 'ready'), 'ready'],
    ['down', count((n) => n.status === 'down'), 'down'],
    ['initializing', count((n) => n.status === 'initializing'), 'initializing'],
    ['draining', count((n) => !!n.drain), 'draining'],
    ['ineligible', count((n) => n.eligibility === 'ineligible'), 'ineligible'],
  ];
  if (nodes.length === 0)
    return (
      <Empty>
        No nodes yet: start one with <code>baton agent --server … --token &lt;join token&gt;</code>.
      </Empty>
    );
  return (
    <div className="stats">
      {stats.map(([label, n, status]) => (
        <a key={label} className={`stat ${n === 0 ? 'zero' : ''}`} href="#/nodes">
          <span className="stat-num">{n}</span>
          <Badge status={status}>{label}</Badge>
        </a>
      ))}
      {more && <p className="muted small">Counted over the first {int(nodes.length)} nodes.</p>}
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
        Free: {cpu(sum((n) => n.capacity.cpu - n.used.cpu))} and {bytes(sum((n) => n.capacity.memory - n.used.memory))} on {up.length} ready node
        {up.length === 1 ? '' : 's'}.
      </p>
    </div>
  );
}

/** What waits for a place, counted in runs (a sweep of 100,000 is 100,000, not one job), and why. */
function Queued({ q }: { q: QueueSummary }) {
  const now = useNow();
  if (q.queued === 0 && q.waiting.length === 0) return <Empty>Nothing is waiting: every job that wants to run has a place.</Empty>;
  return (
    <>
      <p className="queue-total" data-testid="queue-total">
        <strong>{q.queued === 0 ? 'Nothing queued' : `${plural(q.queued, 'run')} queued`}</strong>
        <span className="muted">, {int(q.running)} running</span>
      </p>
      <ul className="queue">
        {q.waiting.map((w) => (
          <li key={`${w.namespace}/${w.jobId}`} data-job={w.jobId}>
            <div className="queue-head">
              <a href={href('jobs', w.namespace, w.jobId)}>{w.namespace === 'default' ? w.jobId : `${w.namespace}/${w.jobId}`}</a>
              {w.queued > 0 && <Badge status={w.blocked?.length ? 'blocked' : 'queued'}>{`${int(w.queued)} queued`}</Badge>}
              {w.running > 0 && <Badge status="running">{`${int(w.running)} running`}</Badge>}
              {w.estimatedEnd && <span className="muted small">ends ≈ {until(w.estimatedEnd, now)}</span>}
            </div>
            {w.queued > 0 && <WhyWaits blocked={w.blocked} />}
          </li>
        ))}
      </ul>
    </>
  );
}

/** Which servers share the store, which one leads (schedules) and since when. */
function Servers({ st }: { st: StatusResponse }) {
  const now = useNow();
  return (
    <>
      <p className="muted small" data-testid="leader">
        {st.leaderId ? (
          <>
            Leader <strong>{st.leaderId}</strong> since {ago(st.leaderSince, now)} (epoch {st.leaderEpoch})
          </>
        ) : (
          <strong>No leader right now: the lead is changing hands.</strong>
        )}
        {' · '}store {st.store}, index {int(st.index)}
      </p>
      <ul className="events" data-testid="servers">
        {st.servers.map((x) => (
          <li key={x.id}>
            <code>{x.id}</code>
            {x.leader && <Badge status="running">leader</Badge>}
            {x.id === st.serverId && <span className="muted small">(this page's)</span>}
            <span className="muted small">{x.url}</span>
            <span className="muted small">
              v{x.version}, started {ago(x.startedAt, now)}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}

function RecentEvents() {
  const { feed } = useSession();
  const live = useLive(feed);
  // without the stream, recent evaluations are the closest thing to an event log
  const evals = useData((api) => (live.mode === 'sse' ? Promise.resolve({ items: [] as Evaluation[] }) : api.evals({ limit: 15 })), [live.mode], {
    on: onTopics('eval'),
    every: 5000,
  });
  const now = useNow();
  if (live.mode === 'sse') {
    return (
      <Section title="Recent events">
        {live.events.length === 0 ? <Empty>No events since this page opened.</Empty> : <EventList events={live.events.slice(0, 25)} now={now} />}
      </Section>
    );
  }
  const recent = [...(evals.data?.items ?? [])].sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt));
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
