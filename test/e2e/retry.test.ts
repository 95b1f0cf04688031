/**
 * Failure policies with real processes: a failing batch alloc is retried as a
 * new alloc up to retry.attempts times, and a service task that exits is
 * restarted in place by its restart policy.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { waitForJob } from '../support/e2e.js';

describe('retry and restart policies', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await TestCluster.start();
    dir = await cluster.tempDir('retry');
    await cluster.addAgent({ name: 'retry-node', cpu: '2', memory: '1Gi', drivers: 'exec' });
  });
  afterAll(async () => cluster?.stop());

  it('retries a failed batch alloc as a new alloc until it succeeds', async () => {
    // fails on its first two runs, succeeds on the third
    const script = `echo run >> ${dir}/flaky; [ $(wc -l < ${dir}/flaky) -ge 3 ]`;
    await cluster.client.submitJob(
      `name: flaky\ntype: batch\nretry: { attempts: 2, delay: 200ms }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n`,
      'flaky.yaml',
    );
    const d = await waitForJob(cluster.client, 'flaky', (x) => x.summary.status === 'complete' || x.summary.status === 'failed', 'the job to end');
    expect(d.summary.status).toBe('complete');
    const allocs = [...d.allocs].sort((a, b) => a.attempt - b.attempt);
    expect(allocs.map((a) => [a.attempt, a.clientStatus])).toEqual([
      [0, 'failed'],
      [1, 'failed'],
      [2, 'complete'],
    ]);
    expect(allocs[1].previousAllocId).toBe(allocs[0].id);
    expect(allocs[2].previousAllocId).toBe(allocs[1].id);
    expect(allocs[0].taskStates.main.exitCode).toBe(1);
  });

  it('gives up after retry.attempts and reports the job failed', async () => {
    await cluster.client.submitJob(
      'name: doomed\ntype: batch\nretry: { attempts: 1, delay: 100ms }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", "exit 7"]\n',
      'doomed.yaml',
    );
    const d = await waitForJob(cluster.client, 'doomed', (x) => x.summary.status === 'failed', 'failed');
    expect(d.allocs).toHaveLength(2);
    expect(d.allocs.every((a) => a.clientStatus === 'failed' && a.taskStates.main.exitCode === 7)).toBe(true);
    for (const a of d.allocs) expect(a.clientDescription).toMatch(/^task main exited with code 7\b/);
  });

  it('restarts an exiting service task in place, then replaces the alloc when the policy gives up', async () => {
    const script = `echo start >> ${dir}/svc-$BATON_ALLOC_ID; sleep 0.3; exit 1`;
    await cluster.client.submitJob(
      `name: crashy\ntype: service\nrestart: { attempts: 2, interval: 1m, delay: 100ms, mode: fail }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n`,
      'crashy.yaml',
    );
    const d = await waitForJob(
      cluster.client,
      'crashy',
      (x) => x.allocs.some((a) => a.clientStatus === 'failed') && x.allocs.length >= 2,
      'a failed alloc and its replacement',
    );
    const first = d.allocs.find((a) => a.clientStatus === 'failed')!;
    // 1 start + 2 restarts in place on the same alloc, then the alloc fails
    expect(first.taskStates.main.restarts).toBe(2);
    expect((await readFile(`${dir}/svc-${first.id}`, 'utf8')).trim().split('\n')).toHaveLength(3);
    expect(first.taskStates.main.events.filter((e) => e.type === 'Restarting')).toHaveLength(2);
    expect(d.allocs.some((a) => a.previousAllocId === first.id)).toBe(true);
    await cluster.client.stopJob('crashy');
  });
});
