import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Driver, ExitResult, RunningTask, TaskHandle } from '../drivers/driver.js';
import { StateStore, type AllocStateFile } from './state-file.js';
import { processStart, writeLease, type AgentLease, type LeaseTask } from './lease.js';
import { runWatchdog } from './watchdog-main.js';
import { acquireWatchdogLock, readWatchdogHolder } from './watchdog-spawn.js';

/** a task that records what it was sent; `ignoreSignal` makes it wait for the SIGKILL */
class Task implements RunningTask {
  sent: Array<{ at: number; signal: string }> = [];
  private exited: ExitResult | undefined;
  private waiters: Array<(e: ExitResult) => void> = [];
  constructor(
    readonly handle: TaskHandle,
    private readonly clock: () => number,
    private readonly ignoreSignal: boolean,
  ) {}
  private exit(signal: string): void {
    if (this.exited) return;
    this.exited = { exitCode: 128, signal, oomKilled: false };
    for (const w of this.waiters.splice(0)) w(this.exited);
  }
  async signal(signal: string): Promise<void> {
    this.sent.push({ at: this.clock(), signal });
    if (!this.ignoreSignal) this.exit(signal);
  }
  async stop(_timeoutMs: number, signal = 'SIGTERM'): Promise<void> {
    this.sent.push({ at: this.clock(), signal });
    this.exit(signal);
  }
  wait(): Promise<ExitResult> {
    return this.exited ? Promise.resolve(this.exited) : new Promise((r) => this.waiters.push(r));
  }
  async *logs() {}
  async usage() {
    return this.exited ? undefined : { memory: 1, peakMemory: 1, cpuNanos: 1 };
  }
  async destroy() {}
}

class Drv implements Driver {
  readonly name = 'exec';
  readonly tasks = new Map<string, Task>();
  constructor(
    private readonly clock: () => number,
    private readonly stubborn = new Set<string>(),
  ) {}
  async fingerprint() {
    return { healthy: true, detail: '', attributes: {} };
  }
  async start(): Promise<RunningTask> {
    throw new Error('not here');
  }
  async attach(handle: TaskHandle): Promise<RunningTask | undefined> {
    if (handle.id === 'gone') return undefined;
    let t = this.tasks.get(handle.id);
    if (!t) this.tasks.set(handle.id, (t = new Task(handle, this.clock, this.stubborn.has(handle.id))));
    return t;
  }
  async list() {
    return [];
  }
}

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-watchdog-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function task(id: string, stopAfterMs = 1000, killAfterMs = 1500): LeaseTask {
  return { allocId: `alloc-${id}`, taskName: 'main', driver: 'exec', handle: { driver: 'exec', id, data: {} }, stopAfterMs, killAfterMs, killSignal: 'SIGINT' };
}

