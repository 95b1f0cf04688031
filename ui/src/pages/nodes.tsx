/** Nodes: one row each; a node page with its allocs, an hour of cpu/memory, drain and eligibility. */
import { useState } from 'react';
import type { NodeSummary } from '../../../src/api/types.js';
import { href, useData, useNow, usePager, useSession } from '../app.js';
import { aboutNode, onTopics } from '../live.js';
import { ActionButton, Badge, Bar, Empty, ErrorBox, Facts, Loading, Pager, Section, TimeChart } from '../components.js';
import { ago, bytes, cpu } from '../format.js';
import { AllocTable } from './allocs.js';

function heartbeatAge(n: NodeSummary, now: number): string {
  return ago(n.lastHeartbeatAt, now);
}

function NodeStatus({ n }: { n: NodeSummary }) {
  return (
    <span className="badges">
      <Badge status={n.status} />
      {n.drain && <Badge status="draining">draining</Badge>}
      <Badge status={n.eligibility} />
    </span>
  );
}

const NODES_PER_PAGE = 100;

export function NodesPage() {
  const pager = usePager([]);
  const nodes = useData((api) => api.nodes({ cursor: pager.cursor, limit: NODES_PER_PAGE }), [pager.cursor], { on: onTopics('node', 'alloc'), every: 3000 });
  const now = useNow();
  const items = nodes.data?.items;
  return (
    <div className="page">
      <h1>Nodes</h1>
      <ErrorBox error={nodes.error} />
      {!items ? (
        <Loading what="nodes" />
      ) : items.length === 0 ? (
        <Empty>No nodes have joined yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th className="col-bars">Capacity</th>
                <th>Allocs</th>
                <th>Drivers</th>
                <th>Labels</th>
                <th>Heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {items.map((n) => (
                <tr key={n.id} data-node={n.name}>
                  <td>
                    <a href={href('nodes', n.id)}>{n.name}</a>
                    <div className="muted small">{n.nodeClass || n.datacenter}</div>
                  </td>
                  <td>
                    <NodeStatus n={n} />
                  </td>
                  <td className="col-bars">
                    <Bar label="cpu" used={n.used.cpu} total={n.capacity.cpu} format={cpu} />
                    <Bar label="mem" used={n.used.memory} total={n.capacity.memory} format={bytes} />
                  </td>
                  <td className="num">{n.allocCount}</td>
                  <td>
                    <Drivers n={n} />
                  </td>
                  <td>
                    <Labels labels={n.labels} />
                  </td>
                  <td className="nowrap">{heartbeatAge(n, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        page={pager.page}
        hasNext={!!nodes.data?.next}
        onFirst={pager.first}
        onPrev={pager.prev}
        onNext={() => nodes.data?.next && pager.next(nodes.data.next)}
      />
    </div>
  );
}

function Drivers({ n }: { n: NodeSummary }) {
  return (
    <span className="tags">
      {Object.entries(n.drivers).map(([d, info]) => (
        <span key={d} className={`tag ${info.healthy ? '' : 'tag-bad'}`} title={info.detail}>
          {d}
          {!info.healthy && ' ✗'}
        </span>
      ))}
    </span>
  );
}

function Labels({ labels }: { labels: Record<string, string> }) {
  const e = Object.entries(labels);
  if (e.length === 0) return <span className="muted">–</span>;
  return (
    <span className="tags">
      {e.map(([k, v]) => (
        <span key={k} className="tag">
          {k}={v}
        </span>
      ))}
    </span>
  );
}

export function NodePage({ id }: { id: string }) {
  const { api } = useSession();
  const d = useData((a) => a.node(id), [id], { on: aboutNode(id), every: 2000 });
  const now = useNow();
  const [deadline, setDeadline] = useState('10m');
  if (!d.data) return <div className="page">{d.error ? <ErrorBox error={d.error} /> : <Loading what="the node" />}</div>;
  const { node: n, allocs } = d.data;
  // the server sends what runs here and the most recent of what finished, newest last
  const live = allocs.filter((a) => a.clientStatus === 'running' || a.clientStatus === 'pending');
  const done = allocs.filter((a) => !live.includes(a)).reverse();
  return (
    <div className="page">
      <p className="crumbs">
        <a href="#/nodes">Nodes</a> /
      </p>
      <h1>
        {n.name} <NodeStatus n={n} />
      </h1>
      <ErrorBox error={d.error} />
      <div className="grid2">
        <Section title="Capacity">
          <div className="bars">
            <Bar label="CPU" used={n.used.cpu} total={n.capacity.cpu} format={cpu} />
            <Bar label="Memory" used={n.used.memory} total={n.capacity.memory} format={bytes} />
          </div>
          <Facts
            items={[
              ['heartbeat', heartbeatAge(n, now)],
              ['class', n.nodeClass || '–'],
              ['datacenter', n.datacenter],
              ['address', n.address ?? '–'],
              ['drivers', <Drivers key="d" n={n} />],
              ['labels', <Labels key="l" labels={n.labels} />],
              ['reserved', `${cpu(n.reserved.cpu)}, ${bytes(n.reserved.memory)}`],
              ['os', n.attributes['os.name'] ?? '–'],
              ['id', <code key="id">{n.id}</code>],
            ]}
          />
        </Section>
        <Section title="Operations">
          <div className="ops">
            {n.drain ? (
              <div className="op">
                <p>
                  Draining since {ago(n.drain.startedAt, now)}; deadline {ago(n.drain.deadline, now)}.
                </p>
                <ActionButton
                  onRun={async () => {
                    await api.drain(n.id, { cancel: true });
                    d.reload();
                  }}
                >
                  Cancel drain
                </ActionButton>
              </div>
            ) : (
              <form className="op" onSubmit={(e) => e.preventDefault()}>
                <label htmlFor="drain-deadline">Drain: move its allocs elsewhere; batch runs may finish until the deadline</label>
                <div className="row">
                  <input id="drain-deadline" value={deadline} onChange={(e) => setDeadline(e.target.value)} size={6} aria-label="drain deadline" />
                  <ActionButton
                    kind="danger"
                    onRun={async () => {
                      await api.drain(n.id, { deadline: deadline.trim() || undefined });
                      d.reload();
                    }}
                  >
                    Drain node
                  </ActionButton>
                </div>
              </form>
            )}
            <div className="op">
              <p>{n.eligibility === 'eligible' ? 'The scheduler may place new work here.' : 'The scheduler places no new work here.'}</p>
              <ActionButton
                onRun={async () => {
                  await api.eligibility(n.id, n.eligibility !== 'eligible');
                  d.reload();
                }}
              >
                {n.eligibility === 'eligible' ? 'Make ineligible' : 'Make eligible'}
              </ActionButton>
            </div>
          </div>
        </Section>
      </div>
      <NodeUsage id={n.id} capacity={n.capacity} />
      <Section title={`Allocs (${live.length} running or pending)`}>
        {live.length === 0 ? <Empty>Nothing runs on this node.</Empty> : <AllocTable allocs={live} hideNode />}
      </Section>
      {done.length > 0 && (
        <Section title="Recently finished allocs" actions={<a href={`#/allocs?node=${encodeURIComponent(n.id)}`}>all allocs of this node</a>}>
          <AllocTable allocs={done} hideNode />
        </Section>
      )}
    </div>
  );
}

function NodeUsage({ id, capacity }: { id: string; capacity: { cpu: number; memory: number } }) {
  // samples come with heartbeats, which send no event: looked at again every 10 s
  const usage = useData((api) => api.nodeUsage(id), [id], { on: false, tick: 10_000 });
  const now = Date.now();
  const samples = (usage.data?.samples ?? []).filter((s) => Date.parse(s.time) >= now - 3600_000);
  // the last hour, but zoomed in while the history is shorter than ten minutes so it stays readable
  const from = Math.max(now - 3600_000, Math.min(samples.length ? Date.parse(samples[0].time) : now, now - 600_000));
  const body =
    usage.error?.status === 404 || (usage.data && samples.length === 0) ? (
      <Empty>No usage samples yet: this server or agent does not report usage, or the node just joined.</Empty>
    ) : usage.error ? (
      <ErrorBox error={usage.error} />
    ) : !usage.data ? (
      <Loading what="usage" />
    ) : (
      <div className="grid2">
        <TimeChart
          from={from}
          to={now}
          label="cpu used over the last hour"
          format={cpu}
          limit={{ value: capacity.cpu, label: 'capacity' }}
          series={[{ name: 'cpu', className: 's-cpu', points: samples.map((s) => [Date.parse(s.time), s.cpu]) }]}
        />
        <TimeChart
          from={from}
          to={now}
          label="memory used over the last hour"
          format={bytes}
          limit={{ value: capacity.memory, label: 'capacity' }}
          series={[{ name: 'memory', className: 's-mem', points: samples.map((s) => [Date.parse(s.time), s.memory]) }]}
        />
      </div>
    );
  return <Section title="Usage, last hour">{body}</Section>;
}
