/**
 * Fault suite (issue #12, "Never the same run twice at once"). Real server and
 * agent processes, a sweep of marker-writing runs, and one fault per scenario:
 *
 *   1. the server killed -9 mid-sweep and restarted;
 *   2. an agent killed -9 and restarted a third of the TTL after its last
 *      heartbeat, so it is back before the stop bound (2/3 of the TTL, when
 *      the node's watchdog stops a dead agent's tasks): it must re-attach to
 *      every task, lose none, and the node is never marked down;
 *   3. an agent killed -9 for good: its runs are replaced elsewhere, and its
 *      tasks must have stopped before the server replaced them (watchdog);
 *   4. an agent cut off from the server (its netns link down) for 2x the TTL,
 *      then healed: it must stop its own tasks before the server replaces them
 *      (stop on disconnect);
 *   5. the server and every agent killed -9 at once, then restarted;
 *   6. the server's data dir on a full tmpfs: writes fail with 503 "disk full",
 *      reads answer, no node is marked down, and once the filler goes the sweep
 *      completes; the store passes PRAGMA integrity_check afterwards.
 *
 * Judged from the runs' own marker files (test/support/faults.ts): every run
 * completed exactly once, no two copies of a run alive at the same time, and
 * the server says every run is complete. A failure prints the evidence (runs,
 * alloc ids, intervals) and the processes' warnings; all logs are saved under
 * /tmp/baton-faults-<pid>/.
 *
 * Scenarios 4 and 6 need root (ip netns, mount). They skip without it, except
 * under BATON_REQUIRE_NETNS=1 (CI), which makes both mandatory: a missing
 * capability fails them instead.
 */
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alloc, DispatchRun, RunStats } from '../../src/api/types.js';
import { BatonApiError } from '../../src/client/http.js';
import { waitFor } from '../support/cluster.js';
import {
  describeCopy,
  FaultCluster,
  fillDisk,
  freeBytes,
  judge,
  killNodeTasks,
  logDigest,
  mountTmpfs,
  Netns,
  nodeTaskPids,
  taskPids,
  parseMarkerFile,
  problems,
  readMarkers,
  rootFaultsEnabled,
  saveLogs,
  summary,
  sweepJobSpec,
  TICK_MS,
  unmountTmpfs,
  type BlindWindow,
  type Copy,
  type FaultAgent,
  type StopBound,
} from '../support/faults.js';

const rootFaults = rootFaultsEnabled();

/** the node heartbeat TTL of the scenarios (agents beat every third of it); BATON_FAULT_TTL_MS to try another */
const TTL_MS = Number(process.env.BATON_FAULT_TTL_MS || 4000);
/** runs longer than the TTL: the ones two copies of which overlapped before */
const LONG = 4;
const LONG_MS = 14_000;
/** a completion this close before a node's fault may not have been reported yet: the server cannot know of it */
const REPORT_MS = 1000;
const SHORT = 150;
/** a sweep in which no run changed state for this long is not going to finish */
const STALL_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** p, or an error naming what did not answer within ms */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------
// The judge itself must be able to fail
// ---------------------------------------------------------------------------

const mk = (lines: string[]) => lines.join('\n') + '\n';
const T0 = 1_800_000_000;
const at = (s: number) => (T0 + s).toFixed(6);