const until = async (what: string, fn: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('the watchdog process loop', () => {
  it('stops a dead agent’s tasks at the bound (signal, then SIGKILL for the stubborn), then exits', async () => {
    let clock = 0;
    const drv = new Drv(() => clock, new Set(['stubborn']));
    await writeLease(dir, { version: 1, agentPid: 1, agentStart: 'x', contactAt: 0, tasks: [task('polite'), task('stubborn'), task('gone')] });
    const logs: string[] = [];
    let rounds = 0;
    const run = runWatchdog({
      dataDir: dir,
      everyMs: 5,
      now: () => clock,
      agentAlive: () => false,
      driver: async () => drv,
      log: (m) => logs.push(m),
      onRound: () => rounds++,
    });
    const afewRounds = async (): Promise<void> => {
      const seen = rounds;
      await until('more rounds', () => rounds >= seen + 3);
    };
    await until('started', () => logs.includes('agent gone: its tasks are stopped at the bound unless it comes back'));
    clock = 999;
    await afewRounds();
    expect(drv.tasks.size).toBe(0);
    clock = 1000;
    await until('signals', () => drv.tasks.get('stubborn')?.sent.length === 1 && drv.tasks.get('polite')?.sent.length === 1);
    expect(drv.tasks.get('polite')!.sent).toEqual([{ at: 1000, signal: 'SIGINT' }]);
    clock = 1499;
    await afewRounds();
    expect(drv.tasks.get('stubborn')!.sent).toHaveLength(1);
    clock = 1500;
    expect(await run).toBe('finished');
    expect(drv.tasks.get('stubborn')!.sent).toEqual([
      { at: 1000, signal: 'SIGINT' },
      { at: 1500, signal: 'SIGKILL' },
    ]);
    expect(drv.tasks.get('polite')!.sent).toHaveLength(1);
    expect(logs).toContain('task already gone');
    // the pid file goes with it
    expect(readWatchdogHolder(dir)).toBeUndefined();
  });

  it('marks the alloc lost in its state file before stopping it, so a returning agent reports it lost, not failed', async () => {
    let clock = 0;
    const drv = new Drv(() => clock);
    const store = new StateStore(dir);
    const state = (allocId: string, clientStatus: AllocStateFile['clientStatus']) =>
      ({
        version: 1,
        allocId,
        nodeId: 'n1',
        agentAlloc: { alloc: { id: allocId }, job: { tasks: [] } },
        desiredStop: false,
        clientStatus,
        clientDescription: '',
        tasks: {},
      }) as unknown as AllocStateFile;
    await store.write(state('alloc-run', 'running'));
    await store.write(state('alloc-done', 'complete'));
    // its task ended on its own (exit 0) while the agent was down: the agent, when back, reports it complete
    await store.write(state('alloc-ended', 'running'));
    await drv.attach({ driver: 'exec', id: 'ended', data: {} }).then((t) => t!.stop(0, 'none'));
    await writeLease(dir, { version: 1, agentPid: 1, agentStart: 'x', contactAt: 0, tasks: [task('run'), task('done'), task('ended')] });
    clock = 1200;
    expect(await runWatchdog({ dataDir: dir, everyMs: 5, now: () => clock, agentAlive: () => false, driver: async () => drv })).toBe('finished');
    const fresh = new StateStore(dir);
    expect((await fresh.read('alloc-run'))?.lostReason).toBe("its agent was gone and had not reached the server for 1s (the node's watchdog stopped it)");
    // an alloc that is over keeps its outcome
    expect((await fresh.read('alloc-done'))?.lostReason).toBeUndefined();
    expect((await fresh.read('alloc-ended'))?.lostReason).toBeUndefined();
    expect(drv.tasks.get('ended')!.sent).toEqual([{ at: 0, signal: 'none' }]); // nothing sent by the watchdog
    expect(drv.tasks.get('run')!.sent).toEqual([{ at: 1200, signal: 'SIGINT' }]);
  });

  it('defers to a live agent, however long it has not reached the server', async () => {
    const drv = new Drv(() => 10_000);
    await writeLease(dir, { version: 1, agentPid: 1, agentStart: 'x', contactAt: 0, tasks: [task('t')] });
    const abort = new AbortController();
    let rounds = 0;
    const run = runWatchdog({
      dataDir: dir,
      everyMs: 5,
      now: () => 10_000,
      agentAlive: () => true,
      driver: async () => drv,
      signal: abort.signal,
      onRound: (d) => {
        expect(d).toEqual({ signal: [], kill: [], finished: false });
        if (++rounds === 5) abort.abort();
      },
    });
    expect(await run).toBe('aborted');
    expect(drv.tasks.size).toBe(0); // it never even attached
  });

  it('an agent restarted in time writes a new lease: from then on the watchdog defers to it', async () => {
    let clock = 0;
    const drv = new Drv(() => clock);
    const lease: AgentLease = { version: 1, agentPid: 1, agentStart: 'old', contactAt: 0, tasks: [task('t')] };
    await writeLease(dir, lease);
    const alive = new Set<string>(['old']);
    const abort = new AbortController();
    const logs: string[] = [];
    let rounds = 0;
    const run = runWatchdog({
      dataDir: dir,
      everyMs: 5,
      now: () => clock,
      agentAlive: (l) => alive.has(l.agentStart),
      driver: async () => drv,
      log: (m) => logs.push(m),
      signal: abort.signal,
      onRound: () => rounds++,
    });
    // the agent dies half way through the bound, and a new one starts and writes its lease
    clock = 500;
    alive.delete('old');
    await until('the death seen', () => logs.includes('agent gone: its tasks are stopped at the bound unless it comes back'));
    alive.add('new');
    await writeLease(dir, { ...lease, agentPid: 2, agentStart: 'new', contactAt: 500 });
    await until('the new agent', () => logs.includes('a new agent process took over the lease'));
    // far past the old lease's deadline: still nothing, the new agent is alive
    clock = 10_000;
    const seen = rounds;
    await until('more rounds', () => rounds >= seen + 5);
    expect(drv.tasks.size).toBe(0);
    abort.abort();
    expect(await run).toBe('aborted');
  });

  it('one watchdog per data dir: one that finds its pid file taken by another live watchdog leaves', async () => {
    const lease: AgentLease = { version: 1, agentPid: 1, agentStart: 'x', contactAt: 0, tasks: [task('t')] };
    await writeLease(dir, lease);
    const abort = new AbortController();
    const logs: string[] = [];
    const first = runWatchdog({
      dataDir: dir,
      everyMs: 5,
      now: () => 0,
      agentAlive: () => true,
      driver: async () => undefined,
      log: (m) => logs.push(m),
      signal: abort.signal,
    });
    await until('first started', () => logs.includes('watchdog started'));
    expect(readWatchdogHolder(dir)?.pid).toBe(process.pid);
    // another watchdog took the pid file (two takers of a stale one raced): our parent process stands in for it
    writeFileSync(join(dir, 'watchdog.pid'), JSON.stringify({ pid: process.ppid, start: processStart(process.ppid) }));
    expect(await first).toBe('displaced');
    expect(acquireWatchdogLock(dir)?.pid).toBe(process.ppid);
    abort.abort();
  });
});
