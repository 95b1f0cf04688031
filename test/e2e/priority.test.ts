/**
 * Priority with preemption (only when the job asks for it, and the preempted
 * run requeues without using a retry), and periodic jobs launching children
 * on their cron schedule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from '../support/cluster.js';
import { waitForJob } from '../support/e2e.js';

describe('preemption and periodic jobs', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    await cluster.addAgent({ name: 'prio-a', cpu: '4', memory: '1Gi', drivers: 'exec' });
  });
  afterAll(async () => cluster?.stop());

  const job = (name: string, extra: string, script: string) =>
    `name: ${name}\ntype: batch\n${extra}tasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n    kill_timeout: 500ms\n    resources: { memory: 600Mi }\n`;

  it('does not preempt for a job that does not ask for it', async () => {
    await cluster.client.submitJob(job('low', 'priority: 10\nretry: { attempts: 0 }\n', 'sleep 2'), 'low.yaml');
    await waitForJob(cluster.client, 'low', (d) => d.summary.allocs.running === 1, 'low running');
    await cluster.client.submitJob(job('polite', 'priority: 90\n', 'true'), 'polite.yaml');
    const d = await waitForJob(cluster.client, 'polite', (x) => (x.summary.blocked?.length ?? 0) > 0, 'polite blocked');
    expect(d.summary.status).toBe('pending');
    const low = await cluster.client.getJob('low');
    expect(low.allocs.every((a) => a.desiredStatus === 'run' && !a.preemptedBy)).toBe(true);
    // polite runs once low is done by itself
    await waitForJob(cluster.client, 'polite', (x) => x.summary.status === 'complete', 'polite complete');
    expect((await cluster.client.getJob('low')).summary.status).toBe('complete');
  });

  it('preempts a lower-priority batch run for a job with preempt: true; the run requeues without using a retry', async () => {
    await cluster.client.submitJob(job('bulk', 'priority: 10\nretry: { attempts: 0 }\n', 'sleep 2'), 'bulk.yaml');
    const first = await waitForJob(cluster.client, 'bulk', (d) => d.summary.allocs.running === 1, 'bulk running');
    const victim = first.allocs[0];
    await cluster.client.submitJob(job('urgent', 'priority: 90\npreempt: true\n', 'echo urgent'), 'urgent.yaml');
    await waitForJob(cluster.client, 'urgent', (x) => x.summary.status === 'complete', 'urgent complete', 30_000);
    const bulk = await waitForJob(cluster.client, 'bulk', (x) => x.summary.status === 'complete', 'bulk complete after requeue', 30_000);
    const stopped = bulk.allocs.find((a) => a.id === victim.id)!;
    expect(stopped.preemptedBy).toBe('urgent');
    expect(stopped.desiredStatus).toBe('stop');
    const rerun = bulk.allocs.find((a) => a.previousAllocId === victim.id)!;
    expect(rerun.attempt).toBe(victim.attempt);
    expect(rerun.clientStatus).toBe('complete');
  });

  it("launches a periodic job's children on schedule and shows the next launch", async () => {
    await cluster.client.submitJob(
      'name: tick\ntype: batch\nperiodic: { cron: "* * * * * *", timezone: "Europe/Paris", overlap: allow }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { memory: 32Mi }\n',
      'tick.yaml',
    );
    const parent = await waitFor(
      'two launches',
      async () => {
        const [j] = (await cluster.client.listJobs('default')).filter((x) => x.id === 'tick');
        return j?.children && j.children.complete + j.children.running + j.children.pending >= 2 ? j : undefined;
      },
      20_000,
      200,
    );
    expect(Date.parse(parent.nextLaunch!)).toBeGreaterThan(Date.now() - 2_000);
    const children = await cluster.client.listJobs('default', { parent: 'tick' });
    expect(children.every((c) => /^tick\/periodic-\d+$/.test(c.id) && c.parentId === 'tick')).toBe(true);
    await cluster.client.stopJob('tick');
    const after = (await cluster.client.listJobs('default', { parent: 'tick' })).length;
    await new Promise((r) => setTimeout(r, 2500));
    const later = await cluster.client.listJobs('default', { parent: 'tick' });
    expect(later.length).toBe(after);
  });
});
