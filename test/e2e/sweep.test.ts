/**
 * Hundreds of runs with one request, on two exec agents with declared
 * capacity: every run exactly once, never more memory on a node than it has;
 * a sweep with one bad row stores nothing; fair share between namespaces;
 * per-run outcomes (timed out, OOM-killed and retried with more memory).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DispatchResponse, DispatchRun, JobSummary, Page, RunsResponse } from '../../src/api/types.js';
import { BatonApiError } from '../../src/client/http.js';
import { TestCluster, waitFor } from '../support/cluster.js';
import { cgroupsSuiteEnabled } from '../support/e2e.js';

const cgroupsWritable = cgroupsSuiteEnabled();

describe('sweeps of dispatched runs', () => {
  let cluster: TestCluster;
  let marks: string;
  const dispatch = (job: string, runs: DispatchRun[], namespace = 'default') =>
    cluster.client.http.request<DispatchResponse>('POST', `/v1/jobs/${encodeURIComponent(job)}/dispatch`, { query: { namespace }, body: { runs } });
  // every page: the listing is paged (100 a page by default)
  const runs = (job: string, namespace = 'default'): Promise<RunsResponse> => cluster.client.listRuns(job, namespace);

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    marks = await cluster.tempDir('sweep');
    // 1 GiB each: ten 100 MiB runs at a time per node
    await cluster.addAgent({ name: 'sweep-a', cpu: '4', memory: '1Gi', drivers: 'exec' });
    await cluster.addAgent({ name: 'sweep-b', cpu: '4', memory: '1Gi', drivers: 'exec' });
  });
  afterAll(async () => cluster?.stop());

  it("runs a 200-run sweep: every marker exactly once, never over a node's memory", async () => {
    const script = [
      `echo "start $(date +%s%N)" >> ${marks}/node-$BATON_NODE_ID`,
      `echo "$BATON_NODE_ID" >> ${marks}/run-$BATON_META_I`,
      'sleep 0.2',
      `echo "end $(date +%s%N)" >> ${marks}/node-$BATON_NODE_ID`,
    ].join('; ');
    await cluster.client.submitJob(
      `name: sim\ntype: batch\nparameterized:\n  meta_required: [i]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n    resources: { cpu: 100m, memory: 100Mi }\n`,
      'sim.yaml',
    );
    const res = await dispatch(
      'sim',
      Array.from({ length: 200 }, (_, i) => ({ meta: { i: String(i) } })),
    );
    expect(res.jobs).toHaveLength(200);
    let maxLive = 0;
    const final = await waitFor(
      'all 200 runs to complete',
      async () => {
        const r = await runs('sim');
        const live = new Map<string, number>();
        for (const row of r.runs) if (row.outcome === 'running' && row.node) live.set(row.node, (live.get(row.node) ?? 0) + 1);
        maxLive = Math.max(maxLive, ...live.values(), 0);
        return r.runs.every((x) => x.outcome === 'complete') ? r : undefined;
      },
      180_000,
      200,
    );
    expect(final.runs).toHaveLength(200);
    expect(final.job.children).toMatchObject({ complete: 200 });
    expect(maxLive).toBeLessThanOrEqual(10);

    // the runs' own evidence: one marker per run, each written once
    const files = (await readdir(marks)).filter((f) => f.startsWith('run-'));
    expect(files.sort()).toEqual(Array.from({ length: 200 }, (_, i) => `run-${i}`).sort());
    for (const f of files) expect((await readFile(join(marks, f), 'utf8')).trim().split('\n')).toHaveLength(1);
    // and never more than ten at once on a node (10 × 100 MiB = 1 GiB)
    for (const f of (await readdir(marks)).filter((x) => x.startsWith('node-'))) {
      const events = (await readFile(join(marks, f), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => l.split(' '))
        .map(([k, t]) => ({ k, t: BigInt(t) }));
      events.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.k === 'end' ? -1 : 1));
      let live = 0;
      let peak = 0;
      for (const e of events) {
        live += e.k === 'start' ? 1 : -1;
        peak = Math.max(peak, live);
      }
      expect(peak).toBeLessThanOrEqual(10);
    }
  });

  it('stores a sweep all or none: one bad row rejects it, naming the row', async () => {
    const before = (await runs('sim')).runs.length;
    const rows: DispatchRun[] = Array.from({ length: 50 }, (_, i) => ({ meta: { i: `x${i}` } }));
    rows[37] = { meta: { j: '1' } };
    const err = await dispatch('sim', rows).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonApiError);
    const e = err as BatonApiError;
    expect(e.status).toBe(400);
    expect(e.details.map((d) => d.path)).toContain('runs[37].meta.i');
    expect(e.details.find((d) => d.path === 'runs[37].meta.i')!.message).toMatch(/run 38/);
    expect((await runs('sim')).runs.length).toBe(before);
  });

  it("starts a later namespace's few runs before an earlier namespace's queue drains (fair share)", async () => {
    const spec = (ns: string) =>
      `name: work\nnamespace: ${ns}\ntype: batch\nparameterized:\n  meta_required: [n]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", "sleep 0.3"]\n    resources: { cpu: 100m, memory: 600Mi }\n`;
    await cluster.client.submitJob(spec('team-a'), 'a.yaml');
    await cluster.client.submitJob(spec('team-b'), 'b.yaml');
    // two slots in all (one 600 MiB run per 1 GiB node): A queues 40, then B queues 5
    await dispatch(
      'work',
      Array.from({ length: 40 }, (_, i) => ({ meta: { n: String(i) } })),
      'team-a',
    );
    await waitFor('A to be running', async () => (await runs('work', 'team-a')).runs.some((r) => r.outcome === 'running') || undefined);
    await dispatch(
      'work',
      Array.from({ length: 5 }, (_, i) => ({ meta: { n: String(i) } })),
      'team-b',
    );
    const b = await waitFor(
      'B to finish',
      async () => {
        const r = await runs('work', 'team-b');
        return r.runs.every((x) => x.outcome === 'complete') ? r : undefined;
      },
      120_000,
      200,
    );
    const bDone = Math.max(...b.runs.map((r) => Date.parse(r.finishedAt!)));
    const a = await runs('work', 'team-a');
    const aQueuedWhenBDone = a.runs.filter((r) => !r.startedAt || Date.parse(r.startedAt) > bDone).length;
    // B's 5 did not wait for A's 40: most of A was still queued when B finished
    expect(aQueuedWhenBDone).toBeGreaterThan(20);
    const jobs = await cluster.client.http.request<Page<JobSummary>>('GET', '/v1/jobs', { query: { namespace: 'team-b' } });
    expect(jobs.items.map((j) => j.id)).toEqual(['work']);
  });

  it('reports a run that outlives its timeout as timed out', async () => {
    await cluster.client.submitJob(
      'name: slowpoke\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["30"]\n    timeout: 500ms\n    kill_timeout: 1s\n    resources: { memory: 32Mi }\n',
      'slowpoke.yaml',
    );
    const r = await waitFor(
      'the run to end',
      async () => {
        const x = await runs('slowpoke');
        return x.runs[0].outcome !== 'queued' && x.runs[0].outcome !== 'running' ? x : undefined;
      },
      30_000,
    );
    expect(r.runs[0].outcome).toBe('timed-out');
    expect(r.runs[0].reason).toMatch(/timed out/);
  });

  it.skipIf(!cgroupsWritable)('retries an OOM-killed run with more memory, and it succeeds', async () => {
    // dd needs a 64 MiB buffer: OOM-killed at 48 MiB, fine at 48 × 2 = 96 MiB
    await cluster.client.submitJob(
      'name: grower\ntype: batch\nretry: { attempts: 2, delay: 100ms, on_oom: { grow: 2, max: 256Mi } }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/dd\n    args: ["if=/dev/zero", "of=/dev/null", "bs=64M", "count=2"]\n    resources: { memory: 48Mi }\n',
      'grower.yaml',
    );
    const d = await waitFor(
      'the job to end',
      async () => {
        const x = await cluster.client.getJob('grower');
        return x.summary.status === 'complete' || x.summary.status === 'failed' ? x : undefined;
      },
      60_000,
    );
    expect(d.summary.status).toBe('complete');
    const byAttempt = [...d.allocs].sort((a, b) => a.attempt - b.attempt);
    expect(byAttempt[0].taskStates.main.oomKilled).toBe(true);
    expect(byAttempt[0].taskStates.main.memoryLimit).toBe(48 * 1024 * 1024);
    const last = byAttempt[byAttempt.length - 1];
    expect(last.clientStatus).toBe('complete');
    expect(last.taskResources?.main.memory).toBe(96 * 1024 * 1024);
    expect(last.taskStates.main.memoryLimit).toBe(96 * 1024 * 1024);
  });
});
