/**
 * What a task runs with and how its run ends, for the #3 features: per-task
 * limits from an OOM retry, task timeouts (fake driver and real processes),
 * meta as env, the payload file, and usage sampled while running.
 */
import { describe, expect, it } from 'vitest';
import { lstat, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeDriver } from './fake-driver.js';
import { ExecDriver } from '../drivers/exec.js';
import { MiB, agentAlloc, fixtureDir, harness, latest, run, terminal, until, useRunnerFixture } from './task-runner.fixture.js';

useRunnerFixture();

const dir = (): string => fixtureDir();

describe('task timeout', () => {
  it('stops a task that runs too long with the kill signal, fails it and does not restart it', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    // a service with restarts left: the timeout must still end it for good
    run(h, agentAlloc({ type: 'service', restartAttempts: 3, task: { timeoutMs: 50, killSignal: 'SIGINT', killTimeoutMs: 700 } }));
    const t = await until('start', () => driver.last());
    const u = await terminal(h);
    expect(t.stops).toEqual([{ timeoutMs: 700, signal: 'SIGINT' }]);
    expect(u.clientStatus).toBe('failed');
    expect(u.clientDescription).toBe('task main timed out after 50ms');
    expect(u.taskStates.main).toMatchObject({ state: 'dead', failed: true, timedOut: true, restarts: 0 });
    const events = u.taskStates.main.events;
    expect(events.find((e) => e.type === 'TimedOut')?.message).toBe('ran past its timeout of 50ms');
    expect(events.map((e) => e.type)).toEqual(['Received', 'Started', 'TimedOut', 'Killing', 'Killed', 'NotRestarting']);
    expect(driver.starts).toHaveLength(1);
    await until('destroyed', () => t.destroyed);
  });

  it('words the timeout in minutes for long ones', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc({ task: { timeoutMs: 30 * 60_000 } }));
    const t = await until('start', () => driver.last());
    t.exit({ exitCode: 1 });
    // not timed out: the plain exit is what is reported
    expect((await terminal(h)).clientDescription).toBe('task main exited with code 1');
    expect(latest(h)!.taskStates.main.timedOut).toBeUndefined();
  });

  it('stops a real `sleep 30` after 300ms and reports it as timed out', async () => {
    const h = harness([new ExecDriver()]);
    run(h, agentAlloc({ task: { command: 'sleep', args: ['30'], timeoutMs: 300 } }));
    const u = await terminal(h);
    expect(u.clientStatus).toBe('failed');
    expect(u.clientDescription).toContain('timed out');
    expect(u.clientDescription).toBe('task main timed out after 300ms');
    expect(u.taskStates.main).toMatchObject({ state: 'dead', failed: true, timedOut: true, signal: 'SIGTERM' });
    expect(u.taskStates.main.events.some((e) => e.type === 'TimedOut')).toBe(true);
  });
});

