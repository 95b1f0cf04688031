/**
 * Scheduling throughput: 50,000 allocs onto 1,000 simulated nodes through the
 * real scheduler and each real store (nextEval → snapshot → schedule →
 * applyPlan, as src/server/eval-worker.ts does), beside a baseline measured in
 * the same run: the same placements through the scheduler alone on the
 * in-memory harness. Nodes are registered straight into the store (no agent).
 *
 * The stores: SQLite (a file in a temp dir, as one server runs it) and
 * PostgreSQL (a private throwaway server, test/support/postgres.ts; the store
 * opened as the leader of a shared database, holding the lease and fenced by
 * its epoch, as a server that leads is). PostgreSQL runs twice by default:
 * with the suites' non-durable settings and with PostgreSQL's durable
 * defaults (bench/support/postgres.ts).
 *
 *   npx tsx bench/schedule.ts [--nodes 1000] [--jobs 50] [--count 1000]
 *     [--postgres both|fast|durable|none] [--require-postgres] [--profile]
 *
 * --profile times every PostgreSQL statement by phase (bench/support/pg-statements.ts).
 * Run with `node --expose-gc` (NODE_OPTIONS=--expose-gc) for steadier memory figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import type { JobSpec, RegisterNodeRequest } from '../src/api/types.js';
import { Harness, makeSpec } from '../src/scheduler/harness.js';
import { schedule } from '../src/scheduler/schedule.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import type { StoreLocation } from '../src/store/store-url.js';
import { freshDatabase, type PrivatePostgres } from '../test/support/postgres.js';
import { durabilitySettings, POSTGRES_MODE_NOTE, startBenchPostgres, type PostgresMode } from './support/postgres.js';
import { BACKGROUND, StatementProfile } from './support/pg-statements.js';

const GiB = 1024 ** 3;
const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    jobs: { type: 'string', default: '50' },
    count: { type: 'string', default: '1000' },
    postgres: { type: 'string', default: 'both' },
    'require-postgres': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});
const NODES = Number(args.nodes);
const JOBS = Number(args.jobs);
const COUNT = Number(args.count);
const TOTAL = JOBS * COUNT;
const MODES: Record<string, PostgresMode[]> = { both: ['fast', 'durable'], fast: ['fast'], durable: ['durable'], none: [] };
if (!Object.hasOwn(MODES, args.postgres)) throw new Error(`--postgres ${args.postgres}: both, fast, durable or none`);
const POSTGRES_MODES = MODES[args.postgres];

/** the aims of issue #13 on the 2-core development VM */
const AIM_POSTGRES = 5_000;
const SQLITE_BEFORE = 20_000;

// 32 cores, 128 GiB per node; each alloc 0.5 core and 2 GiB: 50 per node fit on memory (64),
// so 50,000 allocs on 1,000 nodes fill about 78% of the cluster's memory and all are placed.
const NODE_CAPACITY = { cpu: 32_000, memory: 128 * GiB, disk: 500 * GiB };
const ASK = { cpu: 500, memory: 2 * GiB, disk: 0 };

function nodeRequest(i: number): RegisterNodeRequest {
  return {
    name: `sim-${String(i).padStart(5, '0')}`,
    nodeClass: 'default',
    datacenter: 'dc1',
    drivers: { exec: { healthy: true, detail: 'simulated' } },
    attributes: { 'os.name': 'linux' },
    labels: {},
    capacity: NODE_CAPACITY,
    reserved: { cpu: 0, memory: 0, disk: 0 },
  };
}

function jobSpec(j: number): JobSpec {
  return makeSpec({ name: `bench-${String(j).padStart(4, '0')}`, count: COUNT, tasks: [{ resources: ASK }] });
}

interface Memory {
  rss: number;
  heapUsed: number;
}

