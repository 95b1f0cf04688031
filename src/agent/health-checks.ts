/**
 * Runs the health checks of one running task: each check probes every
 * intervalMs (the first probe after one interval, like Docker, so a task is
 * not marked down before it had a chance to listen), bounded by timeoutMs.
 * Results go through the pure rules of health-state.ts; only changes of a
 * check's status or of the task's health are handed to the owner, so a task
 * that keeps passing costs no reports.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { CheckStatus, HealthCheckSpec } from '../api/types.js';
import type { RunningTask } from '../drivers/driver.js';
import { errorMessage, sleep } from './backoff.js';
import { applyCheckResult, initialChecks, taskHealth, type CheckResult, type TaskHealth } from './health-state.js';

/** how much of an http response body is read into the check output */
const BODY_LIMIT = 1024;

export type ProbeTarget = Pick<RunningTask, 'address' | 'exec'>;

export interface HealthCheckerOptions {
  checks: readonly HealthCheckSpec[];
  task: ProbeTarget;
  /** epoch ms this run of the task started: the start period counts from it */
  startedAt: number;
  /** statuses to go on from (a re-attached task keeps what it had); fresh ones otherwise */
  initial?: Record<string, CheckStatus>;
  /** a check's status or the task's health changed; the new view is given */
  onChange(checks: Record<string, CheckStatus>, health: TaskHealth): void;
  /** a check has just turned failing */
  onFailing(check: HealthCheckSpec, status: CheckStatus): void;
  /** tests replace the network probes */
  probe?: (check: HealthCheckSpec, task: ProbeTarget) => Promise<CheckResult>;
  now?: () => number;
}

export class HealthChecker {
  private readonly abort = new AbortController();
  private checks: Record<string, CheckStatus>;
  private loops: Promise<void>[] = [];

  constructor(private readonly opts: HealthCheckerOptions) {
    const fresh = initialChecks(opts.checks);
    this.checks = { ...fresh, ...pick(opts.initial ?? {}, Object.keys(fresh)) };
  }

  get health(): TaskHealth {
    return taskHealth(this.opts.checks, this.checks);
  }

  get statuses(): Record<string, CheckStatus> {
    return this.checks;
  }

  start(): void {
    if (this.loops.length > 0 || this.abort.signal.aborted) return;
    this.loops = this.opts.checks.map((c) => this.loop(c));
  }

  /** no probe result is taken after this; resolves when every probe in flight has ended */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async loop(check: HealthCheckSpec): Promise<void> {
    const signal = this.abort.signal;
    const probe = this.opts.probe ?? runProbe;
    const now = this.opts.now ?? Date.now;
    while (await sleep(Math.max(1, check.intervalMs), signal)) {
      let result: CheckResult;
      try {
        result = await withTimeout(probe(check, this.opts.task), check.timeoutMs + 1000, `check timed out after ${check.timeoutMs} ms`);
      } catch (err) {
        result = { ok: false, output: errorMessage(err) };
      }
      if (signal.aborted) return;
      const u = applyCheckResult(this.opts.checks, this.checks, check.name, result, now(), this.opts.startedAt);
      this.checks = u.checks;
      if (u.changed) this.opts.onChange(this.checks, u.health);
      if (u.turnedFailing) this.opts.onFailing(check, this.checks[check.name]);
    }
  }
}

function pick<T>(o: Record<string, T>, keys: string[]): Record<string, T> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

/** a last guard for a driver whose exec ignores its timeout: the probe loop must go on */
function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** One probe of one check against the task, by its type. */
export async function runProbe(check: HealthCheckSpec, task: ProbeTarget): Promise<CheckResult> {
  if (check.type === 'command') {
    if (!task.exec) return { ok: false, output: 'this driver cannot run command checks' };
    const r = await task.exec(check.command ?? '', check.args ?? [], check.timeoutMs);
    return { ok: r.exitCode === 0, output: r.output.trim() || `exit code ${r.exitCode}` };
  }
  const host = task.address ? await task.address() : '127.0.0.1';
  if (!host) return { ok: false, output: 'the task has no network address yet' };
  if (check.port === undefined) return { ok: false, output: `an ${check.type} check needs a port` };
  return check.type === 'http'
    ? httpProbe(host, check.port, check.path ?? '/', check.expectStatus, check.timeoutMs)
    : tcpProbe(host, check.port, check.timeoutMs);
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** GET with no connection reuse: every probe is a fresh connection, as a client of the task would make */
export function httpProbe(host: string, port: number, path: string, expectStatus: number | undefined, timeoutMs: number): Promise<CheckResult> {
  const url = `http://${hostPort(host, port)}${path}`;
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, output: `GET ${url}: no answer within ${timeoutMs} ms` }), timeoutMs);
    const req = request(url, { method: 'GET', agent: false, headers: { 'user-agent': 'baton-health-check', connection: 'close' } }, (res) => {
      const status = res.statusCode ?? 0;
      const ok = expectStatus !== undefined ? status === expectStatus : status >= 200 && status < 300;
      let body = '';
      const finish = (): void => {
        const text = body.trim().split('\n')[0] ?? '';
        const want = expectStatus !== undefined ? ` (expected ${expectStatus})` : ok ? '' : ' (expected 2xx)';
        done({ ok, output: `HTTP ${status}${want}${text ? `: ${text}` : ''}` });
      };
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length >= BODY_LIMIT) finish();
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    req.on('error', (err) => done({ ok: false, output: `GET ${url}: ${errorMessage(err)}` }));
    req.end();
  });
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  const where = hostPort(host, port);
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (r: CheckResult): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, output: `connect ${where}: no answer within ${timeoutMs} ms` }), timeoutMs);
    sock.once('connect', () => done({ ok: true, output: `connected to ${where}` }));
    sock.once('error', (err) => done({ ok: false, output: `connect ${where}: ${errorMessage(err)}` }));
  });
}