describe('meta and payload', () => {
  it('gives each meta key as BATON_META_* and writes the payload file before the start', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    const aa = agentAlloc({ meta: { scenario: '42', 'seed-value': '7', 'a.b': 'x' }, task: { env: { BATON_META_SCENARIO: 'spec env loses' } } });
    aa.payload = Buffer.from('{"input": [1, 2]}\n').toString('base64');
    run(h, aa);
    const t = await until('start', () => driver.last());
    const taskDir = join(dir(), 'allocs', 'alloc-1', 'main');
    expect(t.config.env).toMatchObject({
      BATON_META_SCENARIO: '42',
      BATON_META_SEED_VALUE: '7',
      BATON_META_A_B: 'x',
      BATON_TASK_DIR: taskDir,
      BATON_PAYLOAD_FILE: join(taskDir, 'payload'),
    });
    expect(await readFile(join(taskDir, 'payload'), 'utf8')).toBe('{"input": [1, 2]}\n');
    expect((await stat(join(taskDir, 'payload'))).mode & 0o777).toBe(0o644);
  });

  it('sets no payload variable without a payload', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc());
    const t = await until('start', () => driver.last());
    expect(t.config.env.BATON_PAYLOAD_FILE).toBeUndefined();
  });

  it('points the variables at the in-container task dir for a driver that mounts it', async () => {
    const driver = new FakeDriver('docker', '/baton/task');
    const h = harness([driver]);
    const aa = agentAlloc({ task: { driver: 'docker', image: 'busybox' } });
    aa.payload = Buffer.from('data').toString('base64');
    run(h, aa);
    const t = await until('start', () => driver.last());
    const hostDir = join(dir(), 'allocs', 'alloc-1', 'main');
    expect(t.config.taskDir).toBe(hostDir);
    expect(t.config.env.BATON_TASK_DIR).toBe('/baton/task');
    expect(t.config.env.BATON_PAYLOAD_FILE).toBe('/baton/task/payload');
    expect(await readFile(join(hostDir, 'payload'), 'utf8')).toBe('data');
  });

  it("never writes a restart's payload through a symlink the task put in its place", async () => {
    const driver = new FakeDriver('docker', '/baton/task');
    const h = harness([driver]);
    const victim = join(dir(), 'host-file');
    await writeFile(victim, 'host data\n');
    const aa = agentAlloc({ type: 'service', restartAttempts: 2, task: { driver: 'docker', image: 'busybox' } });
    aa.payload = Buffer.from('payload\n').toString('base64');
    run(h, aa);
    const first = await until('start', () => driver.last());
    const taskDir = join(dir(), 'allocs', 'alloc-1', 'main');
    // what a container's root can do to its mounted task dir
    await rm(join(taskDir, 'payload'));
    await symlink(victim, join(taskDir, 'payload'));
    first.exit({ exitCode: 1 });
    await until('restart', () => driver.starts.length >= 2 && driver.last());
    expect(await readFile(victim, 'utf8')).toBe('host data\n');
    expect((await lstat(join(taskDir, 'payload'))).isSymbolicLink()).toBe(false);
    expect(await readFile(join(taskDir, 'payload'), 'utf8')).toBe('payload\n');
  });

  it('lets a real process read its meta and payload', async () => {
    const h = harness([new ExecDriver()]);
    const aa = agentAlloc({ meta: { scenario: '42' }, task: { command: '/bin/sh', args: ['-c', 'echo "s=$BATON_META_SCENARIO"; cat "$BATON_PAYLOAD_FILE"'] } });
    aa.payload = Buffer.from('payload-bytes\n').toString('base64');
    run(h, aa);
    expect((await terminal(h)).clientStatus).toBe('complete');
    expect(
      h.shipped
        .filter((c) => c.stream === 'stdout')
        .map((c) => c.data)
        .join(''),
    ).toBe('s=42\npayload-bytes\n');
  });
});

