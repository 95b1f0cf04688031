/**
 * Prometheus metrics (GET /metrics). Gauges are computed from the store when
 * scraped, so they can never drift from the state; histograms are observed
 * where the work happens (eval worker, every HTTP response). Each store gets
 * its own registry: tests run several servers in one process.
 */
import { Gauge, Histogram, Registry } from 'prom-client';
import type { StoredRunStats } from '../jobs/run-stats.js';
import type { Store } from '../store/store.js';
import type { UsageHistory } from './usage-history.js';

const NODE_STATUSES = ['ready', 'down'];
const ALLOC_STATUSES = ['pending', 'running', 'complete', 'failed', 'lost'];
const JOB_STATUSES = ['pending', 'running', 'complete', 'failed', 'stopped'];

const FINISHED_COUNT_MS = 60_000;

export class Metrics {
  private finishedAllocs: { at: number; rows: Array<{ client_status: string; n: number }> } | undefined;
  readonly registry = new Registry();
  readonly nodes = new Gauge({ name: 'baton_nodes', help: 'Nodes by status', labelNames: ['status'], registers: [this.registry] });
  readonly allocs = new Gauge({ name: 'baton_allocs', help: 'Allocations by client status', labelNames: ['client_status'], registers: [this.registry] });
  readonly jobs = new Gauge({
    name: 'baton_jobs',
    help: 'Jobs by status (dispatched and periodic runs included)',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly evalsPending = new Gauge({ name: 'baton_evals_pending', help: 'Evaluations waiting for the scheduler', registers: [this.registry] });
  readonly evalsBlocked = new Gauge({ name: 'baton_evals_blocked', help: 'Evaluations blocked until capacity frees up', registers: [this.registry] });
  readonly evalWait = new Histogram({
    name: 'baton_eval_wait_seconds',
    help: 'Time from an evaluation being due to the scheduler taking it',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly scheduling = new Histogram({
    name: 'baton_scheduling_seconds',
    help: 'Duration of one schedule() run (reconcile, feasibility, ranking)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly planApply = new Histogram({
    name: 'baton_plan_apply_seconds',
    help: 'Duration of checking and committing one plan',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly http = new Histogram({
    name: 'baton_http_request_seconds',
    help: 'API latency by method, route and status (blocking queries hold requests open on purpose)',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly nodeCpu = new Gauge({
    name: 'baton_node_cpu_used_millicores',
    help: "CPU used by a node's tasks, from its latest heartbeat",
    labelNames: ['node'],
    registers: [this.registry],
  });
  readonly nodeMemory = new Gauge({
    name: 'baton_node_memory_used_bytes',
    help: "Memory used by a node's tasks, from its latest heartbeat",
    labelNames: ['node'],
    registers: [this.registry],
  });
  readonly nodeMemoryCapacity = new Gauge({
    name: 'baton_node_memory_capacity_bytes',
    help: 'Memory a node offers to baton (reserved memory already taken off)',
    labelNames: ['node'],
    registers: [this.registry],
  });

  /** recompute the gauges from the store, just before a scrape is answered */
  async refresh(store: Store, usage: UsageHistory, now: number): Promise<void> {
    // finished allocs stay until they are collected (days for a sweep's): counting them is a
    // scan that grows with history, so it runs at most once a minute, not on every scrape
    if (!this.finishedAllocs || now - this.finishedAllocs.at > FINISHED_COUNT_MS) {
      this.finishedAllocs = { at: now, rows: await store.finishedAllocCounts() };
    }
    const [nodes, { jobs: jobRows, runStats, evals: evalRows }] = await Promise.all([store.listNodes(), store.statusCounts()]);
    const runRows = runStats.map((data) => ({ data }));
    const allocRows = [...this.finishedAllocs.rows, ...store.liveCounts()];
    // reset first: a node that was removed or a status nobody has any more must not linger
    for (const g of [this.nodes, this.allocs, this.jobs, this.nodeCpu, this.nodeMemory, this.nodeMemoryCapacity]) g.reset();
    for (const s of NODE_STATUSES) this.nodes.set({ status: s }, 0);
    for (const n of nodes) this.nodes.inc({ status: n.status });
    for (const s of ALLOC_STATUSES) this.allocs.set({ client_status: s }, 0);
    for (const r of allocRows) this.allocs.set({ client_status: r.client_status }, Number(r.n));
    for (const s of JOB_STATUSES) this.jobs.set({ status: s }, 0);
    for (const r of jobRows) if (r.status) this.jobs.set({ status: r.status }, Number(r.n));
    for (const r of runRows) {
      const st = (JSON.parse(r.data) as StoredRunStats).states;
      this.jobs.inc({ status: 'pending' }, st.queued);
      for (const k of ['running', 'complete', 'failed', 'stopped'] as const) this.jobs.inc({ status: k }, st[k]);
    }
    this.evalsPending.set(Number(evalRows.find((r) => r.status === 'pending')?.n ?? 0));
    this.evalsBlocked.set(Number(evalRows.find((r) => r.status === 'blocked')?.n ?? 0));
    for (const n of nodes) {
      // node names are what operators know; two nodes may share one, so the id breaks ties
      const label = nodes.filter((x) => x.name === n.name).length > 1 ? `${n.name}-${n.id.slice(0, 8)}` : n.name;
      this.nodeMemoryCapacity.set({ node: label }, n.capacity.memory);
      const u = n.status === 'ready' ? usage.nodeLatest(n.id, now) : undefined;
      if (u) {
        this.nodeCpu.set({ node: label }, u.cpu);
        this.nodeMemory.set({ node: label }, u.memory);
      }
    }
  }
}

const all = new WeakMap<object, Metrics>();

/** the metrics of a store's server: the app and the eval worker find the same ones */
export function metricsFor(store: Store): Metrics {
  let m = all.get(store);
  if (!m) {
    m = new Metrics();
    all.set(store, m);
  }
  return m;
}
