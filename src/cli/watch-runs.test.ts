import { describe, expect, it } from 'vitest';
import type { RunRow, RunsResponse } from '../api/types.js';
import { BatonApiError } from '../client/http.js';
import type { ProgressCounts } from './progress.js';
import type { ProgressDisplay } from './progress-display.js';
import { failedRunLine, watchRuns } from './watch-runs.js';

function run(jobId: string, outcome: RunRow['outcome'], over: Partial<RunRow> = {}): RunRow {
  return { jobId, index: 0, meta: {}, outcome, reason: '', attempt: 0, requestedMemory: 1, ...over };
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

/** a client whose run list moves one step per call and stays at the last one */
function client(steps: Array<RunRow[] | Error>) {
  let i = 0;
  const calls: string[] = [];
  return {
    calls,
    listRuns: async (id: string, ns: string): Promise<RunsResponse> => {
      calls.push(`${ns}/${id}`);
      const step = steps[Math.min(i++, steps.length - 1)];
      if (step instanceof Error) throw step;
      return { job: {} as RunsResponse['job'], runs: step };
    },
  };
}

describe('watchRuns', () => {
  it('follows the dispatched children until all ended and succeeds when all complete', async () => {
    const c = client([
      [run('p/a', 'queued'), run('p/old', 'failed')],
      [run('p/a', 'running'), run('p/b', 'running')],
      [run('p/a', 'complete'), run('p/b', 'complete'), run('p/old', 'failed')],
    ]);
    const d = recorder();
    const res = await watchRuns(c, 'p', 'ns', ['p/a', 'p/b'], { display: d, intervalMs: 0 });
    expect(res.ok).toBe(true);
    expect(c.calls).toEqual(['ns/p', 'ns/p', 'ns/p']);
    expect(d.updates.map((u) => [u.queued, u.running, u.complete])).toEqual([[2, 0, 0], [0, 2, 0], [0, 0, 2]]);
    expect(d.finished).toBe(1);
    expect(d.lines).toEqual([]);
  });

  it('fails when any run ends otherwise, listing it with meta and reason after the bar', async () => {
    const c = client([[run('p/a', 'complete'), run('p/b', 'oom-killed', { meta: { scenario: '3' }, reason: 'OOM killed at 1 GiB' })]]);
    const d = recorder();
    const res = await watchRuns(c, 'p', 'default', ['p/a', 'p/b'], { display: d, intervalMs: 0 });
    expect(res.ok).toBe(false);
    expect(res.counts).toMatchObject({ complete: 1, failed: 1 });
    expect(d.lines).toEqual(['1 of 2 runs did not complete:', '  p/b (scenario=3) oom-killed: OOM killed at 1 GiB']);
  });

  it('rides out an unreachable server, and gives up on other errors', async () => {
    const down = new BatonApiError(0, 'cannot reach the baton server');
    const d = recorder();
    const res = await watchRuns(client([down, down, [run('p/a', 'complete')]]), 'p', 'default', ['p/a'], { display: d, intervalMs: 0 });
    expect(res.ok).toBe(true);
    expect(d.lines).toEqual(['cannot reach the baton server; retrying', 'server is reachable again']);
    await expect(watchRuns(client([new BatonApiError(404, 'no job p')]), 'p', 'default', ['p/a'], { display: recorder(), intervalMs: 0 })).rejects.toThrow('no job p');
  });

  it('formats a failed run without meta or reason too', () => {
    expect(failedRunLine(run('p/x', 'lost'))).toBe('  p/x lost');
  });
});