function memory(): Memory {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

interface Result {
  label: string;
  placed: number;
  wallMs: number;
  /** cpu of this process during the placements: on PostgreSQL the rest of the wall time is spent waiting for the database */
  cpuMs: number;
  before: Memory;
  after: Memory;
  phases: Map<string, number>;
  setup: Map<string, number>;
  evals: number;
  profile?: StatementProfile;
}

/** adds each phase's time to `phases`, and files the statements it sends under it */
function phaseTimer(phases: Map<string, number>, profile?: StatementProfile) {
  return async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    try {
      return await (profile ? profile.run(name, async () => fn()) : fn());
    } finally {
      phases.set(name, (phases.get(name) ?? 0) + performance.now() - t);
    }
  };
}

/** nodes and jobs, each its own write as an agent's registration and a submit are */
async function register(store: Store, now: number, timed: ReturnType<typeof phaseTimer>): Promise<void> {
  await timed(`register ${NODES} nodes`, async () => {
    for (let i = 0; i < NODES; i++) await store.registerNode(nodeRequest(i), `secret-${i}`, 3_600_000, now);
  });
  await timed(`register ${JOBS} jobs`, async () => {
    for (let j = 0; j < JOBS; j++) await store.registerJob(jobSpec(j), now);
  });
}

/** what the eval worker does, until no eval is left */
async function placeAll(store: Store, now: number, label: string, profile?: StatementProfile): Promise<Result> {
  const setup = new Map<string, number>();
  await register(store, now, phaseTimer(setup, profile));
  const phases = new Map<string, number>();
  const timed = phaseTimer(phases, profile);
  const before = memory();
  const cpu = process.cpuUsage();
  const start = performance.now();
  let placed = 0;
  let evals = 0;
  for (;;) {
    const ev = await timed('nextEval', () => store.nextEval(now));
    if (!ev) break;
    evals++;
    const snap = await timed('snapshot', () => store.snapshot(ev, now));
    const plan = await timed('schedule', () => schedule(snap));
    const r = await timed('applyPlan', () => store.applyPlan(ev, plan, now));
    placed += r.placed.length;
    if (evals > JOBS * 4) throw new Error(`more evals than expected (${evals}): the bench would not end`);
  }
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { label, placed, wallMs, cpuMs: (used.user + used.system) / 1000, before, after: memory(), phases, setup, evals, ...(profile ? { profile } : {}) };
}

