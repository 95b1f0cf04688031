import { describe, expect, it } from 'vitest';
import type { Alloc, AllocCounts, JobDetail, JobStatus, LogsResponse, PlacementFailure } from '../api/types.js';
import type { ReadLogsOptions } from '../client/client.js';
import { BatonApiError } from '../client/http.js';
import { followJob, printAllocLogs, watchJob } from './follow.js';

function counts(c: Partial<AllocCounts>): AllocCounts {
  return { pending: 0, running: 0, complete: 0, failed: 0, lost: 0, ...c };
}

function alloc(over: Partial<Alloc> = {}): Alloc {
  return {
    id: 'aaaaaaaa-1111-4000-8000-000000000000',
    namespace: 'default',
    jobId: 'hello',
    jobVersion: 1,
    name: 'hello[0]',
    index: 0,
    nodeId: 'n1',
    nodeName: 'node-1',
    evalId: 'e1',
    desiredStatus: 'run',
    desiredDescription: '',
    clientStatus: 'running',
    clientDescription: '',
    resources: { cpu: 100, memory: 1024, disk: 0 },
    taskStates: {},
    attempt: 0,
    createIndex: 1,
    modifyIndex: 1,
    createdAt: '2025-01-01T00:00:00Z',
    modifiedAt: '2025-01-01T00:00:00Z',
    ...over,
  };
}

interface Step {
  status: JobStatus;
  allocs?: Partial<AllocCounts>;
  blocked?: PlacementFailure[];
  version?: number;
  evalStatus?: 'pending' | 'complete' | 'blocked';
  type?: 'batch' | 'service';
  count?: number;
  allocList?: Alloc[];
}

function detail(s: Step): JobDetail {
  const version = s.version ?? 1;
  const type = s.type ?? 'batch';
  const count = s.count ?? 3;
  return {
    job: {
      id: 'hello',
      namespace: 'default',
      version,
      stopped: false,
      status: s.status,
      submittedAt: '2025-01-01T00:00:00Z',
      createIndex: 1,
      modifyIndex: 1,
      spec: {
        name: 'hello',
        namespace: 'default',
        type,
        count,
        priority: 50,
        constraints: [],
        scheduling: 'binpack',
        tasks: [],
        retry: { attempts: 0, delayMs: 0, maxDelayMs: 0 },
        restart: { attempts: 0, intervalMs: 0, delayMs: 0, mode: 'fail' },
        meta: {},
        preempt: false,
      },
    },
    summary: {
      id: 'hello',
      namespace: 'default',
      type,
      kind: type,
      version,
      priority: 50,
      count,
      status: s.status,
      allocs: counts(s.allocs ?? {}),
      submittedAt: '2025-01-01T00:00:00Z',
      blocked: s.blocked,
    },
    allocs: s.allocList ?? [],
    allocsTotal: (s.allocList ?? []).length,
    evals: [
      {
        id: 'ev1',
        namespace: 'default',
        jobId: 'hello',
        priority: 50,
        triggeredBy: 'job-register',
        status: s.evalStatus ?? 'complete',
        statusDescription: '',
        queuedAllocs: 0,
        failures: [],
        createIndex: 1,
        modifyIndex: 1,
        createdAt: '2025-01-01T00:00:00Z',
        modifiedAt: '2025-01-01T00:00:00Z',
      },
    ],
  };
}

/** A getJob that answers each step in turn, then repeats the last; calls are counted. */
function scripted(steps: Array<Step | Error>) {
  let i = 0;
  const client = {
    calls: 0,
    async getJob(id: string, namespace?: string): Promise<JobDetail> {
      expect(id).toBe('hello');
      expect(namespace).toBe('default');
      client.calls++;
      const s = steps[Math.min(i++, steps.length - 1)];
      if (s instanceof Error) throw s;
      return detail(s);
    },
  };
  return client;
}

const memoryBlocked: PlacementFailure = {
  dimension: 'memory',
  message: 'memory: 0 of 2 nodes have 20 GiB free',
  nodesEvaluated: 2,
  nodesFiltered: 2,
  neverFits: false,
};

