/**
 * A task runner on a fake (or real) driver with a recording server, shared by
 * the task runner's test files. Registers its own beforeEach/afterEach hooks.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach } from 'vitest';
import type { AgentAlloc, AllocStatusUpdate, JobSpec, LogChunk, TaskSpec } from '../api/types.js';
import type { AgentClient } from '../client/agent-client.js';
import type { Driver } from '../drivers/driver.js';
import { AllocRunner } from './alloc-runner.js';
import type { AgentContext } from './context.js';
import { StateStore } from './state-file.js';
import { StatusReporter } from './status-reporter.js';

export const MiB = 1024 * 1024;
export const logger = pino({ level: 'silent' });

export interface Harness {
  ctx: AgentContext;
  abort: AbortController;
  reports: AllocStatusUpdate[];
  shipped: LogChunk[];
}

let dir = '';
let harnesses: Harness[] = [];
let runners: AllocRunner[] = [];

export function useRunnerFixture(): void {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-task-runner-'));
    // as an agent's data dir: exec tasks run as nobody and pass through to their own dirs
    await chmod(dir, 0o711);
    harnesses = [];
    runners = [];
  });
  afterEach(async () => {
    for (const r of runners) r.stop();
    await Promise.all(runners.map((r) => r.whenDone()));
    for (const h of harnesses) h.abort.abort();
    await rm(dir, { recursive: true, force: true });
  });
}

export function fixtureDir(): string {
  return dir;
}

export function harness(drivers: Driver[], client: Partial<AgentClient> = {}): Harness {
  const abort = new AbortController();
  const reports: AllocStatusUpdate[] = [];
  const shipped: LogChunk[] = [];
  const c = {
    shipLogs: async (chunks: LogChunk[]) => {
      shipped.push(...structuredClone(chunks));
      return { accepted: chunks.length };
    },
    ...client,
  } as unknown as AgentClient;
  const reporter = new StatusReporter({ send: async (u) => void reports.push(...structuredClone(u)), logger, signal: abort.signal, coalesceMs: 1 });
  const h: Harness = {
    ctx: { client: c, store: new StateStore(dir), reporter, drivers: new Map(drivers.map((d) => [d.name, d])), logger, signal: abort.signal, usagePollMs: 5 },
    abort,
    reports,
    shipped,
  };
  harnesses.push(h);
  return h;
}

export function spec(p: Partial<TaskSpec> = {}): TaskSpec {
  return {
    name: 'main',
    driver: 'exec',
    command: '/bin/true',
    args: [],
    env: {},
    resources: { cpu: 100, memory: 32 * MiB, disk: 0 },
    killSignal: 'SIGTERM',
    killTimeoutMs: 1000,
    ...p,
  };
}

/** a job of one default task; what a test cares about goes in `p` */
export function jobSpec(p: Partial<JobSpec> = {}): JobSpec {
  return {
    name: 'j',
    namespace: 'default',
    type: 'batch',
    count: 1,
    priority: 50,
    constraints: [],
    scheduling: 'binpack',
    tasks: [spec()],
    retry: { attempts: 0, delayMs: 0, maxDelayMs: 0 },
    restart: { attempts: 0, intervalMs: 60_000, delayMs: 0, mode: 'fail' },
    meta: {},
    preempt: false,
    ...p,
  };
}

export interface AgentAllocOptions {
  type?: JobSpec['type'];
  namespace?: string;
  /** the job's one task, over spec()'s defaults */
  task?: Partial<TaskSpec>;
  /** the job's tasks, in place of `task` */
  tasks?: TaskSpec[];
  meta?: Record<string, string>;
  restartAttempts?: number;
  /** over the restart policy of no restarts (mode fail) */
  restart?: Partial<JobSpec['restart']>;
  ports?: AgentAlloc['alloc']['ports'];
}

/** alloc-1, the pending j[0] of job j on node n1 */
export function agentAlloc(p: AgentAllocOptions = {}): AgentAlloc {
  const namespace = p.namespace ?? 'default';
  const job = jobSpec({
    type: p.type ?? 'batch',
    namespace,
    tasks: p.tasks ?? [spec(p.task)],
    restart: { attempts: p.restartAttempts ?? 0, intervalMs: 60_000, delayMs: 0, mode: 'fail', ...p.restart },
    meta: p.meta ?? {},
  });
  const alloc = {
    id: 'alloc-1',
    namespace,
    jobId: 'j',
    jobVersion: 1,
    name: 'j[0]',
    index: 0,
    nodeId: 'n1',
    desiredStatus: 'run',
    clientStatus: 'pending',
    ...(p.ports ? { ports: p.ports } : {}),
  } as AgentAlloc['alloc'];
  return { alloc, job };
}

export function run(h: Harness, aa: AgentAlloc): AllocRunner {
  const r = AllocRunner.create(h.ctx, aa, 'n1');
  runners.push(r);
  r.start();
  return r;
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, tries = 1000): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

export const latest = (h: Harness) => h.reports.filter((u) => u.allocId === 'alloc-1').at(-1);
export const terminal = (h: Harness) => until('terminal', () => ['failed', 'complete'].includes(latest(h)?.clientStatus ?? '') && latest(h));
