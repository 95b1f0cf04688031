/**
 * The health of a task as a pure function of its check results, so every rule
 * (start period, retries, the task's overall health) is tested without
 * processes, sockets or clocks. health-checks.ts feeds it real probe results.
 *
 * Rules:
 * - a check is 'starting' until its first pass, then 'passing';
 * - it is 'failing' after `retries` consecutive failures (from any status);
 * - failures within `startPeriodMs` of the task's start do not count;
 * - the task is 'unhealthy' when any check is failing, 'healthy' when all
 *   pass, and 'starting' otherwise (not every check has passed once yet).
 */
import type { CheckStatus, HealthCheckSpec, TaskState } from '../api/types.js';

export type TaskHealth = NonNullable<TaskState['health']>;

/** what one probe found */
export interface CheckResult {
  ok: boolean;
  output: string;
}

/** task events and reports carry the output: keep it short (the server takes 4 KiB per event message) */
export const CHECK_OUTPUT_LIMIT = 512;

export function trimOutput(s: string): string {
  const t = s.trim();
  return t.length > CHECK_OUTPUT_LIMIT ? `${t.slice(0, CHECK_OUTPUT_LIMIT - 3)}...` : t;
}

export function initialCheckStatus(): CheckStatus {
  return { status: 'starting', output: '', consecutiveFailures: 0 };
}

export function initialChecks(specs: readonly HealthCheckSpec[]): Record<string, CheckStatus> {
  return Object.fromEntries(specs.map((c) => [c.name, initialCheckStatus()]));
}

/**
 * @param at epoch ms of the probe
 * @param startedAt epoch ms the task (this run of it) started
 */
export function nextCheckStatus(prev: CheckStatus, spec: HealthCheckSpec, result: CheckResult, at: number, startedAt: number): CheckStatus {
  const base = { output: trimOutput(result.output), lastCheckAt: new Date(at).toISOString() };
  if (result.ok) return { ...base, status: 'passing', consecutiveFailures: 0 };
  // a task still warming up may fail freely; the count starts once the grace is over
  if (at - startedAt < spec.startPeriodMs) return { ...base, status: prev.status, consecutiveFailures: prev.consecutiveFailures };
  const consecutiveFailures = prev.consecutiveFailures + 1;
  const status = consecutiveFailures >= Math.max(1, spec.retries) ? 'failing' : prev.status;
  return { ...base, status, consecutiveFailures };
}

export function taskHealth(specs: readonly HealthCheckSpec[], checks: Readonly<Record<string, CheckStatus>>): TaskHealth {
  const statuses = specs.map((c) => checks[c.name]?.status ?? 'starting');
  if (statuses.includes('failing')) return 'unhealthy';
  return statuses.every((s) => s === 'passing') ? 'healthy' : 'starting';
}

export interface HealthUpdate {
  checks: Record<string, CheckStatus>;
  health: TaskHealth;
  /** a check's status or the task's health changed: worth reporting (a repeated pass is not) */
  changed: boolean;
  /** this check has just turned failing */
  turnedFailing: boolean;
}

/** One probe result applied to the task's checks; the inputs are left as they are. */
export function applyCheckResult(
  specs: readonly HealthCheckSpec[],
  checks: Readonly<Record<string, CheckStatus>>,
  name: string,
  result: CheckResult,
  at: number,
  startedAt: number,
): HealthUpdate {
  const spec = specs.find((c) => c.name === name);
  if (!spec) throw new Error(`no check named ${name}`);
  const prev = checks[name] ?? initialCheckStatus();
  const next = nextCheckStatus(prev, spec, result, at, startedAt);
  const all = { ...checks, [name]: next };
  const before = taskHealth(specs, checks);
  const health = taskHealth(specs, all);
  return {
    checks: all,
    health,
    changed: next.status !== prev.status || health !== before,
    turnedFailing: next.status === 'failing' && prev.status !== 'failing',
  };
}
