/**
 * What a task gets of the network at start: its ports (published by docker,
 * env for everyone), host volumes (mounts for docker, env for exec), and the
 * endpoints of its upstream services as the server's registry has them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentAlloc, AllocStatusUpdate, ServiceEndpointsResponse, TaskSpec } from '../api/types.js';
import type { AgentClient } from '../client/agent-client.js';
import { AllocRunner } from './alloc-runner.js';
import type { AgentContext } from './context.js';
import { FakeDriver } from './fake-driver.js';
import { StateStore } from './state-file.js';
import { StatusReporter } from './status-reporter.js';
import { agentAlloc as fixtureAgentAlloc } from './task-runner.fixture.js';

let dir = '';
let aborts: AbortController[] = [];
let runners: AllocRunner[] = [];

interface Harness {
  ctx: AgentContext;
  reports: AllocStatusUpdate[];
  lookups: Array<{ name: string; namespace: string }>;
  logs: string[];
}

function harness(driver: FakeDriver, lookup: (name: string) => Promise<ServiceEndpointsResponse>): Harness {
  const abort = new AbortController();
  aborts.push(abort);
  const reports: AllocStatusUpdate[] = [];
  const lookups: Harness['lookups'] = [];
  const logs: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  );
  const client = {
    shipLogs: async (chunks: unknown[]) => ({ accepted: chunks.length }),
    serviceEndpoints: (name: string, namespace: string) => {
      lookups.push({ name, namespace });
      return lookup(name);
    },
  } as unknown as AgentClient;
  const reporter = new StatusReporter({ send: async (u) => void reports.push(...structuredClone(u)), logger, signal: abort.signal, coalesceMs: 1 });
  return {
    ctx: {
      client,
      store: new StateStore(dir),
      reporter,
      drivers: new Map([[driver.name, driver]]),
      logger,
      signal: abort.signal,
      node: { address: '10.0.0.7', volumes: { site: { path: '/tmp/site', readOnly: false }, certs: { path: '/etc/certs', readOnly: true } } },
    },
    reports,
    lookups,
    logs,
  };
}

/** a service task in namespace team-a, docker by default */
const agentAlloc = (task: Partial<TaskSpec>, ports?: AgentAlloc['alloc']['ports']): AgentAlloc =>
  fixtureAgentAlloc({ type: 'service', namespace: 'team-a', task: { driver: 'docker', image: 'x', ...task }, ports });

function run(h: Harness, aa: AgentAlloc): AllocRunner {
  const r = AllocRunner.create(h.ctx, aa, 'n1');
  runners.push(r);
  r.start();
  return r;
}

async function until<T>(what: string, fn: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

const endpoints = (...addrs: string[]): ServiceEndpointsResponse => ({
  index: 5,
  endpoints: addrs.map((a, i) => {
    const [address, port] = a.split(':');
    return {
      service: 'web',
      namespace: 'team-a',
      jobId: 'web',
      allocId: `a${i}`,
      task: 'main',
      nodeId: 'n',
      nodeName: 'n',
      address,
      port: Number(port),
      tags: [],
    };
  }),
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-task-network-'));
  aborts = [];
  runners = [];
});
afterEach(async () => {
  for (const r of runners) r.stop();
  await Promise.all(runners.map((r) => r.whenDone()));
  for (const a of aborts) a.abort();
  await rm(dir, { recursive: true, force: true });
});

describe('task network at start', () => {
  it('docker: publishes the assigned ports, mounts volumes, and hands over upstream endpoints', async () => {
    const driver = new FakeDriver('docker', '/baton/task');
    const h = harness(driver, async (name) => (name === 'web' ? endpoints('10.0.0.7:23456', '10.0.0.8:23999') : endpoints()));
    run(
      h,
      agentAlloc(
        {
          ports: [
            { name: 'http', to: 8080 },
            { name: 'metrics', static: 9100 },
          ],
          volumes: [{ volume: 'site', destination: '/www', readOnly: true }],
          upstreams: [{ service: 'web' }, { service: 'db', env: 'DB_ADDRS' }],
        },
        { main: { http: { host: 23456, to: 8080 }, metrics: { host: 9100 } } },
      ),
    );
    const t = await until('start', () => driver.last());
    expect(t.config.ports).toEqual([
      { name: 'http', host: 23456, to: 8080 },
      { name: 'metrics', host: 9100 },
    ]);
    expect(t.config.volumes).toEqual([{ name: 'site', hostPath: '/tmp/site', destination: '/www', readOnly: true }]);
    expect(t.config.env).toMatchObject({
      BATON_PORT_HTTP: '8080',
      BATON_ADDR_HTTP: '10.0.0.7:23456',
      BATON_PORT_METRICS: '9100',
      BATON_ADDR_METRICS: '10.0.0.7:9100',
      BATON_UPSTREAM_WEB: '10.0.0.7:23456,10.0.0.8:23999',
      DB_ADDRS: '',
    });
    // docker tasks see their volumes mounted, not as paths on the host
    expect(t.config.env.BATON_VOLUME_SITE).toBeUndefined();
    expect(h.lookups.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'db', namespace: 'team-a' },
      { name: 'web', namespace: 'team-a' },
    ]);
  });

  it('exec: the host port and volume paths as env, with a word that read-only cannot be enforced', async () => {
    const driver = new FakeDriver('exec');
    const h = harness(driver, async () => endpoints());
    run(
      h,
      agentAlloc(
        { driver: 'exec', command: 'x', image: undefined, ports: [{ name: 'http' }], volumes: [{ volume: 'certs', destination: 'unused', readOnly: false }] },
        { main: { http: { host: 20001 } } },
      ),
    );
    const t = await until('start', () => driver.last());
    expect(t.config.env).toMatchObject({ BATON_PORT_HTTP: '20001', BATON_ADDR_HTTP: '10.0.0.7:20001', BATON_VOLUME_CERTS: '/etc/certs' });
    const warnings = h.logs.filter((l) => l.includes('read-only cannot be enforced for exec tasks'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0])).toMatchObject({ volumes: ['certs'], allocId: 'alloc-1', task: 'main' });
  });

  it('starts with no endpoints when the lookup fails, and says why', async () => {
    const driver = new FakeDriver('docker', '/baton/task');
    const h = harness(driver, async () => {
      throw new Error('cannot reach the baton server');
    });
    run(h, agentAlloc({ upstreams: [{ service: 'web' }] }));
    const t = await until('start', () => driver.last());
    expect(t.config.env.BATON_UPSTREAM_WEB).toBe('');
    const events = await until('reported', () => h.reports.at(-1)?.taskStates.main?.events);
    expect(events.find((e) => e.type === 'UpstreamUnknown')?.message).toBe('could not look up service web: cannot reach the baton server');
  });

  it('fails the start when a volume is not on the node or a dynamic port was never assigned', async () => {
    for (const task of [{ volumes: [{ volume: 'logs', destination: '/logs', readOnly: false }] }, { ports: [{ name: 'http' }] }]) {
      const driver = new FakeDriver('docker', '/baton/task');
      const h = harness(driver, async () => endpoints());
      run(h, agentAlloc(task));
      const u = await until('failed', () => h.reports.find((r) => r.clientStatus === 'failed'));
      expect(driver.starts).toHaveLength(0);
      const failure = u.taskStates.main.events.find((e) => e.type === 'DriverFailure')?.message;
      expect(failure).toMatch(task.volumes ? /host volume "logs" is not declared on this node/ : /port "http" has no host port assigned/);
      for (const r of runners.splice(0)) {
        r.stop();
        await r.whenDone();
      }
    }
  });
});