async function throughSqlite(): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-schedule-'));
  try {
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'state.db') }, { logCapBytes: 1024 * 1024 });
    try {
      return await placeAll(store, Date.now(), 'baton: scheduler + SQLite store');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A store on a shared database plans only as the leader: it claims the lease
 * and is fenced by its epoch, as test/support/stores.ts openTestStore and a
 * server that wins the lease do. An hour's lease: the bench never renews it.
 */
async function openLeader(where: StoreLocation): Promise<Store> {
  const store = await openStore(where, { logCapBytes: 1024 * 1024 });
  const id = `bench-${Math.random().toString(36).slice(2, 10)}`;
  const lease = await store.lease.claim(id, 3_600_000);
  if (lease.holder !== id) throw new Error(`a fresh database has a leader already (${lease.holder})`);
  store.fenceWith({ serverId: id, epoch: lease.epoch });
  return store;
}

/** a private PostgreSQL of this mode, or why there is none (Debian's postgresql package missing, initdb failing) */
async function startOrWhy(mode: PostgresMode): Promise<PrivatePostgres | string> {
  try {
    return await startBenchPostgres(mode);
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

async function throughPostgres(server: PrivatePostgres, mode: PostgresMode): Promise<{ result: Result; settings: string }> {
  const profile = args.profile ? new StatementProfile() : undefined;
  const url = await freshDatabase(server.adminUrl);
  const settings = await durabilitySettings(url);
  const store = await openLeader({ kind: 'postgres', url });
  // installed after opening: migrations and the first follow are no phase's
  const uninstall = profile?.install();
  try {
    return { result: await placeAll(store, Date.now(), `baton: scheduler + PostgreSQL store, ${mode}`, profile), settings };
  } finally {
    uninstall?.();
    await store.close();
  }
}

async function throughHarness(): Promise<Result> {
  const h = new Harness();
  h.addNodes(NODES, () => ({ capacity: { ...NODE_CAPACITY } }));
  const phases = new Map<string, number>();
  const timed = phaseTimer(phases);
  const before = memory();
  const cpu = process.cpuUsage();
  const start = performance.now();
  let placed = 0;
  for (let j = 0; j < JOBS; j++) {
    const spec = jobSpec(j);
    h.submit({ ...spec, tasks: spec.tasks });
    const r = await timed('evaluate (schedule + check + apply in memory)', () => h.evaluate(spec.name));
    placed += r.placed.length;
  }
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return {
    label: 'baseline: scheduler alone, in-memory harness',
    placed,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    before,
    after: memory(),
    phases,
    setup: new Map(),
    evals: JOBS,
  };
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${fmtInt(ms)} ms`);
// Colours only on a terminal: the output is also pasted into reports and CI logs.
const style = process.stdout.isTTY ? {} : { head: [], border: [] };
const mib = (b: number) => `${(b / 1024 ** 2).toFixed(0)} MiB`;
const fmtMiB = (b: number) => `${b >= 0 ? '+' : ''}${(b / 1024 ** 2).toFixed(0)} MiB`;
const rate = (r: Result) => (r.placed / r.wallMs) * 1000;
const phaseSum = (r: Result) => [...r.phases.values()].reduce((a, b) => a + b, 0);

function throughputTable(runs: Result[], base: Result): string {
  const table = new Table({
    style,
    head: ['path (all measured in this run)', 'placed', 'wall time', 'placements/s', 'vs baseline', 'bench cpu', 'rss Δ', 'heap Δ'],
  });
  for (const r of [...runs, base]) {
    table.push([
      r.label,
      fmtInt(r.placed),
      fmtMs(r.wallMs),
      fmtInt(rate(r)),
      `${((rate(r) / rate(base)) * 100).toFixed(1)}%`,
      `${((r.cpuMs / r.wallMs) * 100).toFixed(0)}% of wall`,
      fmtMiB(r.after.rss - r.before.rss),
      fmtMiB(r.after.heapUsed - r.before.heapUsed),
    ]);
  }
  table.push(
    ['Nomad C1M: 1M containers, 5,000 nodes, 5 servers (published, not measured)', '1,000,000', '~4.4 min', '3,750', '', '', '', ''],
    ['kube-scheduler (published, not measured)', '', '', '~100–300', '', '', '', ''],
  );
  return table.toString();
}

/** phases side by side: one column per store */
function phaseTable(runs: Result[]): string {
  const table = new Table({ style, head: ['where the time goes: total, per eval, share', ...runs.map((r) => r.label.replace('baton: scheduler + ', ''))] });
  for (const name of ['nextEval', 'snapshot', 'schedule', 'applyPlan']) {
    table.push([
      name,
      ...runs.map((r) => {
        const ms = r.phases.get(name) ?? 0;
        return `${fmtMs(ms)}, ${(ms / Math.max(1, r.evals)).toFixed(1)} ms, ${((ms / phaseSum(r)) * 100).toFixed(0)}%`;
      }),
    ]);
  }
  table.push(['evals', ...runs.map((r) => String(r.evals))]);
  for (const name of runs[0]?.setup.keys() ?? []) table.push([`(setup, not in wall time) ${name}`, ...runs.map((r) => fmtMs(r.setup.get(name) ?? 0))]);
  table.push(['heap / rss at the end', ...runs.map((r) => `${mib(r.after.heapUsed)} / ${mib(r.after.rss)}`)]);
  return table.toString();
}

function statementTable(r: Result): string {
  const profile = r.profile!;
  const inStatements = profile.totals();
  const table = new Table({ style, head: [`${r.label}: statements by phase (client-side time)`, 'calls', 'total', 'mean', 'rows', 'share of phase'] });
  for (const s of profile.top(5)) {
    const phaseMs = r.phases.get(s.phase) ?? r.setup.get(s.phase) ?? 0;
    table.push([
      `${s.phase}: ${s.sql}`,
      fmtInt(s.calls),
      fmtMs(s.ms),
      `${(s.ms / s.calls).toFixed(2)} ms`,
      fmtInt(s.rows),
      phaseMs ? `${((s.ms / phaseMs) * 100).toFixed(0)}%` : '',
    ]);
  }
  const lines = [...r.phases].map(([name, ms]) => {
    const waiting = inStatements.get(name) ?? 0;
    return `${name} ${fmtMs(ms)}: ${fmtMs(waiting)} waiting on its statements, ${fmtMs(ms - waiting)} in this process (baton's own work, and waits for the background follow to finish)`;
  });
  lines.push(`${BACKGROUND}: ${fmtMs(inStatements.get(BACKGROUND) ?? 0)} of statements over the whole run, setup included`);
  return `${table.toString()}\n${lines.join('\n')}`;
}

function aims(runs: Result[], sqlite: Result, postgres: Result[]): string[] {
  const out = [
    `aim: SQLite no slower than before #13 (about ${fmtInt(SQLITE_BEFORE)}/s): ${rate(sqlite) >= SQLITE_BEFORE * 0.95 ? 'met' : 'NOT met'} (${fmtInt(rate(sqlite))}/s)`,
  ];
  for (const r of postgres)
    out.push(
      `aim: at least ${fmtInt(AIM_POSTGRES)}/s on PostgreSQL (${r.label.split(', ').pop()}): ${rate(r) >= AIM_POSTGRES ? 'met' : 'NOT met'} (${fmtInt(rate(r))}/s)`,
    );
  for (const r of runs) if (r.placed !== TOTAL) out.push(`WARNING: ${r.label} placed ${fmtInt(r.placed)}, expected ${fmtInt(TOTAL)}`);
  return out;
}

async function main(): Promise<void> {
  console.log(
    `bench/schedule: ${fmtInt(TOTAL)} allocs (${JOBS} jobs × count ${COUNT}, 0.5 core / 2 GiB each) onto ${fmtInt(NODES)} simulated nodes (32 cores / 128 GiB)`,
  );
  console.log(`node ${process.version}, ${(globalThis as { gc?: unknown }).gc ? 'gc exposed' : 'no --expose-gc: memory deltas include garbage'}\n`);

  // Baseline first, so the store runs' memory is not inflated by it and vice versa as little as possible.
  const base = await throughHarness();
  const sqlite = await throughSqlite();
  const postgres: Result[] = [];
  const notes: string[] = [];
  for (const mode of POSTGRES_MODES) {
    const server = await startOrWhy(mode);
    if (typeof server === 'string') {
      if (args['require-postgres']) throw new Error(`--require-postgres, but no PostgreSQL (${mode}) could be started: ${server}`);
      console.log(`PostgreSQL ${mode}: not run, no PostgreSQL could be started: ${server}`);
      notes.push(`PostgreSQL ${mode}: not run: ${server}`);
      continue;
    }
    try {
      const { result, settings } = await throughPostgres(server, mode);
      postgres.push(result);
      notes.push(`PostgreSQL ${mode}: ${POSTGRES_MODE_NOTE[mode]}; as read back from the server: ${settings}.`);
    } finally {
      await server.stop();
    }
  }
  const runs = [sqlite, ...postgres];

  console.log(throughputTable(runs, base));
  for (const n of notes) console.log(`* ${n}`);
  if (postgres.length > 0) {
    console.log(
      '* PostgreSQL 15 (Debian), a private server on loopback, sharing the 2 cores with the bench; the store as a server opens it (pool of 10, LISTEN, the leader lease held and every plan fenced by its epoch).',
    );
  }
  console.log("* bench cpu: this process's cpu during the placements; the rest of the wall time it waits (for PostgreSQL's answers).\n");
  for (const line of aims(runs, sqlite, postgres)) console.log(line);
  console.log(`\n${phaseTable(runs)}`);
  for (const r of postgres) if (r.profile) console.log(`\n${statementTable(r)}`);
}

await main();
