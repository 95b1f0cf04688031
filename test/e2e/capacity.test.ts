/**
 * The whole point of baton: two agents declaring 1 GiB each and six jobs of
 * 600 MiB each. Never two of them on one node at the same time, and all six
 * complete. Each task writes when it starts and ends, so the proof comes from
 * the processes themselves, not from baton's own bookkeeping.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from '../support/cluster.js';

describe('memory is never oversubscribed', () => {
  let cluster: TestCluster;
  let marks: string;

  beforeAll(async () => {
    cluster = await TestCluster.start();
    marks = await cluster.tempDir('marks');
    await mkdir(marks, { recursive: true });
    await cluster.addAgent({ name: 'small-a', cpu: '4', memory: '1Gi', drivers: 'exec' });
    await cluster.addAgent({ name: 'small-b', cpu: '4', memory: '1Gi', drivers: 'exec' });
  });
  afterAll(async () => cluster?.stop());

  it('runs six 600 MiB jobs on two 1 GiB nodes one at a time per node, and all complete', async () => {
    for (let i = 0; i < 6; i++) {
      const script = `echo "start $(date +%s%N) $BATON_JOB_ID" >> ${marks}/$BATON_NODE_ID; sleep 1; echo "end $(date +%s%N) $BATON_JOB_ID" >> ${marks}/$BATON_NODE_ID`;
      const source = [
        `name: big-${i}`,
        'type: batch',
        'tasks:',
        '  - name: main',
        '    driver: exec',
        '    command: /bin/sh',
        `    args: ["-c", ${JSON.stringify(script)}]`,
        '    resources: { cpu: 100m, memory: 600Mi }',
      ].join('\n');
      await cluster.client.submitJob(source, `big-${i}.yaml`);
    }

    // while the queue drains, the server's view must never put two on a node either
    let maxPerNode = 0;
    await waitFor(
      'all six jobs to complete',
      async () => {
        const allocs = await cluster.client.listAllocs({});
        const live = new Map<string, number>();
        for (const a of allocs) {
          if (a.clientStatus === 'running' || a.clientStatus === 'pending') live.set(a.nodeId, (live.get(a.nodeId) ?? 0) + 1);
        }
        maxPerNode = Math.max(maxPerNode, ...live.values(), 0);
        const done = allocs.filter((a) => a.clientStatus === 'complete').length;
        return done === 6 || undefined;
      },
      90_000,
      100,
    );
    for (let i = 0; i < 6; i++) {
      const d = await cluster.client.getJob(`big-${i}`, 'default');
      expect(d.summary.status).toBe('complete');
    }
    expect(maxPerNode).toBeLessThanOrEqual(1);

    const nodeFiles = await readdir(marks);
    let jobsSeen = 0;
    for (const f of nodeFiles) {
      const lines = (await readFile(join(marks, f), 'utf8')).trim().split('\n');
      const spans = new Map<string, { start: bigint; end: bigint }>();
      for (const l of lines) {
        const [kind, ts, job] = l.split(' ');
        const s = spans.get(job) ?? { start: 0n, end: 0n };
        if (kind === 'start') s.start = BigInt(ts);
        else s.end = BigInt(ts);
        spans.set(job, s);
      }
      const sorted = [...spans.values()].sort((a, b) => (a.start < b.start ? -1 : 1));
      for (let i = 1; i < sorted.length; i++) {
        // the next run on this node starts only after the previous one ended
        expect(sorted[i].start > sorted[i - 1].end).toBe(true);
      }
      jobsSeen += spans.size;
    }
    expect(jobsSeen).toBe(6);
  });

  it('says so when a job can never fit, instead of leaving it waiting silently', async () => {
    const res = await cluster.client.submitJob(
      'name: huge\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { memory: 20Gi }\n',
      'huge.yaml',
    );
    expect(res.warnings.join('\n')).toMatch(/memory/);
    const summary = await waitFor('the job to be reported blocked', async () => {
      const d = await cluster.client.getJob('huge', 'default');
      return d.summary.blocked?.length ? d.summary : undefined;
    });
    const mem = summary.blocked!.find((f) => f.dimension === 'memory')!;
    expect(mem.neverFits).toBe(true);
    expect(mem.message).toMatch(/20 GiB/);
    expect(summary.status).toBe('pending');
  });
});
