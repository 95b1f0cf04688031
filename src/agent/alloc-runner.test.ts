import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentAlloc, AllocStatusUpdate, JobSpec, LogChunk, TaskSpec } from '../api/types.js';
import type { AgentClient } from '../client/agent-client.js';
import { AllocRunner } from './alloc-runner.js';
import type { AgentContext } from './context.js';
import { StateStore } from './state-file.js';
import { StatusReporter } from './status-reporter.js';
import { FakeDriver } from './fake-driver.js';
import { agentAlloc as fixtureAgentAlloc, spec as fixtureSpec, until } from './task-runner.fixture.js';

const MiB = 1024 * 1024;
const logger = pino({ level: 'silent' });

interface Harness {
  ctx: AgentContext;
  abort: AbortController;
  reports: AllocStatusUpdate[][];
  shipped: LogChunk[];
  /** shipped bytes at the moment each report was sent, to check ordering */
  shippedAtReport: number[];
}

let dir = '';
let driver: FakeDriver;
let harnesses: Harness[] = [];

function harness(): Harness {
  const abort = new AbortController();
  const reports: AllocStatusUpdate[][] = [];
  const shipped: LogChunk[] = [];
  const shippedAtReport: number[] = [];
  const client = {
    shipLogs: async (chunks: LogChunk[]) => {
      shipped.push(...structuredClone(chunks));
      return { accepted: chunks.length };
    },
  } as unknown as AgentClient;
  const reporter = new StatusReporter({
    send: async (u) => {
      reports.push(structuredClone(u));
      shippedAtReport.push(shipped.length);
    },
    logger,
    signal: abort.signal,
    coalesceMs: 1,
  });
  const h: Harness = {
    ctx: { client, store: new StateStore(dir), reporter, drivers: new Map([['exec', driver]]), logger, signal: abort.signal },
    abort,
    reports,
    shipped,
    shippedAtReport,
  };
  harnesses.push(h);
  return h;
}

/** the fixture's task with an env of its own and a signal other than the default */
const spec = (p: Partial<TaskSpec> = {}): TaskSpec => fixtureSpec({ env: { A: '1' }, killSignal: 'SIGINT', killTimeoutMs: 1500, ...p });

const agentAlloc = (type: JobSpec['type'], tasks: TaskSpec[] = [spec()], restart: Partial<JobSpec['restart']> = {}): AgentAlloc =>
  fixtureAgentAlloc({ type, tasks, restart });

const latest = (h: Harness) =>
  h.reports
    .flat()
    .filter((u) => u.allocId === 'alloc-1')
    .at(-1);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-alloc-runner-'));
  driver = new FakeDriver();
  harnesses = [];
});
afterEach(async () => {
  for (const h of harnesses) h.abort.abort();
  await rm(dir, { recursive: true, force: true });
});

