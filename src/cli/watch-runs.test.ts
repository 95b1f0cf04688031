import { describe, expect, it } from 'vitest';
import type { PlacementFailure, RunRow, RunsResponse, RunStats } from '../api/types.js';
import { BatonApiError } from '../client/http.js';
import type { ProgressCounts } from './progress.js';
import type { ProgressDisplay } from './progress-display.js';
import { failedRunLine, progressFromStats, watchRuns } from './watch-runs.js';

function run(jobId: string, outcome: RunRow['outcome'], over: Partial<RunRow> = {}): RunRow {
  return { jobId, index: 0, meta: {}, outcome, reason: '', attempt: 0, requestedMemory: 1, ...over };
}

function stats(states: Partial<RunStats['states']>, outcomes: RunStats['outcomes'] = {}): RunStats {
  const s = { queued: 0, running: 0, complete: 0, failed: 0, stopped: 0, ...states };
  const total = s.queued + s.running + s.complete + s.failed + s.stopped;
  return { total, states: s, outcomes, finished: s.complete + s.failed + s.stopped, requestedMemory: 1 };
}

function recorder(): ProgressDisplay & { updates: ProgressCounts[]; lines: string[]; finished: number } {
  const r = {
    updates: [] as ProgressCounts[],
    lines: [] as string[],
    finished: 0,
    update: (c: ProgressCounts) => void r.updates.push(c),
    log: (l: string) => void r.lines.push(l),
    finish: () => void r.finished++,
  };
  return r;
}

type Step = { stats: RunStats; blocked?: PlacementFailure[] } | Error;

/** a client whose sweep totals move one step per poll and stay at the last; outcome queries answer from `rows` */
function client(steps: Step[], rows: RunRow[] = []) {
  let i = 0;
  const calls: string[] = [];
  return {
    calls,
    runsPage: async (id: string, ns: string, f: { sweepId?: string; outcome?: string; limit?: number } = {}): Promise<RunsResponse> => {
      calls.push(`${ns}/${id} ${f.outcome ?? 'totals'} sweep=${f.sweepId} limit=${f.limit}`);
      if (f.outcome) return { job: {} as RunsResponse['job'], runs: rows.filter((r) => r.outcome === f.outcome).slice(0, f.limit) };
      const step = steps[Math.min(i++, steps.length - 1)];
      if (step instanceof Error) throw step;
      return { job: { blocked: step.blocked } as RunsResponse['job'], runs: [], sweep: step.stats };
    },
  };
}

describe('watchRuns', () => {
  it('follows the sweep’s totals (one row a poll) until all ended, and succeeds when all complete', async () => {
    const c = client([{ stats: stats({ queued: 2 }) }, { stats: stats({ running: 2 }) }, { stats: stats({ complete: 2 }) }]);
    const d = recorder();
    const res = await watchRuns(c, 'p', 'ns', 's1', { display: d, intervalMs: 0 });
    expect(res.ok).toBe(true);
    expect(c.calls).toEqual(['ns/p totals sweep=s1 limit=1', 'ns/p totals sweep=s1 limit=1', 'ns/p totals sweep=s1 limit=1']);
    expect(d.updates.map((u) => [u.queued, u.running, u.complete])).toEqual([
      [2, 0, 0],
      [0, 2, 0],
      [0, 0, 2],
    ]);
    expect(d.finished).toBe(1);
    expect(d.lines).toEqual([]);
  });

  it('fails when any run ends otherwise, listing the first ones read by outcome', async () => {
    const rows = [run('p/b', 'oom-killed', { meta: { scenario: '3' }, reason: 'OOM killed at 1 GiB', index: 1 }), run('p/c', 'stopped', { index: 2 })];
    const c = client([{ stats: stats({ complete: 1, failed: 1, stopped: 1 }, { complete: 1, 'oom-killed': 1, stopped: 1 }) }], rows);
    const d = recorder();
    const res = await watchRuns(c, 'p', 'default', 's1', { display: d, intervalMs: 0 });
    expect(res.ok).toBe(false);
    expect(res.counts).toMatchObject({ complete: 1, failed: 2 });
    expect(d.lines).toEqual(['2 of 3 runs did not complete:', '  p/b (scenario=3) oom-killed: OOM killed at 1 GiB', '  p/c stopped']);
    expect(c.calls.filter((x) => !x.includes('totals')).sort()).toEqual(['default/p oom-killed sweep=s1 limit=20', 'default/p stopped sweep=s1 limit=20']);
  });

  it('says how many more failed than it lists', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => run(`p/${i}`, 'failed', { index: i }));
    const d = recorder();
    await watchRuns(client([{ stats: stats({ failed: 5000 }, { failed: 5000 }) }], rows), 'p', 'default', 's1', { display: d, intervalMs: 0 });
    expect(d.lines[0]).toBe('5,000 of 5,000 runs did not complete:');
    expect(d.lines.at(-1)).toBe('  ... and 4,980 more; see `baton job status p`');
  });

  it('tells why runs wait, once, and stops waiting when no node could ever fit them', async () => {
    const memory: PlacementFailure = { dimension: 'memory', message: 'memory: no node has 64 GiB', nodesEvaluated: 1, nodesFiltered: 1, neverFits: true };
    const c = client([{ stats: stats({ queued: 3 }), blocked: [memory] }]);
    const d = recorder();
    const res = await watchRuns(c, 'p', 'default', 's1', { display: d, intervalMs: 0 });
    expect(res.ok).toBe(false);
    expect(d.lines).toEqual([
      'waiting for capacity: memory: no node has 64 GiB (1 node evaluated, 1 filtered): no node could ever fit this, waiting will not help',
      'no node can ever fit these runs as the cluster is now; not waiting (change the job or add nodes). 3 runs stay queued.',
    ]);
  });

  it('rides out an unreachable server, and gives up on other errors', async () => {
    const down = new BatonApiError(0, 'cannot reach the baton server');
    const d = recorder();
    const res = await watchRuns(client([down, down, { stats: stats({ complete: 1 }) }]), 'p', 'default', 's1', { display: d, intervalMs: 0 });
    expect(res.ok).toBe(true);
    expect(d.lines).toEqual(['cannot reach the baton server; retrying', 'server is reachable again']);
    await expect(watchRuns(client([new BatonApiError(404, 'no job p')]), 'p', 'default', 's1', { display: recorder(), intervalMs: 0 })).rejects.toThrow(
      'no job p',
    );
  });

  it('counts every end other than complete as failed, and formats a failed run without meta or reason', () => {
    expect(progressFromStats(stats({ queued: 1, running: 2, complete: 3, failed: 4, stopped: 5 }))).toEqual({
      total: 15,
      queued: 1,
      running: 2,
      complete: 3,
      failed: 9,
    });
    expect(failedRunLine(run('p/x', 'lost'))).toBe('  p/x lost');
  });
});