describe('the fault judge', () => {
  it('reads a marker file: a copy per start, its first and last line, whether it ended', () => {
    const copies = parseMarkerFile(
      'r1~alloc-a',
      mk(['node n1', `start ${at(0)}`, `tick ${at(0.2)}`, `tick ${at(0.4)}`, `end ${at(0.5)}`, `start ${at(3)}`, `tick ${at(3.2)}`, 'tick 18000']),
    );
    expect(copies).toHaveLength(2);
    expect(copies[0]).toMatchObject({ run: 'r1', allocId: 'alloc-a', seq: 0, node: 'n1', ended: true, ticks: 2 });
    expect(copies[0].last - copies[0].start).toBeCloseTo(500, 3);
    // the second start of the same alloc is another copy, killed (no end), its torn last line ignored
    expect(copies[1]).toMatchObject({ seq: 1, ended: false, ticks: 1 });
    expect(copies[1].start).toBeCloseTo((T0 + 3) * 1000, 3);
    // a copy killed before its first time stamp did nothing
    expect(parseMarkerFile('r2~b', 'node n1\n')).toEqual([]);
  });

  it('passes a clean sweep: each run once, a killed copy before its replacement', () => {
    const copies = [
      ...parseMarkerFile('r1~a', mk(['node n1', `start ${at(0)}`, `tick ${at(0.2)}`, `end ${at(0.3)}`])),
      ...parseMarkerFile('r2~b', mk(['node n1', `start ${at(0)}`, `tick ${at(0.2)}`, `tick ${at(1)}`])),
      // the replacement starts within a tick of the old copy's last line: not an overlap
      ...parseMarkerFile('r2~c', mk(['node n2', `start ${at(0.9)}`, `tick ${at(1.1)}`, `end ${at(2)}`])),
    ];
    const v = judge(copies, ['r1', 'r2']);
    expect(problems(v)).toEqual([]);
  });

  it('finds a fabricated overlap, a run never completed and one completed twice', () => {
    const copies = [
      ...parseMarkerFile('r1~a', mk(['node n1', `start ${at(0)}`, `tick ${at(5)}`, `end ${at(10)}`])),
      ...parseMarkerFile('r1~b', mk(['node n2', `start ${at(4)}`, `tick ${at(6)}`, `end ${at(12)}`])),
      ...parseMarkerFile('r2~c', mk(['node n1', `start ${at(0)}`, `tick ${at(1)}`])),
    ];
    const v = judge(copies, ['r1', 'r2', 'r3']);
    expect(v.overlaps).toHaveLength(1);
    expect(v.overlaps[0]).toMatchObject({ run: 'r1' });
    expect(v.overlaps[0].overlapMs).toBeCloseTo(6000, 3);
    expect(v.completedTwice.map((r) => r.run)).toEqual(['r1']);
    expect(v.neverCompleted.map((r) => r.run).sort()).toEqual(['r2', 'r3']);
    const text = problems(v).join('\n');
    expect(text).toContain('copies a and b overlapped 6.00 s');
    expect(text).toContain('run r1 completed 2 times');
    expect(text).toContain('run r3 never completed (0 copies: none started)');
  });

  it('finds two starts in one alloc that overlap, and a copy running past its bound', () => {
    // a start in place while the first process still ticks: the same alloc twice at once
    const copies = parseMarkerFile('r1~a', mk(['node n1', `start ${at(0)}`, `start ${at(1)}`, `tick ${at(2)}`, `tick ${at(3)}`, `end ${at(4)}`]));
    copies[0].last = (T0 + 3) * 1000;
    const bound: StopBound = { node: 'n1', startedBefore: (T0 + 0.5) * 1000, by: (T0 + 2) * 1000, why: 'n1 marked down' };
    const v = judge(copies, ['r1'], { bounds: [bound] });
    expect(v.overlaps).toHaveLength(1);
    expect(v.pastBound).toHaveLength(1);
    expect(v.pastBound[0].pastMs).toBeCloseTo(1000, 3);
    expect(problems(v).join('\n')).toContain('ran 1.00 s past n1 marked down');
  });

  it('excuses a second completion only inside a blind window of its node, never an overlap', () => {
    const copies = [
      ...parseMarkerFile('r1~a', mk(['node dead', `start ${at(0)}`, `end ${at(1)}`])),
      ...parseMarkerFile('r1~b', mk(['node n2', `start ${at(5)}`, `end ${at(6)}`])),
    ];
    const blind: BlindWindow = { node: 'dead', from: (T0 + 0.5) * 1000, to: Infinity, why: 'dead after its kill' };
    const v = judge(copies, ['r1'], { blind: [blind] });
    expect(problems(v)).toEqual([]);
    expect(v.excused).toHaveLength(1);
    // a window on another node, or one that closed before, excuses nothing
    expect(judge(copies, ['r1'], { blind: [{ ...blind, node: 'elsewhere' }] }).completedTwice).toHaveLength(1);
    expect(judge(copies, ['r1'], { blind: [{ ...blind, to: (T0 + 0.8) * 1000 }] }).completedTwice).toHaveLength(1);
    // an overlap is never excused
    const overlapping = [copies[0], { ...copies[1], start: (T0 + 0.2) * 1000 }];
    expect(judge(overlapping, ['r1'], { blind: [blind] }).overlaps).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------

interface Ctx {
  cluster: FaultCluster;
  marks: string;
  runs: string[];
  /** the first agent, which holds the long runs */
  a: FaultAgent;
  b: FaultAgent;
  /** problems found along the way (besides the judge's) */
  failures: string[];
  notes: string[];
}

interface Plan {
  name: string;
  ttlMs?: number;
  /** where the server binds and how the first agent is started */
  host?: string;
  netns?: Netns;
  dataDir?: string;
  /**
   * when the fault strikes, besides 30 runs complete and the long runs running: 'queue-drained' waits
   * until no run waits for a place, so that the replacements of a lost node's runs are placed at once
   * (their overlap with copies still running shows, instead of hiding behind a full node)
   */
  faultWhen?: 'mid-queue' | 'queue-drained';
  /**
   * lost allocs are no failure: an agent that cannot reach the server for the stop-on-disconnect bound
   * (below the TTL) stops its allocs and reports them lost by design, and a server restart can take
   * that long; they are listed in the notes (a node marked down stays a failure)
   */
  lostAllowed?: boolean;
  /** before the sweep is dispatched */
  prepare?: (ctx: Ctx) => Promise<void>;
  /** the fault, once the long runs run and some short ones are done; returns what the judge should know */
  fault: (ctx: Ctx) => Promise<{ blind?: BlindWindow[]; bounds?: StopBound[]; nodesMayGoDown?: boolean }>;
  /** once the sweep is complete, before the judge reads the markers */
  settle?: (ctx: Ctx) => Promise<void>;
  /** last checks, after the judge */
  finish?: (ctx: Ctx) => Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

function sweepRuns(): Array<{ run: string; ms: number }> {
  const long = Array.from({ length: LONG }, (_, i) => ({ run: `L${i}`, ms: LONG_MS }));
  const short = Array.from({ length: SHORT }, (_, i) => ({ run: `S${String(i).padStart(3, '0')}`, ms: 500 + ((i * 337) % 1500) }));
  return [...long, ...short];
}

async function runStats(ctx: Ctx): Promise<RunStats> {
  return (await ctx.cluster.client.getJob('sweep')).summary.runs!;
}

async function completedAtLeast(ctx: Ctx, n: number): Promise<void> {
  await waitFor(`${n} runs to complete`, async () => (await runStats(ctx)).states.complete >= n || undefined, 90_000, 200);
}

async function nodeDownTime(ctx: Ctx, nodeId: string): Promise<number> {
  const ev = await waitFor(
    `node ${nodeId} to be marked down`,
    async () => {
      const page = await ctx.cluster.client.recentEvents({ topics: ['node'] });
      return page.events.find((e) => e.type === 'NodeDown' && e.key === nodeId);
    },
    30_000,
    100,
  );
  return Date.parse(ev.time);
}

async function allAllocs(ctx: Ctx): Promise<Alloc[]> {
  const out: Alloc[] = [];
  for await (const a of ctx.cluster.client.allocs({})) out.push(a);
  return out;
}

/** pids of the tasks of these allocs still alive */
function allocPids(allocIds: string[]): number[] {
  return allocIds.flatMap((id) => taskPids('BATON_ALLOC_ID', id));
}

async function scenario(plan: Plan): Promise<void> {
  const started = Date.now();
  const ttl = plan.ttlMs ?? TTL_MS;
  const cluster = await FaultCluster.create({ heartbeatTtl: `${ttl}ms`, host: plan.host, dataDir: plan.dataDir });
  const nodeIds: string[] = [];
  const cleanup = async () => {
    // a dead agent's tasks are nobody's to stop: by pid, before and after the cluster goes
    killNodeTasks(nodeIds);
    await cluster.stop();
    killNodeTasks(nodeIds);
  };
  cleanups.push(cleanup);
  const ctx = { cluster, runs: [], failures: [], notes: [] } as unknown as Ctx;
  const found: string[] = [];
  let copies: Copy[] = [];
  try {
    try {
      ctx.marks = await cluster.tempDir('marks');
      ctx.a = await cluster.addFaultAgent(`${plan.name}-a`, plan.netns?.name);
      nodeIds.push(ctx.a.nodeId);
      await cluster.client.submitJob(sweepJobSpec('sweep', ctx.marks), 'sweep.yaml');
      await plan.prepare?.(ctx);
      const runs = sweepRuns();
      ctx.runs = runs.map((r) => r.run);
      await cluster.client.dispatch(
        'sweep',
        runs.map((r): DispatchRun => ({ meta: { run: r.run, ms: String(r.ms) } })),
      );
      // the long runs start on the first agent (alone so far), then the second one joins
      await waitFor(
        'the long runs to start on the first agent',
        async () => {
          const long = (await readMarkers(ctx.marks)).filter((c) => c.run.startsWith('L'));
          return long.length >= LONG && long.every((c) => c.node === ctx.a.nodeId) ? long : undefined;
        },
        60_000,
        100,
      );
      ctx.b = await cluster.addFaultAgent(`${plan.name}-b`);
      nodeIds.push(ctx.b.nodeId);
      await completedAtLeast(ctx, 30);
      if (plan.faultWhen === 'queue-drained') {
        await waitFor('no run waiting for a place', async () => (await runStats(ctx)).states.queued === 0 || undefined, 60_000, 100);
      }
      const atFault = (await runStats(ctx)).states;
      ctx.notes.push(`at the fault: ${atFault.complete} complete, ${atFault.running} running, ${atFault.queued} queued`);

      const told = await plan.fault(ctx);

      // done when no run waits or runs; given up when nothing moved for STALL_MS (all nodes down, say)
      let final: RunStats | undefined;
      let seen = '';
      for (let movedAt = Date.now(); ; await sleep(250)) {
        const st = await runStats(ctx).catch(() => undefined);
        const now = JSON.stringify(st?.states);
        if (now !== seen) [seen, movedAt] = [now, Date.now()];
        if (st && st.states.queued === 0 && st.states.running === 0) {
          final = st;
          break;
        }
        if (Date.now() - movedAt > STALL_MS) {
          ctx.failures.push(`the sweep stalled: no run changed state for ${STALL_MS / 1000} s: ${now}`);
          break;
        }
      }
      if (final && final.states.complete !== runs.length) ctx.failures.push(`the server counts ${JSON.stringify(final.states)}, not ${runs.length} complete`);
      await plan.settle?.(ctx);

      // the server's word on every run
      const rows = [];
      for await (const row of cluster.client.runs('sweep')) rows.push(row);
      if (rows.length !== runs.length) ctx.failures.push(`the server lists ${rows.length} runs, not ${runs.length}`);
      for (const r of rows.filter((x) => x.outcome !== 'complete').slice(0, 20)) {
        ctx.failures.push(`server: run ${r.meta.run} is ${r.outcome} (${r.reason}) alloc ${r.allocId ?? '-'} on ${r.node ?? '-'}`);
      }

      // nodes: only a fault of the node itself may take it down
      const lost = (await allAllocs(ctx)).filter((a) => a.clientStatus === 'lost');
      if (lost.length > 0) ctx.notes.push(`${lost.length} allocs lost, e.g. ${lost[0].id} on ${lost[0].nodeName}: ${lost[0].clientDescription}`);
      if (!told.nodesMayGoDown) {
        if (!plan.lostAllowed) for (const a of lost) ctx.failures.push(`alloc ${a.id} (${a.name}) on ${a.nodeName} is lost: ${a.clientDescription}`);
        for (const [i, s] of cluster.servers.entries()) {
          for (const l of s
            .output()
            .split('\n')
            .filter((x) => x.includes('marked down')))
            ctx.failures.push(`server#${i + 1} marked a node down: ${l}`);
        }
        const events = await cluster.client.recentEvents({ topics: ['node'] });
        for (const e of events.events.filter((x) => x.type === 'NodeDown')) ctx.failures.push(`NodeDown event for ${e.key} at ${e.time}`);
      }
      for (const n of await cluster.client.listNodes()) {
        if (n.status !== 'ready' && !(told.nodesMayGoDown && n.id === ctx.a.nodeId)) ctx.failures.push(`node ${n.name} is ${n.status}`);
      }

      // the runs' own word
      copies = await readMarkers(ctx.marks);
      const verdict = judge(copies, ctx.runs, { tickMs: TICK_MS, blind: told.blind, bounds: told.bounds });
      found.push(...problems(verdict), ...ctx.failures);
      ctx.failures = [];
      // the server's account of every copy of a run done twice: why each alloc ended, what replaced what
      const twice = new Set([...verdict.completedTwice.map((r) => r.run), ...verdict.overlaps.map((o) => o.run)]);
      for (const c of copies.filter((x) => twice.has(x.run))) {
        const d = await cluster.client.getAlloc(c.allocId).catch((err: Error) => err);
        ctx.notes.push(
          d instanceof Error
            ? `server on ${c.allocId}: ${d.message}`
            : `server on ${c.allocId} (${c.run}): ${d.clientStatus}/${d.desiredStatus} "${d.clientDescription}" desired "${d.desiredDescription ?? ''}" replaces ${d.replaces ? `${d.replaces.id} (${d.replaces.reason})` : '-'} replacedBy ${d.replacedBy ? `${d.replacedBy.id} (${d.replacedBy.reason})` : '-'}`,
        );
      }
      await plan.finish?.(ctx).catch((err: Error) => found.push(`final check failed: ${err.message}`));
      found.push(...ctx.failures);
      ctx.notes.push(summary(verdict));
    } catch (err) {
      found.push(...ctx.failures, `the scenario stopped: ${(err as Error).stack ?? String(err)}`);
      copies = await readMarkers(ctx.marks).catch(() => []);
    }
    ctx.notes.push(`scenario took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    let report = '';
    if (found.length > 0) {
      const logs = cluster.logs();
      const dir = await saveLogs(plan.name, logs);
      const longCopies = copies.filter((c) => c.run.startsWith('L')).sort((x, y) => x.run.localeCompare(y.run) || x.start - y.start);
      report = [
        `scenario "${plan.name}": ${found.length} problem(s)`,
        ...found.map((p) => `  - ${p}`),
        `nodes: ${ctx.a?.opts.name}=${ctx.a?.nodeId} ${ctx.b?.opts.name}=${ctx.b?.nodeId}`,
        'long runs:',
        ...longCopies.map((c) => `  ${c.run}: ${describeCopy(c)}`),
        ...ctx.notes,
        `full logs: ${dir}`,
        ...logs.map((l) => `---- ${l.name} (warnings, errors, last lines)\n${logDigest(l.text, 15)}`),
      ].join('\n');
      await writeFile(join(dir, 'report.txt'), report);
    }
    expect(found, report).toEqual([]);
    console.log(`[faults] ${plan.name}: ${ctx.notes.join('; ')}`);
  } finally {
    cleanups.splice(cleanups.indexOf(cleanup), 1);
    await cleanup().catch(() => undefined);
  }
}

describe.sequential('fault scenarios: every run exactly once, never two copies at once', () => {
  it('1. server kill -9 mid-sweep and restart', async () => {
    await scenario({
      name: 'server-kill',
      lostAllowed: true,
      fault: async (ctx) => {
        const killedAt = Date.now();
        await ctx.cluster.killServer();
        await ctx.cluster.startServer();
        ctx.notes.push(
          `server killed at ${new Date(killedAt).toISOString().slice(11, 23)}, answering again ${((Date.now() - killedAt) / 1000).toFixed(1)} s later`,
        );
        return {};
      },
    });
  }, 240_000);

  it('2. agent kill -9, restarted a third of the TTL after its last heartbeat: it re-attaches', async () => {
    // a longer TTL here: the agent must be back (start, register, heartbeat) before it runs out
    const ttl = 9000;
    await scenario({
      name: 'agent-restart',
      ttlMs: ttl,
      fault: async (ctx) => {
        const killedAt = Date.now();
        await ctx.a.kill();
        ctx.notes.push(`agent killed at ${new Date(killedAt).toISOString().slice(11, 23)}`);
        const n = (await ctx.cluster.client.listNodes()).find((x) => x.id === ctx.a.nodeId)!;
        // back well within the stop bound (2/3 of the TTL since the agent last reached the server, when
        // the node's watchdog stops the tasks of a dead agent): so it must re-attach, not lose them
        const restartAt = Date.parse(n.lastHeartbeatAt) + ttl / 3;
        await sleep(Math.max(0, restartAt - Date.now()));
        const restartedAt = Date.now();
        ctx.a.start();
        // back: a heartbeat of the new process (the node still shows ready, so ready() says nothing)
        const back = await waitFor(
          'a heartbeat of the restarted agent',
          async () => {
            const m = (await ctx.cluster.client.listNodes()).find((x) => x.id === ctx.a.nodeId);
            return m && Date.parse(m.lastHeartbeatAt) >= restartedAt ? m : undefined;
          },
          30_000,
          100,
        );
        const silence = Date.parse(back.lastHeartbeatAt) - Date.parse(n.lastHeartbeatAt);
        ctx.notes.push(
          `agent restarted ${((restartedAt - Date.parse(n.lastHeartbeatAt)) / 1000).toFixed(1)} s after its last heartbeat, heartbeating again after ${(silence / 1000).toFixed(1)} s (TTL ${ttl / 1000} s)`,
        );
        return {};
      },
    });
  }, 240_000);

  it('3. agent kill -9 for good: its runs are replaced elsewhere, its tasks stopped before that', async () => {
    await scenario({
      name: 'agent-dead',
      faultWhen: 'queue-drained',
      fault: async (ctx) => {
        const killedAt = Date.now();
        await ctx.a.kill();
        const downAt = await nodeDownTime(ctx, ctx.a.nodeId);
        ctx.notes.push(`agent killed at ${new Date(killedAt).toISOString()}, node marked down ${((downAt - killedAt) / 1000).toFixed(1)} s later`);
        return {
          nodesMayGoDown: true,
          blind: [
            {
              node: ctx.a.nodeId,
              from: killedAt - REPORT_MS,
              to: Infinity,
              why: `its agent dead, or dying within ${REPORT_MS} ms of the completion (nobody left to report it)`,
            },
          ],
          bounds: [{ node: ctx.a.nodeId, startedBefore: killedAt, by: downAt, why: "the dead agent's node being marked down (its runs replaced)" }],
        };
      },
      settle: async (ctx) => {
        // the dead agent's tasks: gone (the watchdog), or left to run out, which the judge then sees
        await waitFor("the dead agent's tasks to be gone", () => nodeTaskPids(ctx.a.nodeId).length === 0 || undefined, LONG_MS + 10_000, 200).catch(
          (err: Error) => {
            ctx.failures.push(`${err.message}: pids ${nodeTaskPids(ctx.a.nodeId).join(' ')}`);
            killNodeTasks([ctx.a.nodeId]);
          },
        );
      },
    });
  }, 240_000);

  it.skipIf(!rootFaults)(
    '4. agent cut off from the server for 2x the TTL, then healed',
    async () => {
      const ns = new Netns();
      ns.create();
      cleanups.push(() => ns.destroy());
      let cutAt = 0;
      let healedAt = 0;
      let before: string[] = [];
      try {
        await scenario({
          name: 'partition',
          faultWhen: 'queue-drained',
          // the server on the host end of the veth: the namespace reaches it there, the host too
          host: ns.hostIp,
          netns: ns,
          fault: async (ctx) => {
            // the allocs the first agent runs when the link goes down
            before = [...new Set((await readMarkers(ctx.marks)).filter((c) => c.node === ctx.a.nodeId).map((c) => c.allocId))];
            cutAt = Date.now();
            ns.partition();
            await sleep(2 * TTL_MS);
            ns.heal();
            healedAt = Date.now();
            const downAt = await nodeDownTime(ctx, ctx.a.nodeId).catch((err: Error) => {
              ctx.failures.push(`the cut-off node was never marked down: ${err.message}`);
              return Infinity;
            });
            await waitFor(
              "the healed agent's node to be ready again",
              async () => {
                const n = (await ctx.cluster.client.listNodes()).find((x) => x.id === ctx.a.nodeId);
                return n?.status === 'ready' || undefined;
              },
              30_000,
              200,
            );
            ctx.notes.push(`cut off for ${((healedAt - cutAt) / 1000).toFixed(1)} s, marked down ${((downAt - cutAt) / 1000).toFixed(1)} s after the cut`);
            return {
              nodesMayGoDown: true,
              blind: [
                {
                  node: ctx.a.nodeId,
                  from: cutAt - REPORT_MS,
                  to: healedAt + 2 * TTL_MS,
                  why: `the cut, or within ${REPORT_MS} ms before it (its agent could not report)`,
                },
              ],
              bounds: [{ node: ctx.a.nodeId, startedBefore: cutAt, by: downAt, why: 'the cut-off node being marked down (its runs replaced)' }],
            };
          },
          settle: async (ctx) => {
            // the tasks that ran when the link went down: stopped, or left to run out, which the judge then sees
            await waitFor("the cut-off agent's earlier tasks to be gone", () => allocPids(before).length === 0 || undefined, LONG_MS + 10_000, 200).catch(
              (err: Error) => {
                ctx.failures.push(`${err.message}: pids ${allocPids(before).join(' ')}`);
                for (const pid of allocPids(before)) process.kill(pid, 'SIGKILL');
              },
            );
          },
        });
      } finally {
        ns.destroy();
      }
    },
    240_000,
  );

  it('5. server and every agent kill -9 at once, then restarted', async () => {
    await scenario({
      name: 'all-kill',
      lostAllowed: true,
      fault: async (ctx) => {
        ctx.notes.push(`everything killed at ${new Date().toISOString().slice(11, 23)}`);
        await Promise.all([ctx.cluster.killServer(), ctx.a.kill(), ctx.b.kill()]);
        await sleep(1000);
        await ctx.cluster.startServer();
        ctx.a.start();
        ctx.b.start();
        await Promise.all([ctx.a.ready(), ctx.b.ready()]);
        return {};
      },
    });
  }, 240_000);

  it.skipIf(!rootFaults)(
    '6. the server\'s data dir on a full disk: 503 "disk full", reads answer, recovery, store intact',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'baton-e2e-fulldisk-'));
      mountTmpfs(dir, '16m');
      cleanups.push(async () => {
        unmountTmpfs(dir);
        await rm(dir, { recursive: true, force: true });
      });
      let filler = '';
      try {
        // (the scenario's own cleanup stops the server before the finally below unmounts)
        await scenario({
          name: 'disk-full',
          dataDir: dir,
          prepare: async (ctx) => {
            // a template for the write that must fail; dispatched only while the disk is full
            await ctx.cluster.client.submitJob(sweepJobSpec('probe', ctx.marks), 'probe.yaml');
          },
          fault: async (ctx) => {
            filler = fillDisk(dir);
            const free = freeBytes(dir);
            ctx.notes.push(`disk filled (${free} bytes free)`);
            const fullAt = Date.now();
            // a write: 10,000 runs in one request, more than any free page or WAL slack could hold
            const big: DispatchRun[] = Array.from({ length: 10_000 }, (_, i) => ({ meta: { run: `P${i}`, ms: '100' } }));
            const err = await within(30_000, 'a 10,000-run dispatch on the full disk', ctx.cluster.client.dispatch('probe', big)).then(
              () => undefined,
              (e: unknown) => e,
            );
            if (!(err instanceof BatonApiError)) ctx.failures.push(`a 10,000-run dispatch on a full disk did not fail with an API error: ${String(err)}`);
            else {
              if (err.status !== 503) ctx.failures.push(`a write on a full disk answered ${err.status}, not 503: ${err.message}`);
              if (!/disk full/i.test(err.message)) ctx.failures.push(`the 503 does not say "disk full": ${err.message}`);
            }
            // reads answer the whole time, for 2x the TTL; the nodes stay ready
            let reads = 0;
            while (Date.now() < fullAt + 2 * TTL_MS) {
              const [nodes, stats] = await within(5000, 'reads on the full disk', Promise.all([ctx.cluster.client.listNodes(), runStats(ctx)])).catch(
                (e: Error) => {
                  ctx.failures.push(`a read failed on a full disk: ${e.message}`);
                  return [[], undefined] as const;
                },
              );
              reads++;
              for (const n of nodes) if (n.status !== 'ready') ctx.failures.push(`node ${n.name} is ${n.status} while the server's disk is full`);
              if (stats === undefined) break;
              await sleep(500);
            }
            ctx.notes.push(`${reads} rounds of reads on the full disk`);
            await unlink(filler);
            filler = '';
            return {};
          },
          finish: async (ctx) => {
            // nothing of the failed dispatch was stored
            const probe = await ctx.cluster.client.getJob('probe');
            if ((probe.summary.runs ? Object.values(probe.summary.runs.states).reduce((x, y) => x + y, 0) : 0) !== 0) {
              throw new Error(`the failed dispatch left runs behind: ${JSON.stringify(probe.summary.runs?.states)}`);
            }
            // the store, read-only, after the server stopped
            const s = ctx.cluster.server!;
            s.child.kill('SIGTERM');
            await s.exited;
            const db = new Database(join(dir, 'baton.db'), { readonly: true, fileMustExist: true });
            try {
              const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
              const text = rows.map((r) => r.integrity_check).join('; ');
              if (text !== 'ok') throw new Error(`PRAGMA integrity_check: ${text}`);
            } finally {
              db.close();
            }
          },
        });
      } finally {
        if (filler) await unlink(filler).catch(() => undefined);
        unmountTmpfs(dir);
        await rm(dir, { recursive: true, force: true });
      }
    },
    240_000,
  );
});
