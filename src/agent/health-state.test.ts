import { describe, expect, it } from 'vitest';
import type { CheckStatus, HealthCheckSpec } from '../api/types.js';
import { applyCheckResult, CHECK_OUTPUT_LIMIT, initialChecks, nextCheckStatus, taskHealth, trimOutput } from './health-state.js';

function check(p: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return { name: 'web', type: 'http', port: 8080, path: '/', intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 0, restartOnUnhealthy: true, ...p };
}

const pass = { ok: true, output: 'HTTP 200' };
const fail = { ok: false, output: 'connection refused' };
const T0 = 1_000_000;

/** feeds results one per second after the start and returns every status on the way */
function run(spec: HealthCheckSpec, results: Array<{ ok: boolean; output: string }>, startedAt = T0): CheckStatus[] {
  let s = initialChecks([spec])[spec.name];
  return results.map((r, i) => (s = nextCheckStatus(s, spec, r, startedAt + (i + 1) * 1000, startedAt)));
}

describe('one check', () => {
  it('starts as starting and passes on its first success', () => {
    expect(initialChecks([check()])).toEqual({ web: { status: 'starting', output: '', consecutiveFailures: 0 } });
    const [s] = run(check(), [pass]);
    expect(s).toMatchObject({ status: 'passing', output: 'HTTP 200', consecutiveFailures: 0 });
    expect(s.lastCheckAt).toBe(new Date(T0 + 1000).toISOString());
  });

  it('turns failing after `retries` consecutive failures, not before', () => {
    const statuses = run(check({ retries: 3 }), [pass, fail, fail, fail]);
    expect(statuses.map((s) => s.status)).toEqual(['passing', 'passing', 'passing', 'failing']);
    expect(statuses.map((s) => s.consecutiveFailures)).toEqual([0, 1, 2, 3]);
    expect(statuses[3].output).toBe('connection refused');
  });

  it('a pass in between resets the count', () => {
    const statuses = run(check({ retries: 2 }), [fail, pass, fail, pass, fail, fail]);
    expect(statuses.map((s) => s.status)).toEqual(['starting', 'passing', 'passing', 'passing', 'passing', 'failing']);
  });

  it('a check that never passed can still fail', () => {
    const statuses = run(check({ retries: 2 }), [fail, fail]);
    expect(statuses.map((s) => s.status)).toEqual(['starting', 'failing']);
  });

  it('recovers from failing on the next pass', () => {
    const statuses = run(check({ retries: 1 }), [fail, pass]);
    expect(statuses.map((s) => s.status)).toEqual(['failing', 'passing']);
  });

  it('does not count failures within the start period, but takes a pass in it', () => {
    // probes at +1s .. +5s; the start period covers the first 3 s
    const statuses = run(check({ retries: 2, startPeriodMs: 3000 }), [fail, fail, fail, fail, fail]);
    expect(statuses.map((s) => s.consecutiveFailures)).toEqual([0, 0, 1, 2, 3]);
    expect(statuses.map((s) => s.status)).toEqual(['starting', 'starting', 'starting', 'failing', 'failing']);
    expect(statuses[0].output).toBe('connection refused'); // still shown, to tell why it is not up yet

    const early = run(check({ startPeriodMs: 10_000 }), [pass]);
    expect(early[0].status).toBe('passing');
  });

  it('keeps outputs short', () => {
    const long = 'x'.repeat(CHECK_OUTPUT_LIMIT * 3);
    expect(trimOutput(`  ${long}\n`).length).toBe(CHECK_OUTPUT_LIMIT);
    expect(trimOutput(' ok \n')).toBe('ok');
    const [s] = run(check(), [{ ok: false, output: long }]);
    expect(s.output.length).toBe(CHECK_OUTPUT_LIMIT);
  });
});

describe('the task', () => {
  const specs = [check({ name: 'web', retries: 1 }), check({ name: 'db', type: 'tcp', retries: 1 })];

  it('is starting until every check passed once, healthy while all pass, unhealthy when one fails', () => {
    let checks = initialChecks(specs);
    expect(taskHealth(specs, checks)).toBe('starting');

    let u = applyCheckResult(specs, checks, 'web', pass, T0, T0);
    expect(u).toMatchObject({ health: 'starting', changed: true, turnedFailing: false });
    checks = u.checks;

    u = applyCheckResult(specs, checks, 'db', pass, T0, T0);
    expect(u).toMatchObject({ health: 'healthy', changed: true });
    checks = u.checks;

    u = applyCheckResult(specs, checks, 'db', fail, T0, T0);
    expect(u).toMatchObject({ health: 'unhealthy', changed: true, turnedFailing: true });
    expect(u.checks.db.status).toBe('failing');
    expect(u.checks.web.status).toBe('passing');
    checks = u.checks;

    u = applyCheckResult(specs, checks, 'db', fail, T0, T0);
    expect(u).toMatchObject({ health: 'unhealthy', changed: false, turnedFailing: false });
    checks = u.checks;

    u = applyCheckResult(specs, checks, 'db', pass, T0, T0);
    expect(u).toMatchObject({ health: 'healthy', changed: true });
  });

  it('does not call a repeated pass or an uncounted failure a change', () => {
    let checks = applyCheckResult(specs, initialChecks(specs), 'web', pass, T0, T0).checks;
    expect(applyCheckResult(specs, checks, 'web', pass, T0 + 1000, T0).changed).toBe(false);
    const three = [check({ name: 'web', retries: 3 })];
    checks = applyCheckResult(three, initialChecks(three), 'web', pass, T0, T0).checks;
    const u = applyCheckResult(three, checks, 'web', fail, T0 + 1000, T0);
    expect(u.changed).toBe(false);
    expect(u.checks.web.consecutiveFailures).toBe(1);
  });

  it('leaves its inputs as they are', () => {
    const checks = initialChecks(specs);
    const copy = structuredClone(checks);
    applyCheckResult(specs, checks, 'web', fail, T0, T0);
    expect(checks).toEqual(copy);
  });

  it('counts a check with no status yet as starting', () => {
    expect(taskHealth(specs, {})).toBe('starting');
    expect(() => applyCheckResult(specs, {}, 'nope', pass, T0, T0)).toThrow(/no check named nope/);
  });
});
