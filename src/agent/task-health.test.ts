/**
 * Health checks through the task runner, on the fake driver: health reported
 * as it changes, a task that turns unhealthy killed and restarted by its
 * restart policy (and the alloc failed when the policy gives up), and one whose
 * check does not ask for restarts left running as unhealthy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentAlloc, AllocStatusUpdate, HealthCheckSpec, JobSpec, LogChunk, TaskSpec } from '../api/types.js';
import type { AgentClient } from '../client/agent-client.js';
import type { Driver } from '../drivers/driver.js';
import { AllocRunner } from './alloc-runner.js';
import type { AgentContext } from './context.js';
import { FakeDriver } from './fake-driver.js';
import { StateStore } from './state-file.js';
import { StatusReporter } from './status-reporter.js';

const MiB = 1024 * 1024;
const logger = pino({ level: 'silent' });

interface Harness {
  ctx: AgentContext;
  abort: AbortController;
  reports: AllocStatusUpdate[];
  shipped: LogChunk[];
}

let dir = '';
let harnesses: Harness[] = [];
let runners: AllocRunner[] = [];

function harness(drivers: Driver[]): Harness {
  const abort = new AbortController();
  const reports: AllocStatusUpdate[] = [];
  const shipped: LogChunk[] = [];
  const client = {
    shipLogs: async (chunks: LogChunk[]) => {
      shipped.push(...structuredClone(chunks));
      return { accepted: chunks.length };
    },
  } as unknown as AgentClient;
  const reporter = new StatusReporter({ send: async (u) => void reports.push(...structuredClone(u)), logger, signal: abort.signal, coalesceMs: 1 });
  const h: Harness = {
    ctx: { client, store: new StateStore(dir), reporter, drivers: new Map(drivers.map((d) => [d.name, d])), logger, signal: abort.signal, usagePollMs: 5 },
    abort,
    reports,
    shipped,
  };
  harnesses.push(h);
  return h;
}

function spec(p: Partial<TaskSpec> = {}): TaskSpec {
  return { name: 'main', driver: 'exec', command: '/bin/true', args: [], env: {}, resources: { cpu: 100, memory: 32 * MiB, disk: 0 }, killSignal: 'SIGTERM', killTimeoutMs: 1000, ...p };
}

function agentAlloc(p: { type?: JobSpec['type']; task?: Partial<TaskSpec>; meta?: Record<string, string>; restartAttempts?: number } = {}): AgentAlloc {
  const job: JobSpec = {
    name: 'j',
    namespace: 'default',
    type: p.type ?? 'batch',
    count: 1,
    priority: 50,
    constraints: [],
    scheduling: 'binpack',
    tasks: [spec(p.task)],
    retry: { attempts: 0, delayMs: 0, maxDelayMs: 0 },
    restart: { attempts: p.restartAttempts ?? 0, intervalMs: 60_000, delayMs: 0, mode: 'fail' },
    meta: p.meta ?? {},
    preempt: false,
  };
  const alloc = { id: 'alloc-1', namespace: 'default', jobId: 'j', jobVersion: 1, name: 'j[0]', index: 0, nodeId: 'n1', desiredStatus: 'run', clientStatus: 'pending' } as AgentAlloc['alloc'];
  return { alloc, job };
}

function run(h: Harness, aa: AgentAlloc): AllocRunner {
  const r = AllocRunner.create(h.ctx, aa, 'n1');
  runners.push(r);
  r.start();
  return r;
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, tries = 1000): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

const latest = (h: Harness) => h.reports.filter((u) => u.allocId === 'alloc-1').at(-1);
const terminal = (h: Harness) => until('terminal', () => ['failed', 'complete'].includes(latest(h)?.clientStatus ?? '') && latest(h));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-task-runner-'));
  harnesses = [];
  runners = [];
});
afterEach(async () => {
  for (const r of runners) r.stop();
  await Promise.all(runners.map((r) => r.whenDone()));
  for (const h of harnesses) h.abort.abort();
  await rm(dir, { recursive: true, force: true });
});


function check(p: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return { name: 'alive', type: 'command', command: '/bin/check', args: ['-q'], intervalMs: 2, timeoutMs: 500, retries: 2, startPeriodMs: 0, restartOnUnhealthy: true, ...p };
}

const types = (u: AllocStatusUpdate | undefined) => u?.taskStates.main.events.map((e) => e.type) ?? [];

describe('health checks in the task runner', () => {
  it('reports starting, then healthy, and not every pass', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc({ type: 'service', task: { checks: [check()] } }));
    const t = await until('start', () => driver.last());
    await until('healthy', () => latest(h)?.taskStates.main.health === 'healthy');
    const healthy = latest(h)!.taskStates.main;
    expect(healthy.checks).toEqual({ alive: expect.objectContaining({ status: 'passing', output: 'ok', consecutiveFailures: 0 }) });
    expect(t.execCalls[0]).toEqual({ command: '/bin/check', args: ['-q'], timeoutMs: 500 });
    // the first report after the start already says the checks are starting
    expect(h.reports.find((u) => u.taskStates.main.state === 'running')?.taskStates.main.health).toBe('starting');

    const seen = h.reports.length;
    const calls = t.execCalls.length;
    await until('many more passes', () => t.execCalls.length >= calls + 20);
    expect(h.reports.length).toBe(seen);
  });

  it('kills and restarts a task that turns unhealthy, and fails the alloc when the policy gives up', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc({ type: 'service', restartAttempts: 1, task: { checks: [check({ retries: 2 })], killTimeoutMs: 300 } }));
    const first = await until('start', () => driver.last());
    await until('healthy', () => latest(h)?.taskStates.main.health === 'healthy');
    first.execResult = { exitCode: 1, output: 'db unreachable\n' };

    const second = await until('a restart', () => driver.starts.length === 2 && driver.last());
    expect(first.stops).toEqual([{ timeoutMs: 300, signal: 'SIGTERM' }]);
    // the first report of the new run: with 2ms probes a later one may already say healthy
    const firstOfRun = await until('the new run reported', () => h.reports.find((u) => u.taskStates.main?.restarts === 1 && u.taskStates.main.state === 'running'));
    const restarted = firstOfRun.taskStates.main;
    expect(restarted.restarts).toBe(1);
    // every run earns its health anew
    expect(restarted.health).toBe('starting');
    expect(restarted.checks?.alive.status).toBe('starting');
    const unhealthy = restarted.events.find((e) => e.type === 'Unhealthy');
    expect(unhealthy?.message).toBe('check alive failing: db unreachable');
    expect(types(firstOfRun)).toEqual(['Received', 'Started', 'Unhealthy', 'Killing', 'Killed', 'Restarting', 'Started']);
    expect(restarted.events.find((e) => e.type === 'Killed')?.message).toBe('task killed as unhealthy (SIGTERM)');

    second.execResult = { exitCode: 3, output: '' };
    const u = await terminal(h);
    expect(u.clientStatus).toBe('failed');
    expect(u.clientDescription).toBe('task main unhealthy: check alive failing: exit code 3');
    expect(u.taskStates.main).toMatchObject({ state: 'dead', failed: true, restarts: 1, health: 'unhealthy' });
    expect(types(u).slice(-4)).toEqual(['Unhealthy', 'Killing', 'Killed', 'NotRestarting']);
    expect(driver.starts).toHaveLength(2);
  });

  it('leaves a task running as unhealthy when its check does not ask for restarts', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc({ type: 'service', restartAttempts: 3, task: { checks: [check({ retries: 1, restartOnUnhealthy: false })] } }));
    const t = await until('start', () => driver.last());
    t.execResult = { exitCode: 1, output: 'disk full' };
    const u = await until('unhealthy', () => latest(h)?.taskStates.main.health === 'unhealthy' && latest(h));
    expect(u.clientStatus).toBe('running');
    expect(u.clientDescription).toBe('task main unhealthy: check alive failing: disk full');
    expect(u.taskStates.main.checks?.alive).toMatchObject({ status: 'failing', output: 'disk full', consecutiveFailures: 1 });
    const calls = t.execCalls.length;
    await until('more probes', () => t.execCalls.length >= calls + 10);
    expect(t.stops).toEqual([]);
    expect(driver.starts).toHaveLength(1);
    // one event for the turn, not one per failed probe
    expect(latest(h)!.taskStates.main.events.filter((e) => e.type === 'Unhealthy')).toHaveLength(1);

    t.execResult = { exitCode: 0, output: 'ok' };
    const back = await until('healthy again', () => latest(h)?.taskStates.main.health === 'healthy' && latest(h));
    expect(back.clientDescription).toBe('task running');
  });

  it('fails a batch task killed as unhealthy even when it exits cleanly on the signal', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc({ type: 'batch', task: { checks: [check({ retries: 1 })] } }));
    const t = await until('start', () => driver.last());
    t.stop = async (timeoutMs, signal) => {
      t.stops.push({ timeoutMs, signal });
      t.exit({ exitCode: 0 });
    };
    t.execResult = { exitCode: 1, output: 'stuck' };
    const u = await terminal(h);
    expect(u.clientStatus).toBe('failed');
    expect(u.taskStates.main).toMatchObject({ failed: true, exitCode: 0 });
    expect(u.clientDescription).toBe('task main unhealthy: check alive failing: stuck');
  });

  it('does not run checks for a task stopped on purpose', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    const r = run(h, agentAlloc({ type: 'service', task: { checks: [check({ retries: 1 })] } }));
    const t = await until('start', () => driver.last());
    await until('healthy', () => latest(h)?.taskStates.main.health === 'healthy');
    r.stop();
    const u = await terminal(h);
    expect(u.clientStatus).toBe('complete');
    expect(types(u)).not.toContain('Unhealthy');
    expect(t.stops).toHaveLength(1);
  });
});
