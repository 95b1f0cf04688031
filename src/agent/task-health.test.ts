/**
 * Health checks through the task runner, on the fake driver: health reported
 * as it changes, a task that turns unhealthy killed and restarted by its
 * restart policy (and the alloc failed when the policy gives up), and one whose
 * check does not ask for restarts left running as unhealthy.
 */
import { describe, expect, it } from 'vitest';
import type { AllocStatusUpdate, HealthCheckSpec } from '../api/types.js';
import { FakeDriver } from './fake-driver.js';
import { agentAlloc, harness, latest, run, terminal, until, useRunnerFixture } from './task-runner.fixture.js';

useRunnerFixture();

function check(p: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return {
    name: 'alive',
    type: 'command',
    command: '/bin/check',
    args: ['-q'],
    intervalMs: 2,
    timeoutMs: 500,
    retries: 2,
    startPeriodMs: 0,
    restartOnUnhealthy: true,
    ...p,
  };
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
    const firstOfRun = await until('the new run reported', () =>
      h.reports.find((u) => u.taskStates.main?.restarts === 1 && u.taskStates.main.state === 'running'),
    );
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