describe('followJob', () => {
  it('prints a line only when counts change and resolves with complete', async () => {
    const client = scripted([
      { status: 'pending', allocs: { pending: 3 } },
      { status: 'pending', allocs: { pending: 3 } },
      { status: 'running', allocs: { pending: 1, running: 2 } },
      { status: 'complete', allocs: { complete: 3 } },
    ]);
    const lines: string[] = [];
    const status = await followJob(client, 'hello', 'default', { out: (l) => lines.push(l), intervalMs: 0 });
    expect(status).toBe('complete');
    expect(client.calls).toBe(4);
    expect(lines).toEqual([
      'hello: 3 pending, 0 running, 0 complete, 0 failed',
      'hello: 1 pending, 2 running, 0 complete, 0 failed',
      'hello: 0 pending, 0 running, 3 complete, 0 failed',
      'hello: complete',
    ]);
  });

  it('hands each poll to onProgress instead of printing counts, and calls onEnd before the last lines', async () => {
    const client = scripted([
      { status: 'pending', allocs: { pending: 3 } },
      { status: 'complete', allocs: { complete: 3 } },
    ]);
    const events: string[] = [];
    await watchJob(client, 'hello', 'default', {
      out: (l) => events.push(l),
      onProgress: (d) => events.push(`progress ${d.job.status}`),
      onEnd: () => events.push('end'),
      intervalMs: 0,
    });
    expect(events).toEqual(['progress pending', 'progress complete', 'end', 'hello: complete']);
  });

  it('prints blocked reasons once while the job waits, and keeps waiting', async () => {
    const client = scripted([
      { status: 'pending', allocs: { pending: 0 }, blocked: [memoryBlocked] },
      { status: 'pending', allocs: { pending: 0 }, blocked: [memoryBlocked] },
      { status: 'running', allocs: { running: 3 } },
      { status: 'complete', allocs: { complete: 3 } },
    ]);
    const lines: string[] = [];
    await followJob(client, 'hello', 'default', { out: (l) => lines.push(l), intervalMs: 0 });
    expect(lines.filter((l) => l.includes('20 GiB free'))).toHaveLength(1);
    expect(lines).toContain('hello: waiting for capacity:');
  });

  it('stops waiting when no node could ever fit the job', async () => {
    const client = scripted([
      { status: 'pending', blocked: [{ ...memoryBlocked, neverFits: true }] },
      { status: 'complete', allocs: { complete: 3 } },
    ]);
    const lines: string[] = [];
    const res = await watchJob(client, 'hello', 'default', { out: (l) => lines.push(l), intervalMs: 0 });
    expect(res).toEqual({ status: 'pending', outcome: 'unplaceable', ok: false });
    expect(client.calls).toBe(1);
    expect(lines.join('\n')).toMatch(/no node can ever fit/);
  });

  it('keeps waiting when only some reasons can never be met', async () => {
    const client = scripted([
      {
        status: 'pending',
        blocked: [
          { ...memoryBlocked, neverFits: true },
          { ...memoryBlocked, dimension: 'cpu', message: 'cpu busy' },
        ],
      },
      { status: 'complete', allocs: { complete: 3 } },
    ]);
    const res = await watchJob(client, 'hello', 'default', { out: () => {}, intervalMs: 0 });
    expect(res.outcome).toBe('complete');
  });

  it('reports failed allocs with their exit code or OOM kill', async () => {
    const oom = alloc({
      name: 'hello[1]',
      clientStatus: 'failed',
      taskStates: {
        main: { state: 'dead', failed: true, oomKilled: true, peakMemory: 512 * 1024 ** 2, restarts: 0, events: [] },
      },
    });
    const exit = alloc({
      clientStatus: 'failed',
      taskStates: { main: { state: 'dead', failed: true, exitCode: 3, restarts: 0, events: [] } },
    });
    const client = scripted([{ status: 'failed', allocs: { failed: 2 }, allocList: [oom, exit] }]);
    const lines: string[] = [];
    const res = await watchJob(client, 'hello', 'default', { out: (l) => lines.push(l), intervalMs: 0 });
    expect(res).toEqual({ status: 'failed', outcome: 'failed', ok: false });
    expect(lines.join('\n')).toContain('task main OOM killed (peak 512 MiB)');
    expect(lines.join('\n')).toContain('task main exited with code 3');
  });

  it('ignores the terminal status of an older version until the submitted eval is taken', async () => {
    const client = scripted([
      { status: 'complete', version: 1, allocs: { complete: 3 } },
      { status: 'complete', version: 2, evalStatus: 'pending', allocs: { complete: 3 } },
      { status: 'running', version: 2, allocs: { running: 3 } },
      { status: 'failed', version: 2, allocs: { failed: 3 } },
    ]);
    const res = await watchJob(client, 'hello', 'default', { out: () => {}, intervalMs: 0, version: 2, evalId: 'ev1' });
    expect(res.status).toBe('failed');
    expect(client.calls).toBe(4);
  });

  it('counts a service job as done once all its allocs run', async () => {
    const client = scripted([
      { status: 'running', type: 'service', count: 2, allocs: { running: 1, pending: 1 } },
      { status: 'running', type: 'service', count: 2, allocs: { running: 2 } },
    ]);
    const res = await watchJob(client, 'hello', 'default', { out: () => {}, intervalMs: 0 });
    expect(res).toEqual({ status: 'running', outcome: 'running', ok: true });
    expect(client.calls).toBe(2);
  });

  it('rides out a server that is briefly unreachable, but not other errors', async () => {
    const down = new BatonApiError(0, 'cannot reach the baton server at http://x: ECONNREFUSED');
    const client = scripted([down, down, { status: 'complete', allocs: { complete: 3 } }]);
    const lines: string[] = [];
    expect(await followJob(client, 'hello', 'default', { out: (l) => lines.push(l), intervalMs: 0 })).toBe('complete');
    expect(lines.filter((l) => l.includes('ECONNREFUSED'))).toHaveLength(1);

    const gone = scripted([new BatonApiError(404, 'job hello not found')]);
    await expect(followJob(gone, 'hello', 'default', { out: () => {}, intervalMs: 0 })).rejects.toThrow('not found');
  });
});

describe('printAllocLogs', () => {
  it('prints each non-empty stream of each task under a header, reading every page', async () => {
    const data: Record<string, string> = { 'main/stdout': 'line one\nline two\n', 'main/stderr': '', 'side/stdout': 'x' };
    const client = {
      async readLogs(_id: string, opts: ReadLogsOptions = {}): Promise<LogsResponse> {
        const text = data[`${opts.task}/${opts.stream}`] ?? '';
        const offset = opts.offset ?? 0;
        // pages of 5 bytes, to prove that every page is read
        const chunk = text.slice(offset, offset + 5);
        return { data: chunk, nextOffset: offset + chunk.length, complete: offset + chunk.length >= text.length };
      },
    };
    const a = alloc({
      taskStates: {
        side: { state: 'dead', failed: false, restarts: 0, events: [] },
        main: { state: 'dead', failed: false, restarts: 0, events: [] },
      },
    });
    const lines: string[] = [];
    await printAllocLogs(client, a, (l) => lines.push(l));
    expect(lines).toEqual([
      '==> hello[0] (alloc aaaaaaaa) task main stdout <==',
      'line one',
      'line two',
      '==> hello[0] (alloc aaaaaaaa) task side stdout <==',
      'x',
    ]);
  });
});