describe('AllocRunner', () => {
  it('runs a batch task to completion: env, logs shipped before the end is reported, destroyed after', async () => {
    const h = harness();
    const r = AllocRunner.create(h.ctx, agentAlloc('batch'), 'n1');
    r.start();
    const t = await until('start', () => driver.last());
    expect(t.config.env).toMatchObject({
      A: '1',
      BATON_ALLOC_ID: 'alloc-1',
      BATON_ALLOC_NAME: 'j[0]',
      BATON_ALLOC_INDEX: '0',
      BATON_JOB_ID: 'j',
      BATON_NAMESPACE: 'default',
      BATON_TASK_NAME: 'main',
      BATON_NODE_ID: 'n1',
    });
    expect(t.config.env.BATON_TASK_DIR).toBe(join(dir, 'allocs', 'alloc-1', 'main'));
    // the handle is saved once the start returns, which the driver's record of it may precede
    await until('handle saved', () => h.ctx.store.read('alloc-1').then((s) => s?.tasks.main.handle?.id === 'pid-1'));

    t.write('stdout', 'hello\n');
    t.write('stderr', 'oops\n');
    t.exit({ exitCode: 0 });
    await until('destroyed', () => t.destroyed);
    await r.whenDone();

    const final = latest(h)!;
    expect(final.clientStatus).toBe('complete');
    expect(final.clientDescription).toBe('task main completed');
    expect(final.taskStates.main).toMatchObject({ state: 'dead', failed: false, exitCode: 0 });
    expect(final.taskStates.main.events.map((e) => e.type)).toEqual(['Received', 'Started', 'Terminated']);
    expect(h.shipped.map((c) => [c.stream, c.data])).toEqual([
      ['stdout', 'hello\n'],
      ['stderr', 'oops\n'],
    ]);
    // the first report that says dead came after every log chunk
    const i = h.reports.findIndex((b) => b.some((u) => u.taskStates.main?.state === 'dead'));
    expect(h.shippedAtReport[i]).toBe(2);
    expect(r.finished).toBe(true);
    const disk = await h.ctx.store.read('alloc-1');
    expect(disk?.tasks.main.destroyed).toBe(true);
    expect(disk?.pendingReport).toBeUndefined();
  });

  it('reports an OOM kill with limit and peak, and fails the alloc', async () => {
    const h = harness();
    const r = AllocRunner.create(h.ctx, agentAlloc('batch'), 'n1');
    r.start();
    const t = await until('start', () => driver.last());
    t.exit({ exitCode: 137, oomKilled: true, peakMemory: 33 * MiB });
    await until('failed', () => latest(h)?.clientStatus === 'failed');
    const u = latest(h)!;
    expect(u.clientDescription).toBe('task main OOM killed (limit 32 MiB, peak 33 MiB)');
    expect(u.taskStates.main).toMatchObject({ oomKilled: true, peakMemory: 33 * MiB, failed: true, exitCode: 137 });
    expect(u.taskStates.main.events.find((e) => e.type === 'OOMKilled')?.message).toBe('memory limit 32 MiB reached, peak 33 MiB');
  });

  it('restarts a failing service task by policy, then fails it', async () => {
    const h = harness();
    const r = AllocRunner.create(h.ctx, agentAlloc('service', [spec()], { attempts: 1, delayMs: 0 }), 'n1');
    r.start();
    (await until('first start', () => driver.starts[0])).exit({ exitCode: 2 });
    const second = await until('second start', () => driver.starts[1]);
    expect(driver.starts[0].destroyed).toBe(true);
    second.exit({ exitCode: 3 });
    await until('failed', () => latest(h)?.clientStatus === 'failed');
    const u = latest(h)!;
    expect(u.clientDescription).toBe('task main exited with code 3');
    expect(u.taskStates.main.restarts).toBe(1);
    expect(u.taskStates.main.events.map((e) => e.type)).toEqual(['Received', 'Started', 'Terminated', 'Restarting', 'Started', 'Terminated', 'NotRestarting']);
    expect(driver.starts).toHaveLength(2);
  });

  it('reports a driver failure', async () => {
    driver.failStart = 'no such binary: /nope';
    const h = harness();
    AllocRunner.create(h.ctx, agentAlloc('batch'), 'n1').start();
    await until('failed', () => latest(h)?.clientStatus === 'failed');
    expect(latest(h)!.clientDescription).toBe('task main: driver failure: no such binary: /nope');
  });

  it('stops on desired stop with the kill signal and timeout, and completes', async () => {
    const h = harness();
    const aa = agentAlloc('service');
    const r = AllocRunner.create(h.ctx, aa, 'n1');
    r.start();
    const t = await until('start', () => driver.last());
    await until('running', () => latest(h)?.clientStatus === 'running');
    r.update({ ...aa, alloc: { ...aa.alloc, desiredStatus: 'stop' } });
    await until('complete', () => latest(h)?.clientStatus === 'complete');
    expect(t.stops).toEqual([{ timeoutMs: 1500, signal: 'SIGINT' }]);
    const u = latest(h)!;
    expect(u.clientDescription).toBe('stopped by the server');
    expect(u.taskStates.main.failed).toBe(false);
    expect(u.taskStates.main.events.map((e) => e.type)).toEqual(['Received', 'Started', 'Killing', 'Killed']);
    await until('destroyed', () => t.destroyed);
  });

  it('stops the other tasks when one fails for good', async () => {
    const h = harness();
    const r = AllocRunner.create(h.ctx, agentAlloc('batch', [spec({ name: 'a' }), spec({ name: 'b' })]), 'n1');
    r.start();
    await until('both started', () => driver.starts.length === 2);
    const a = driver.starts.find((t) => t.config.taskName === 'a')!;
    const b = driver.starts.find((t) => t.config.taskName === 'b')!;
    a.exit({ exitCode: 4 });
    await until('failed', () => latest(h)?.clientStatus === 'failed');
    expect(b.stops).toHaveLength(1);
    expect(latest(h)!.clientDescription).toBe('task a exited with code 4');
    expect(latest(h)!.taskStates.b).toMatchObject({ state: 'dead', failed: false });
  });

  it('re-attaches after an agent restart: no second start, logs resume from the cursor', async () => {
    const h1 = harness();
    const r1 = AllocRunner.create(h1.ctx, agentAlloc('service'), 'n1');
    r1.start();
    const t = await until('start', () => driver.last());
    t.write('stdout', 'one\n');
    await until('first line shipped', () => h1.shipped.length === 1);
    await until('cursor saved', () => h1.ctx.store.read('alloc-1').then((s) => s?.tasks.main.logCursor === '1'));
    h1.abort.abort(); // the agent dies; the task lives on

    const h2 = harness();
    const state = (await h2.ctx.store.read('alloc-1'))!;
    expect(state.tasks.main.logCursor).toBe('1');
    const r2 = AllocRunner.restore(h2.ctx, state);
    await r2.reattach();
    r2.start();
    t.write('stdout', 'two\n');
    await until('second line shipped', () => h2.shipped.length === 1);
    expect(h2.shipped[0].data).toBe('two\n');
    expect(driver.starts).toHaveLength(1);

    r2.stop();
    await until('complete', () => latest(h2)?.clientStatus === 'complete');
    const events = latest(h2)!.taskStates.main.events.map((e) => e.type);
    expect(events.filter((e) => e === 'Started')).toHaveLength(1);
  });

  it('marks a task that vanished while the agent was down as lost, and lets the policy decide', async () => {
    const h1 = harness();
    const r1 = AllocRunner.create(h1.ctx, agentAlloc('service', [spec()], { attempts: 1 }), 'n1');
    r1.start();
    const t = await until('start', () => driver.last());
    await until('running saved', () => h1.ctx.store.read('alloc-1').then((s) => s?.tasks.main.state.state === 'running'));
    h1.abort.abort();
    driver.tasks.delete(t.handle.id); // gone with the machine

    const h2 = harness();
    const r2 = AllocRunner.restore(h2.ctx, (await h2.ctx.store.read('alloc-1'))!);
    await r2.reattach();
    const again = await until('restarted', () => driver.starts[1]);
    expect(again.config.taskName).toBe('main');
    await until('running again', () => latest(h2)?.taskStates.main.state === 'running');
    const events = latest(h2)!.taskStates.main.events;
    expect(events.find((e) => e.type === 'TaskLost')?.message).toBe('task lost while the agent was down');
    expect(events.at(-1)?.type).toBe('Started');
  });
  describe('a task that ends on its own while the node is past its disconnect bound (the watchdog stopped it as a restarted agent took over)', () => {
    // a TTL of 3 s: the allocs may run 2 s without the server
    const bound = { ttlMs: 3000, stopAfterMs: 2000 };

    async function endWith(type: JobSpec['type'], silentMs: number, exit: { exitCode: number; signal?: string }): Promise<{ h: Harness; r: AllocRunner }> {
      const h = harness();
      h.ctx.disconnect = { silentMs: () => silentMs, bound: () => bound };
      const r = AllocRunner.create(h.ctx, agentAlloc(type, [spec()], { attempts: 3, delayMs: 0 }), 'n1');
      r.start();
      const t = await until('start', () => driver.last());
      await until('running', () => latest(h)?.clientStatus === 'running');
      t.exit(exit);
      return { h, r };
    }

    it('past the bound: lost (the server places it again), not failed, and not restarted here', async () => {
      const { h, r } = await endWith('service', 2500, { exitCode: 143, signal: 'SIGTERM' });
      await r.whenDone();
      const u = latest(h)!;
      expect(u.clientStatus).toBe('lost');
      expect(u.clientDescription).toMatch(/^stopped by its agent: its node had not reached the server for 3s, past the bound/);
      expect(driver.starts).toHaveLength(1);
    });

    it('within the bound: the restart policy decides as ever', async () => {
      const { h } = await endWith('service', 1500, { exitCode: 143, signal: 'SIGTERM' });
      await until('restarted', () => driver.starts[1]);
      expect(latest(h)?.clientStatus).not.toBe('lost');
    });

    it('a batch run that succeeded past the bound keeps its result', async () => {
      const { h, r } = await endWith('batch', 2500, { exitCode: 0 });
      await r.whenDone();
      expect(latest(h)?.clientStatus).toBe('complete');
    });
  });
  describe('a run the earlier agent started but did not live to record (no handle saved)', () => {
    async function restoredWithUnrecordedRun(type: JobSpec['type']): Promise<{ h2: Harness; r2: AllocRunner; t: ReturnType<FakeDriver['last']> }> {
      const h1 = harness();
      const r1 = AllocRunner.create(h1.ctx, agentAlloc(type), 'n1');
      await r1.save(); // written as the agent took the alloc, before the start
      h1.abort.abort();
      // the start the agent made just before it died
      const t = (await driver.start({
        nodeId: 'n1',
        allocId: 'alloc-1',
        allocName: 'j[0]',
        allocIndex: 0,
        namespace: 'default',
        jobId: 'j',
        taskName: 'main',
        args: [],
        env: {},
        resources: { cpu: 0, memory: 0, disk: 0 },
        killSignal: 'SIGINT',
        killTimeoutMs: 1000,
        taskDir: '/tmp',
      })) as ReturnType<FakeDriver['last']>;
      const h2 = harness();
      const state = (await h2.ctx.store.read('alloc-1'))!;
      expect(state.tasks.main.handle).toBeUndefined();
      const r2 = AllocRunner.restore(h2.ctx, state);
      return { h2, r2, t };
    }

    it('is taken up at restore: its exit counts and nothing starts it again', async () => {
      const { h2, r2, t } = await restoredWithUnrecordedRun('batch');
      await r2.reattach();
      t.exit({ exitCode: 0 });
      await r2.whenDone();
      expect(latest(h2)?.clientStatus).toBe('complete');
      expect(driver.starts).toHaveLength(1);
    });

    it('one that had completed before the agent stopped it for a lost server keeps its result', async () => {
      const { h2, r2, t } = await restoredWithUnrecordedRun('batch');
      t.exit({ exitCode: 0, finishedAt: new Date(Date.now() - 1000).toISOString() });
      await r2.reattach();
      r2.stopForDisconnect('its agent could not reach the server for 3s', 300);
      await r2.whenDone();
      expect(latest(h2)?.clientStatus).toBe('complete');
      expect(driver.starts).toHaveLength(1);
    });
  });
});