describe('per-task resources and usage', () => {
  it("runs under the alloc's per-task resources and names that limit on an OOM kill", async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    const aa = agentAlloc();
    aa.alloc.taskResources = { main: { cpu: 100, memory: 48 * MiB, disk: 0 } };
    run(h, aa);
    const t = await until('start', () => driver.last());
    expect(t.config.resources.memory).toBe(48 * MiB);
    await until('running', () => latest(h)?.taskStates.main.state === 'running');
    expect(latest(h)!.taskStates.main.memoryLimit).toBe(48 * MiB);
    t.exit({ exitCode: 137, oomKilled: true, peakMemory: 50 * MiB });
    const u = await terminal(h);
    expect(u.clientDescription).toBe('task main OOM killed (limit 48 MiB, peak 50 MiB)');
    expect(u.taskStates.main.events.find((e) => e.type === 'OOMKilled')?.message).toBe('memory limit 48 MiB reached, peak 50 MiB');
  });

  it("uses the spec's resources when the alloc has none for the task", async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc());
    const t = await until('start', () => driver.last());
    expect(t.config.resources.memory).toBe(32 * MiB);
    t.exit({ exitCode: 0 });
    expect((await terminal(h)).taskStates.main.memoryLimit).toBe(32 * MiB);
  });

  it("keeps the sampled peak and cpu when the exit knows less, and the exit's when it knows more", async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc());
    const t = await until('start', () => driver.last());
    t.usageNow = { memory: 30 * MiB, peakMemory: 40 * MiB, cpuNanos: 5e9 };
    const before = t.usageCalls;
    await until('sampled', () => t.usageCalls > before + 1);
    t.exit({ exitCode: 0, peakMemory: 20 * MiB });
    expect((await terminal(h)).taskStates.main).toMatchObject({ peakMemory: 40 * MiB, cpuNanos: 5e9 });
  });

  it('never lowers the cpu time when a later sample sees less (a process of the task left)', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc());
    const t = await until('start', () => driver.last());
    t.usageNow = { memory: MiB, peakMemory: MiB, cpuNanos: 7e9 };
    let before = t.usageCalls;
    await until('sampled', () => t.usageCalls > before + 1);
    t.usageNow = { memory: MiB, peakMemory: MiB, cpuNanos: 1e9 };
    before = t.usageCalls;
    await until('sampled again', () => t.usageCalls > before + 1);
    t.exit({ exitCode: 0 });
    expect((await terminal(h)).taskStates.main.cpuNanos).toBe(7e9);
  });

  it('takes the finish time from the driver when it knows when the task ended, within the run', async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc());
    const t = await until('start', () => driver.last());
    await until('running', () => latest(h)?.taskStates.main.state === 'running');
    const started = Date.parse(latest(h)!.taskStates.main.startedAt!);
    // it ended 40 ms after its start, and was only seen now (a re-attach after the agent was down)
    await new Promise((r) => setTimeout(r, 300));
    t.exit({ exitCode: 0, finishedAt: new Date(started + 40).toISOString() });
    expect(Date.parse((await terminal(h)).taskStates.main.finishedAt!)).toBe(started + 40);
  });

  it('takes now as the finish time when the driver names none, or one outside the run', async () => {
    for (const finishedAt of [undefined, '2000-01-01T00:00:00.000Z', new Date(Date.now() + 3_600_000).toISOString(), 'garbage']) {
      const driver = new FakeDriver();
      const h = harness([driver]);
      run(h, agentAlloc());
      const t = await until('start', () => driver.last());
      await until('running', () => latest(h)?.taskStates.main.state === 'running');
      const started = Date.parse(latest(h)!.taskStates.main.startedAt!);
      const before = Date.now();
      t.exit({ exitCode: 0, ...(finishedAt ? { finishedAt } : {}) });
      const finished = Date.parse((await terminal(h)).taskStates.main.finishedAt!);
      // a time before the start is the start; one in the future, or none, is now
      if (finishedAt?.startsWith('2000')) expect(finished).toBe(started);
      else expect(finished).toBeGreaterThanOrEqual(before);
      expect(finished).toBeLessThanOrEqual(Date.now());
    }
  });

  it("takes the exit's peak and cpu when higher", async () => {
    const driver = new FakeDriver();
    const h = harness([driver]);
    run(h, agentAlloc());
    const t = await until('start', () => driver.last());
    t.usageNow = { memory: 1 * MiB, peakMemory: 2 * MiB, cpuNanos: 1e6 };
    const before = t.usageCalls;
    await until('sampled', () => t.usageCalls > before + 1);
    t.exit({ exitCode: 0, peakMemory: 20 * MiB, cpuNanos: 3e9 });
    expect((await terminal(h)).taskStates.main).toMatchObject({ peakMemory: 20 * MiB, cpuNanos: 3e9 });
  });

  it.each([
    ['with cgroups when the host has them', undefined],
    ['sampled from /proc without cgroups', '/nonexistent-cgroup-root'],
  ])('records the cpu time of a real process, %s', async (_, cgroupRoot) => {
    const h = harness([new ExecDriver({ cgroupRoot })]);
    // busy for a while so there is cpu time to see, sampled or from the cgroup at exit
    run(h, agentAlloc({ task: { command: '/bin/sh', args: ['-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'] } }));
    const u = await terminal(h);
    expect(u.clientStatus).toBe('complete');
    expect(u.taskStates.main.cpuNanos).toBeGreaterThan(0);
  });
});
