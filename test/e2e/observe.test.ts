/**
 * Metrics, events and usage against a real cluster (server and exec agents as
 * processes): /metrics parsed as Prometheus text and checked against the state
 * the test made, the event stream seen while a job runs, `baton events`, and
 * usage samples of a running task.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../../src/api/types.js';
import { TestCluster, waitFor } from '../support/cluster.js';
import { waitForJob } from '../support/e2e.js';
import { parsePromText } from '../support/prom-text.js';

const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

function baton(cluster: TestCluster, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, '--addr', cluster.url, '--token', cluster.adminToken, '--ca-file', cluster.caFile, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

async function scrape(cluster: TestCluster) {
  const res = await cluster.fetch('/metrics');
  expect(res.status).toBe(200);
  return parsePromText(await res.text());
}

describe('observability end to end', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start();
    await cluster.addAgent({ name: 'obs-1', cpu: '2', memory: '1Gi', drivers: 'exec' });
    await cluster.addAgent({ name: 'obs-2', cpu: '2', memory: '1Gi', drivers: 'exec' });
  });
  afterAll(async () => cluster?.stop());

  it('follows the event stream while a job runs: registered, placed, updated, complete, in order', async () => {
    const seen: ClusterEvent[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const e of cluster.client.followEvents({ topics: ['job', 'alloc'] }, abort.signal)) {
        seen.push(e);
        if (e.topic === 'job' && e.key === 'evjob' && (e.payload as { status?: string }).status === 'complete') abort.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await cluster.client.submitJob(
      'name: evjob\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", "sleep 0.3"]\n',
      'evjob.yaml',
    );
    await Promise.race([
      following,
      new Promise((_, rej) => setTimeout(() => rej(new Error(`no complete event; saw ${seen.map((e) => e.type).join(', ')}`)), 30_000)),
    ]);
    const mine = seen.filter((e) => e.key === 'evjob' || (e.payload as { jobId?: string }).jobId === 'evjob');
    const types = mine.map((e) => e.type);
    expect(types[0]).toBe('JobRegistered');
    const placed = types.indexOf('AllocPlaced');
    expect(placed).toBeGreaterThan(0);
    const statuses = mine.filter((e) => e.type === 'AllocUpdated').map((e) => (e.payload as { clientStatus: string }).clientStatus);
    expect(statuses).toContain('running');
    expect(statuses.at(-1)).toBe('complete');
    expect(types.indexOf('AllocUpdated')).toBeGreaterThan(placed);
    const indexes = seen.map((e) => e.index);
    expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
  });

  it('`baton events` prints the kept events, as lines or JSON lines', async () => {
    const lines = await baton(cluster, ['events', '--topic', 'job']);
    expect(lines.code, lines.stderr).toBe(0);
    expect(lines.stdout).toMatch(/job\s+JobRegistered\s+evjob\s+default\/evjob v1/);
    const json = await baton(cluster, ['events', '--topic', 'alloc', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ClusterEvent);
    expect(events.length).toBeGreaterThan(2);
    expect(events.every((e) => e.topic === 'alloc')).toBe(true);
    expect(events.map((e) => e.type)).toContain('AllocPlaced');
    const bad = await baton(cluster, ['events', '--topic', 'jobz']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown topic "jobz"/);
  });

  it('`baton events -f` prints new events as they happen', async () => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        '--addr',
        cluster.url,
        '--token',
        cluster.adminToken,
        '--ca-file',
        cluster.caFile,
        'events',
        '-f',
        '--topic',
        'job',
        '--index',
        String((await cluster.client.status()).index),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      await new Promise((r) => setTimeout(r, 500));
      await cluster.client.submitJob('name: followed\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n', 'followed.yaml');
      await waitFor('the followed job in the output', () => /JobRegistered\s+followed/.test(out), 20_000);
      expect(out).not.toMatch(/evjob/);
    } finally {
      child.kill('SIGINT');
    }
  });

  it('serves /metrics that match the cluster state', async () => {
    await cluster.client.submitJob(
      'name: many\ntype: batch\ncount: 3\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { memory: 64Mi, cpu: 100m }\n',
      'many.yaml',
    );
    await waitForJob(cluster.client, 'many', (d) => d.summary.status === 'complete', 'many to complete');
    await waitForJob(cluster.client, 'followed', (d) => d.summary.status === 'complete', 'followed to complete');
    const m = await scrape(cluster);
    expect(m.types.baton_nodes).toBe('gauge');
    expect(m.get('baton_nodes', { status: 'ready' })).toBe(2);
    expect(m.get('baton_nodes', { status: 'down' })).toBe(0);
    const allocs = await cluster.client.listAllocs({});
    const complete = allocs.filter((a) => a.clientStatus === 'complete').length;
    // evjob 1 + followed 1 + many 3
    expect(complete).toBe(5);
    expect(m.get('baton_allocs', { client_status: 'complete' })).toBe(complete);
    expect(m.get('baton_allocs', { client_status: 'running' })).toBe(0);
    expect(m.get('baton_jobs', { status: 'complete' })).toBe(3);
    expect(m.get('baton_evals_blocked')).toBe(0);
    expect(m.types.baton_scheduling_seconds).toBe('histogram');
    expect(m.get('baton_scheduling_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(m.get('baton_eval_wait_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(m.get('baton_plan_apply_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(m.get('baton_node_memory_capacity_bytes', { node: 'obs-1' })).toBe(1024 ** 3);
    expect(m.get('baton_http_request_seconds_count', { method: 'POST', route: '/v1/jobs', status: '200' })).toBe(3);
    // histogram buckets are cumulative and end at the count
    const buckets = m.samples.filter((s) => s.name === 'baton_scheduling_seconds_bucket').map((s) => s.value);
    expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
    expect(buckets.at(-1)).toBe(m.get('baton_scheduling_seconds_count'));
  });

  it('reports usage of a running task per node and per alloc', async () => {
    // burn some cpu and hold ~20 MiB so both show up
    await cluster.client.submitJob(
      'name: busy\ntype: service\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", "head -c 20000000 /dev/zero | tail -c 1 >/dev/null; while :; do :; done"]\n    resources: { memory: 128Mi, cpu: 500m }\n',
      'busy.yaml',
    );
    const d = await waitForJob(cluster.client, 'busy', (x) => x.allocs.some((a) => a.clientStatus === 'running'), 'busy to run');
    const alloc = d.allocs.find((a) => a.clientStatus === 'running')!;
    const usage = await waitFor(
      'cpu samples of the busy task',
      async () => {
        const u = await cluster.client.allocUsage(alloc.id);
        return (u.tasks?.main ?? []).some((s) => s.cpu > 0) && u;
      },
      30_000,
    );
    expect(usage.memoryLimit).toBe(128 * 1024 ** 2);
    expect(usage.samples.length).toBeGreaterThan(0);
    expect(usage.tasks!.main.every((s) => s.memory > 0)).toBe(true);
    const node = await cluster.client.nodeUsage(alloc.nodeId);
    expect(node.samples.some((s) => s.cpu > 0)).toBe(true);
    // the busy task keeps a core busy: the node's gauge shows it once a sample with it is in
    const m = await waitFor(
      'the node cpu gauge to show the busy task',
      async () => {
        const scraped = await scrape(cluster);
        return (scraped.get('baton_node_cpu_used_millicores', { node: alloc.nodeName }) ?? 0) > 0 && scraped;
      },
      30_000,
    );
    expect(m.get('baton_allocs', { client_status: 'running' })).toBe(1);
    await cluster.client.stopJob('busy');
  });
});
