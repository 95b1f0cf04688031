import { describe, expect, it } from 'vitest';
import type { JobSummary, RunRow, RunsResponse } from '../api/types.js';
import { checkJobLsFlags, jobListView } from './commands/job.js';
import { pages } from './paging.js';
import { writeRunsCsv, writeRunsJson } from './runs-output.js';
import { memorySink } from './stream-out.fixture.js';
import { firstRunsWith } from './sweep-runs.js';

function summary(id: string, over: Partial<JobSummary> = {}): JobSummary {
  return {
    id,
    namespace: 'default',
    type: 'batch',
    kind: 'batch',
    version: 1,
    priority: 50,
    count: 1,
    status: 'running',
    allocs: { pending: 0, running: 1, complete: 0, failed: 0, lost: 0 },
    submittedAt: '2026-12-01T22:00:00Z',
    ...over,
  };
}

function run(i: number, over: Partial<RunRow> = {}): RunRow {
  return {
    jobId: `sim/3f2a9c1e-${i}`,
    index: i,
    meta: { i: String(i) },
    outcome: 'complete',
    reason: 'exit code 0',
    attempt: 0,
    requestedMemory: 1024,
    ...over,
  };
}

describe('job ls', () => {
  const now = Date.parse('2026-12-01T23:00:00Z');
  it('shows NEXT LAUNCH when the first page has a periodic job, or more pages may', () => {
    const plain = { items: [summary('a')], last: true };
    expect(jobListView(plain, {}, now).headers).not.toContain('NEXT LAUNCH');
    expect(jobListView({ items: [summary('a', { nextLaunch: '2026-12-02T03:00:00Z' })], last: true }, {}, now).headers).toContain('NEXT LAUNCH');
    expect(jobListView({ ...plain, last: false }, {}, now).headers).toContain('NEXT LAUNCH');
    expect(jobListView({ ...plain, last: false }, { parent: 'sim' }, now).headers).not.toContain('NEXT LAUNCH');
    expect(jobListView({ ...plain, last: false }, { type: 'service' }, now).headers).not.toContain('NEXT LAUNCH');
  });
  it('marks blocked pending jobs and counts a parent’s runs', () => {
    const v = jobListView({ items: [], last: true }, {}, now);
    const row = v.row(
      summary('p', {
        status: 'pending',
        blocked: [{ dimension: 'memory', message: 'm', nodesEvaluated: 1, nodesFiltered: 0, neverFits: false }],
        children: { pending: 3, running: 0, complete: 1, failed: 0, stopped: 0 },
      }),
    );
    expect(row).toEqual(['p', 'default', 'batch', '1', 'pending (blocked)', 'runs: 3 pending, 1 complete', '1h']);
  });
  it('names flags that contradict each other', () => {
    expect(() => checkJobLsFlags({ parent: 'sim', allNamespaces: true })).toThrow('use -n NAMESPACE instead of -A');
    expect(() => checkJobLsFlags({ parent: 'sim', type: 'batch' })).toThrow('--type does not apply with --parent');
    expect(() => checkJobLsFlags({ parent: 'sim', status: 'failed' })).not.toThrow();
  });
});

/** a client serving `rows` as runs of `sim`, `size` a page, filtered by outcome like the server */
function runsClient(rows: RunRow[], size = 1000) {
  const calls: string[] = [];
  const client = {
    calls,
    runsPage: async (id: string, _ns: string, f: { outcome?: string; limit?: number; cursor?: string; sweepId?: string } = {}): Promise<RunsResponse> => {
      calls.push(`${id} ${f.outcome ?? '*'} ${f.limit ?? '-'}${f.sweepId ? ` ${f.sweepId}` : ''}${f.cursor ? ` @${f.cursor}` : ''}`);
      const matching = rows.filter((r) => !f.outcome || r.outcome === f.outcome);
      const from = f.cursor ? Number(f.cursor) : 0;
      const to = Math.min(matching.length, from + Math.min(size, f.limit ?? 100));
      return { job: summary(id, { count: rows.length }), runs: matching.slice(from, to), ...(to < matching.length ? { next: String(to) } : {}) };
    },
  };
  return client;
}

describe('job status -o json and -o csv', () => {
  it('streams the runs response of every page as one document', async () => {
    const rows = Array.from({ length: 2500 }, (_, i) => run(i));
    const c = runsClient(rows);
    const sink = memorySink();
    expect(await writeRunsJson(sink, c, 'sim', 'default')).toBe(2500);
    const doc = JSON.parse(sink.text()) as RunsResponse;
    expect(doc.job.id).toBe('sim');
    expect(doc.runs).toEqual(rows);
    expect(c.calls).toEqual(['sim * 1000', 'sim * 1000 @1000', 'sim * 1000 @2000']);
  });
  it('writes a CSV header from the declared meta and one line per run, page by page', async () => {
    const rows = [run(0, { meta: { i: '0', extra: 'x' } }), run(1, { meta: { i: '1', late: 'y' } })];
    const sink = memorySink();
    const warnings: string[] = [];
    const source = pages<RunRow>(async (cursor) => (cursor ? { items: [rows[1]] } : { items: [rows[0]], next: '1' }));
    expect(await writeRunsCsv(sink, source, ['i', 'seed'], (l) => void warnings.push(l))).toBe(2);
    const lines = sink.text().trimEnd().split('\n');
    expect(lines[0]).toBe('job,index,i,seed,extra,node,attempt,outcome,exit_code,reason,duration_s,peak_memory_bytes,requested_memory_bytes');
    expect(lines[1]).toBe('sim/3f2a9c1e-0,0,0,,x,,0,complete,,exit code 0,,,1024');
    expect(lines[2]).toBe('sim/3f2a9c1e-1,1,1,,,,0,complete,,exit code 0,,,1024');
    expect(warnings).toEqual([
      'warning: meta key "late" (first in sim/3f2a9c1e-1) is not a column: columns come from the job\'s declared meta and the first page of runs',
    ]);
  });
  it('writes only the header when there are no runs', async () => {
    const sink = memorySink();
    await writeRunsCsv(
      sink,
      pages<RunRow>(async () => ({ items: [] })),
      ['i'],
      () => {},
    );
    expect(sink.text()).toBe('job,index,i,node,attempt,outcome,exit_code,reason,duration_s,peak_memory_bytes,requested_memory_bytes\n');
  });
});

describe('firstRunsWith', () => {
  it('asks once per outcome the totals count, and merges in submission order', async () => {
    const rows = [
      run(0, { outcome: 'failed' }),
      run(1, { outcome: 'lost' }),
      run(2, { outcome: 'failed' }),
      ...Array.from({ length: 30 }, (_, i) => run(3 + i, { outcome: 'oom-killed' })),
    ];
    const c = runsClient(rows);
    const got = await firstRunsWith(
      c,
      'sim',
      'default',
      { outcomes: { failed: 2, lost: 1, 'oom-killed': 30, 'timed-out': 0 } },
      ['failed', 'oom-killed', 'timed-out', 'lost'],
      { sweepId: 's1' },
    );
    expect(got.map((r) => r.index)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(c.calls.sort()).toEqual(['sim failed 20 s1', 'sim lost 20 s1', 'sim oom-killed 20 s1']);
  });
});
